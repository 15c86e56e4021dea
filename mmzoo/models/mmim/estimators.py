"""MMIM's mutual-information estimators: layers of the model, off its graph.

- `estimators["text_audio"]`, `estimators["text_video"]`: `GaussianPredictor`s
  q(h_y | h_x) of the Barber-Agakov bounds (trained in stage 1 only).
- `entropy_projections[y]`: Dense + tanh to `entropy_dim` (default d // 4, as
  the reference's `entropy_prj`), fixed at its Glorot-normal initialisation:
  in the reference it sits in the stage-1 optimizer but stage 1 never
  computes the entropy, so it never trains; we make that explicit
  (`trainable=False`).
- `entropy_estimators[y]`: `MixtureEntropyEstimator`s of H(h_y).
- `cpc[m]`: `CPCPredictor`s G(z) of each modality from the fusion z.

Every layer is built here, so its weights exist before `fit` traces and are
saved and loaded with the model.
"""

import keras

from mmzoo.losses import CPCPredictor, GaussianPredictor, MixtureEntropyEstimator

MODALITIES = ("text", "audio", "video")
PAIRS = (("text", "audio"), ("text", "video"))


def build_estimators(
    dims,
    fusion_units,
    estimator_units=None,
    entropy_dim=None,
    entropy_memory_size=32,
    entropy_jitter=1e-3,
    cpc_units=None,
):
    """Four dicts of built layers: estimators, projections, entropies, cpc.

    Args:
        dims: dict. Modality -> representation size.
        fusion_units: int. Size of the fusion representation z.
        estimator_units: list of int, optional. Hidden widths of q(y|x)
            (default one layer of the target's width, as the reference).
        entropy_dim: int, optional. Width of the entropy projection.
        entropy_memory_size, entropy_jitter: see `MixtureEntropyEstimator`.
        cpc_units: list of int, optional. Hidden widths of G (default linear).
    """
    estimators, projections, entropies, cpc = {}, {}, {}, {}
    for x, y in PAIRS:
        estimator = GaussianPredictor(
            estimator_units or [dims[y]], dims[y], name=f"estimator_{x}_{y}"
        )
        estimator.build((None, dims[x]))
        estimators[f"{x}_{y}"] = estimator
        width = entropy_dim or max(1, dims[y] // 4)
        projections[y] = keras.layers.Dense(
            width,
            activation="tanh",
            kernel_initializer="glorot_normal",
            trainable=False,
            name=f"entropy_projection_{y}",
        )
        projections[y].build((None, dims[y]))
        entropies[y] = MixtureEntropyEstimator(
            entropy_memory_size, entropy_jitter, name=f"entropy_{y}"
        )
        entropies[y].build((None, width))
    for m in MODALITIES:
        cpc[m] = CPCPredictor(dims[m], hidden_units=cpc_units, name=f"cpc_{m}")
        cpc[m].build((None, fusion_units))
    return estimators, projections, entropies, cpc
