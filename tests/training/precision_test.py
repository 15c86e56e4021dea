"""Every zoo model trains under mixed precision (`precision_scope`).

Each zoo config, shrunk by overrides where its defaults are slow to build, is
built and compiled under `mixed_bfloat16` and trained 2 steps of batch 4 on
synthetic inputs of its specs (no data set needed): the losses are finite, every
variable is float32, some layer computes in bfloat16 (the policy took effect)
and every output (probabilities, logits, latents...) is float32. The training
steps run eagerly: the dtypes are those of the traced step, without the tracing
time. `mixed_float16` (loss scaling) is checked on gmu and mvae, and a
`mixed_bfloat16` model saves to `.keras` and reloads (safe mode) with the same
predictions and per-layer policies.
"""

import tempfile
from pathlib import Path

import keras
import numpy as np
import pytest

import mmzoo
from mmzoo.export import load_keras_model
from mmzoo.testing.offline_encoders import offline_overrides
from mmzoo.training.scale import precision_scope

BATCH = 4
# Tiny local encoders for the configs that name pretrained downloads.
ENCODERS_DIR = Path(tempfile.mkdtemp(prefix="mmzoo-precision-encoders-"))
CAPTION_WORDS = ["startseq", "endseq"] + [f"w{i}" for i in range(20)]
TEXT_WORDS = [f"word{i}" for i in range(20)]

_TINY_MVAE = {
    "latent_dim": 4,
    "hidden_units": [8],
    "conv_filters": [4, 4],
    "classifier_units": [8],
}
# Overrides that keep the slow builds small (architecture and code paths kept).
TINY = {
    "mvae": {**_TINY_MVAE, "subsets": "sampled", "num_random_subsets": 1},
    "mvae_mnist": _TINY_MVAE,
    "mmim": {
        "text_encoder": {
            "num_layers": 1,
            "num_heads": 1,
            "hidden_dim": 8,
            "intermediate_dim": 8,
            "sequence_length": 8,
        },
        "audio_encoder": {"units": [4], "output_dim": 4},
        "video_encoder": {"units": [4], "output_dim": 4},
        "fusion_units": 8,
        "entropy_memory_size": 4,
    },
    "captioner": {
        "vocabulary": CAPTION_WORDS,
        "embedding_dim": 8,
        "attention_dim": 8,
        "max_length": 6,
    },
}
TINY["captioner_hub"] = TINY["captioner"]


def _overrides(name):
    config = mmzoo.load_config(name).config
    overrides = offline_overrides(name, ENCODERS_DIR)
    overrides |= {
        k: {**config[k], **v} if isinstance(v, dict) else v
        for k, v in TINY.get(name, {}).items()
    }
    if name == "mmim":
        from mmzoo.models.mmim.text import build_vocabulary

        overrides["vocabulary"] = build_vocabulary(TEXT_WORDS)
    return overrides


def _inputs(model, n, seed=0):
    """Random inputs of the model's specs and labels (as the data sources give)."""
    rng = np.random.default_rng(seed)
    kinds = getattr(model, "modality_types", None) or {}
    x = {}
    for key, spec in model.input.items():
        shape = (n,) + tuple(spec.shape[1:])
        if spec.dtype == "string":
            words = CAPTION_WORDS[2:] if key == "caption" else TEXT_WORDS
            x[key] = np.asarray(
                [" ".join(rng.choice(words, 4)) for _ in range(n)], object
            )
        elif key == "presence":
            x[key] = np.ones(shape, "float32")
        elif key == "image" or kinds.get(key) == "image":
            high = 255.0 if len(shape) == 4 else 1.0  # captioner pixels / MVAE
            x[key] = rng.uniform(0, high, shape).astype("float32")
        elif kinds.get(key) == "label":
            x[key] = np.eye(shape[-1], dtype="float32")[rng.integers(0, shape[-1], n)]
        else:
            x[key] = rng.normal(size=shape).astype("float32")
    if "caption" in x:
        return x, x["caption"]
    return x, rng.integers(0, getattr(model, "num_classes", 2), n).astype("int32")


def _dataset(x, y):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)


def _train(name, precision, steps=2):
    with precision_scope(precision):
        model = mmzoo.build(name, **_overrides(name))
    assert keras.config.dtype_policy().name == "float32"  # restored
    model.run_eagerly = True
    x, y = _inputs(model, BATCH * steps)
    history = model.fit(_dataset(x, y), epochs=1, verbose=0)
    return model, x, history.history


def _float_dtypes(variables):
    return {v.path: v.dtype for v in variables if "float" in str(v.dtype)}


@pytest.mark.parametrize("name", mmzoo.list_models())
def test_mixed_bfloat16_trains(name):
    model, x, history = _train(name, "mixed_bfloat16")

    for key, values in history.items():
        assert np.all(np.isfinite(values)), f"{name}: {key} = {values}"
    assert np.isfinite(history["loss"][-1])

    variables = list(model.variables) + list(model.optimizer.variables)
    not_f32 = {p: d for p, d in _float_dtypes(variables).items() if d != "float32"}
    assert not not_f32, f"{name}: variables not float32: {not_f32}"
    compute = {layer.compute_dtype for layer in model._flatten_layers()}
    assert "bfloat16" in compute, f"{name}: nothing computes in bfloat16"

    outputs = model({k: v[:BATCH] for k, v in x.items()}, training=False)
    for key, value in outputs.items():
        assert value.dtype == "float32", f"{name}: output {key!r} is {value.dtype}"
        assert np.all(np.isfinite(np.asarray(value))), f"{name}: output {key!r}"
    prediction = np.asarray(outputs[model.prediction_output])
    if model.prediction_output == "probabilities":
        np.testing.assert_allclose(prediction.sum(-1), 1.0, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["gmu", "mvae"])
def test_mixed_float16_loss_scaling(name):
    # Dynamic loss scaling starts at 2**15: MVAE's loss (summed pixel
    # log-likelihoods, ~1e3-1e4) overflows the float16 gradients at first, so
    # its first ~6 steps are skipped while the scale halves; then it trains.
    model, _, history = _train(name, "mixed_float16", steps=10)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert np.all(np.isfinite(history["loss"])), history["loss"]
    scale = float(model.optimizer.dynamic_scale)
    assert np.isfinite(scale) and scale >= 1.0
    assert int(model.optimizer.iterations) >= 1, "every step was skipped"
    for v in model.trainable_variables:
        assert v.dtype == "float32"
        assert np.all(np.isfinite(np.asarray(v))), v.path


def _policies(model):
    """(layer class, dtype policy) of every layer, in traversal order."""
    return [
        (type(layer).__name__, layer.dtype_policy.name)
        for layer in model._flatten_layers()
    ]


@pytest.mark.parametrize("name", ["gmu_mosi", "late", "mvae", "mmim", "captioner"])
def test_mixed_bfloat16_keras_round_trip(name, tmp_path):
    model, x, _ = _train(name, "mixed_bfloat16")
    feed = {k: v[:BATCH] for k, v in x.items()}
    expected = model(feed, training=False)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = load_keras_model(path)  # safe mode, global policy float32
    assert _policies(reloaded) == _policies(model)
    actual = reloaded(feed, training=False)
    assert set(actual) == set(expected)
    for key in expected:
        np.testing.assert_allclose(
            np.asarray(actual[key]),
            np.asarray(expected[key]),
            rtol=1e-6,
            atol=1e-6,
            err_msg=f"{name}: output {key!r}",
        )
