"""The GMU paper's synthetic bimodal task.

Generating process (Arevalo et al. 2017, section 4.1): a class c ~ Bernoulli(0.5)
and a switch m ~ Bernoulli(0.5). When m = 0 the visual modality carries the class
(mean 1 for c = 0, 8 for c = 1) and the textual one is noise (mean 10); when m = 1
the textual modality carries it (mean 13 or 19) and the visual one is noise (mean
17). Each value is Gaussian with standard deviation `sigma`. Both modalities are
centred by the fixed mean of the generating process, so every split shares one
centring and nothing leaks between splits.
"""

import numpy as np

from mmzoo.data.base import MultimodalData, register_source

VISUAL_MEANS = (1.0, 8.0)
VISUAL_NOISE_MEAN = 17.0
TEXTUAL_MEANS = (13.0, 19.0)
TEXTUAL_NOISE_MEAN = 10.0
# E[x] under the process: 0.5 * signal mean (averaged over c) + 0.5 * noise mean.
VISUAL_CENTRE = 0.5 * np.mean(VISUAL_MEANS) + 0.5 * VISUAL_NOISE_MEAN
TEXTUAL_CENTRE = 0.5 * np.mean(TEXTUAL_MEANS) + 0.5 * TEXTUAL_NOISE_MEAN

_SPLIT_OFFSETS = {"train": 0, "val": 1, "test": 2}


def generate(num_samples, sigma=1.0, seed=0):
    """Draw `num_samples` from the process; returns (visual, textual, c, m)."""
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 2, num_samples)
    m = rng.integers(0, 2, num_samples)
    visual_mean = np.where(m == 0, np.take(VISUAL_MEANS, c), VISUAL_NOISE_MEAN)
    textual_mean = np.where(m == 1, np.take(TEXTUAL_MEANS, c), TEXTUAL_NOISE_MEAN)
    visual = rng.normal(visual_mean, sigma) - VISUAL_CENTRE
    textual = rng.normal(textual_mean, sigma) - TEXTUAL_CENTRE
    return (
        visual[:, None].astype("float32"),
        textual[:, None].astype("float32"),
        c.astype("int32"),
        m.astype("int32"),
    )


@register_source("synthetic")
def load_synthetic(
    split, data_dir, seed, num_train=2000, num_val=500, num_test=1000, sigma=1.0
):
    """Seeded draws per split: (seed, split) fixes the samples; no files read."""
    sizes = {"train": num_train, "val": num_val, "test": num_test}
    for key, value in sizes.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(
                f"`num_{key}` must be a positive integer. Received {value!r}"
            )
    if not sigma > 0:
        raise ValueError(f"`sigma` must be positive. Received sigma={sigma!r}")
    splits = list(sizes) if split == "all" else [split]
    parts = [
        generate(sizes[s], sigma, seed=1000 * seed + _SPLIT_OFFSETS[s]) for s in splits
    ]
    visual, textual, c, _ = (np.concatenate(p) for p in zip(*parts))
    return MultimodalData(
        features={"textual": textual, "visual": visual},
        labels=c,
        num_classes=2,
    )
