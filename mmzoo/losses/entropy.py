"""Entropy of Gaussians and of MMIM's two-component Gaussian mixture.

MMIM (Han, Chen, Poria, EMNLP 2021) needs the entropy H(Y) of a modality
representation for its Barber-Agakov lower bound `I(X;Y) >= H(Y) + E[log q(y|x)]`.
It models Y as a mixture of two Gaussians, one per sentiment group (positive and
negative labels), each fitted to the samples of that group in the current batch
and a memory of recent samples. Log-determinants use a float32 Cholesky
factorisation whatever the input dtype.

References:
    Han, Chen, Poria. "Improving Multimodal Fusion with Hierarchical Mutual
    Information Maximization for Multimodal Sentiment Analysis", EMNLP 2021,
    arXiv:2109.00412. Reference code: github.com/declare-lab/Multimodal-Infomax
    (`src/modules/encoders.py`, class `MMILB`; memory in `src/solver.py`).
"""

import math

import keras
from keras import ops

_LOG_2_PI_E = math.log(2.0 * math.pi) + 1.0
# The jitter is at least this fraction of trace(S) (see `_weighted_gaussian`).
RELATIVE_JITTER_FLOOR = 1e-5


def _f32(x):
    return ops.cast(x, "float32")


def _check_jitter(jitter):
    if not isinstance(jitter, (int, float)) or isinstance(jitter, bool) or jitter < 0:
        raise ValueError(
            f"`jitter` must be a non-negative float. Received: jitter={jitter!r}"
        )
    return float(jitter)


def _logdet_cholesky(cov):
    """log det of SPD matrices (..., d, d) through a float32 Cholesky factor."""
    chol = ops.cholesky(_f32(cov))
    diagonal = ops.diagonal(chol, axis1=-2, axis2=-1)
    return 2.0 * ops.sum(ops.log(diagonal), axis=-1)


def gaussian_entropy(cov):
    """Differential entropy of N(mu, cov): `0.5 * log det(2 pi e cov)`.

    Args:
        cov: (..., d, d) symmetric positive definite covariance matrices.

    Returns:
        (...) float32 entropies in nats.
    """
    shape = tuple(cov.shape)
    if len(shape) < 2 or (None not in shape[-2:] and shape[-1] != shape[-2]):
        raise ValueError(
            f"`cov` must be (..., d, d) square matrices. Received: cov.shape={shape}"
        )
    d = ops.cast(ops.shape(cov)[-1], "float32")
    return 0.5 * (d * _LOG_2_PI_E + _logdet_cholesky(cov))


def _check_samples(y, flags, name="positive"):
    """(n, d) samples and (n,) or (n, 1) per-sample flags -> float32 (n, d), (n,)."""
    y_shape, f_shape = tuple(y.shape), tuple(flags.shape)
    if len(y_shape) != 2:
        raise ValueError(f"`y` must be (n, d) samples. Received: y.shape={y_shape}")
    column = len(f_shape) == 2 and f_shape[1] == 1
    n, m = y_shape[0], f_shape[0] if f_shape else None
    if not (len(f_shape) == 1 or column) or None not in (n, m) and n != m:
        raise ValueError(
            f"`{name}` must be (n,) flags matching `y` (n, d). Received: "
            f"{name}.shape={f_shape}, y.shape={y_shape}"
        )
    if column:
        flags = ops.reshape(flags, (-1,))
    return _f32(y), _f32(flags)


def _weighted_gaussian(y, weight, jitter):
    """Weighted mean-free covariance (+ jitter) and sample count of one group.

    The covariance S is the biased (divide by n) estimate, as in the reference.
    `jitter * I` is added, with the jitter raised to `1e-5 * trace(S)`
    (stop-gradient) when that is larger: a float32 floor, so the Cholesky
    factorisation stays well conditioned for inputs of any scale (in float32 an
    eigenvalue below ~1e-7 of the largest is rounding noise anyway). An empty
    group yields I (it has weight 0 in the mixture).
    """
    count = ops.sum(weight)
    denominator = ops.where(count > 0, count, 1.0)
    w = weight[:, None]
    mean = ops.sum(w * y, axis=0, keepdims=True) / denominator
    centered = y - mean
    cov = ops.matmul(ops.transpose(centered * w), centered) / denominator
    floor = RELATIVE_JITTER_FLOOR * ops.stop_gradient(ops.trace(cov))
    eye = ops.eye(ops.shape(y)[-1], dtype="float32")
    cov = ops.where(count > 0, cov + ops.maximum(jitter, floor) * eye, eye)
    return cov, count


def weighted_mixture_entropy(y, positive_weight, negative_weight, jitter=1e-3):
    """`mixture_entropy` with explicit 0/1 group memberships.

    A sample with weight 0 in both groups is left out: the reference's split
    (labels > 0, labels < 0, zeros dropped) is
    `weighted_mixture_entropy(y, labels > 0, labels < 0)`, and the unfilled
    memory rows of `MixtureEntropyEstimator` are left out the same way.

    Args:
        y: (n, d) samples.
        positive_weight, negative_weight: (n,) or (n, 1) memberships in {0, 1}.
        jitter: float >= 0. See `mixture_entropy`.

    Returns:
        Scalar float32 entropy estimate in nats.
    """
    jitter = _check_jitter(jitter)
    y, positive_weight = _check_samples(y, positive_weight, "positive_weight")
    y, negative_weight = _check_samples(y, negative_weight, "negative_weight")
    cov_pos, n_pos = _weighted_gaussian(y, positive_weight, jitter)
    cov_neg, n_neg = _weighted_gaussian(y, negative_weight, jitter)
    total = n_pos + n_neg
    total = ops.where(total > 0, total, 1.0)
    weights = ops.stack([n_pos, n_neg]) / total
    entropies = gaussian_entropy(ops.stack([cov_pos, cov_neg]))
    # w log w with 0 log 0 = 0 (an empty group has weight 0 and no term).
    safe = ops.where(weights > 0, weights, 1.0)
    label_entropy = -ops.sum(weights * ops.log(safe))
    return ops.sum(weights * entropies) + label_entropy


def mixture_entropy(y, positive, jitter=1e-3):
    """Upper bound on the entropy of a 2-Gaussian mixture fitted to two groups.

    The samples `y` are split into a positive group (`positive == 1`) and a
    negative group (`positive == 0`). Each group k is fitted by a Gaussian
    N(mu_k, S_k + jitter I) (mean and biased covariance of its samples) and
    weighted by its fraction w_k of the samples. The returned estimate is

        H = sum_k w_k * 0.5 * log det(2 pi e (S_k + jitter I)) - sum_k w_k log w_k,

    the standard upper bound H(Y) <= H(Y|K) + H(K) on the entropy of the
    mixture, with each component replaced by the maximum-entropy Gaussian of the
    same covariance. An empty group has weight 0 and contributes nothing; a
    one-sample group has covariance `jitter * I`. The groups are selected with
    0/1 weights (no boolean indexing), so the function runs under `tf.function`
    and XLA with dynamic batch sizes.

    The reference code computes `H = 0.25 * (logdet(S_pos) + logdet(S_neg))`:
    the same sum with weights fixed at 1/2 whatever the group sizes, without
    the constant `d/2 log(2 pi e)`, the label entropy and a jitter (so it is
    -inf/NaN for a group of fewer than d+1 samples). With balanced groups and
    `jitter -> 0` the two differ by a constant, so their gradients agree; with
    unbalanced groups ours follows the mixture weights. The reference assigns
    labels > 0 to the positive group, labels < 0 to the negative one and drops
    labels == 0: `weighted_mixture_entropy(y, labels > 0, labels < 0)` does the
    same. The reference also projects y (Linear + tanh to d/4) before
    estimating: that is the caller's choice here.

    Args:
        y: (n, d) samples (any float dtype; computed in float32).
        positive: (n,) or (n, 1) group flags in {0, 1} (float, int or bool).
        jitter: float >= 0. Added to each covariance diagonal (at least
            `1e-5 * trace(S_k)`, a float32 floor that only matters for large
            inputs); 0 is the reference's choice, but then a group of a
            single sample (or of constant samples) has a singular covariance
            and the Cholesky factorisation fails.

    Returns:
        Scalar float32 entropy estimate in nats.

    Example:

    >>> import numpy as np
    >>> y = np.zeros((4, 2), "float32")  # one group, every sample equal
    >>> h = mixture_entropy(y, np.ones(4, "float32"), jitter=1.0)
    >>> round(float(h), 4)  # entropy of N(0, I_2): log(2 pi e)
    2.8379
    """
    y, positive = _check_samples(y, positive)
    return weighted_mixture_entropy(y, positive, 1.0 - positive, jitter)


@keras.saving.register_keras_serializable(package="mmzoo")
class MixtureEntropyEstimator(keras.layers.Layer):
    """MMIM's entropy estimate H(Y) over a memory of recent samples.

    Keeps the last `memory_size` samples (detached) with their group flags, as
    the reference code keeps the (projected) samples of its previous batch
    (`mem_size = 1` batch in `solver.py`; it adds `-beta * H` to the loss only
    once that memory is filled), and returns `mixture_entropy` over the
    memory's filled rows plus the current batch (the current batch alone while
    the memory is empty). With `training=True` the memory is then rolled: the
    current batch is appended and only the newest `memory_size` rows are kept
    (a batch larger than `memory_size` keeps its last rows). The memory lives
    in non-trainable float32 variables (`memory`, `memory_positive`) and an int32
    count of filled rows (`memory_count`); updates use concatenate-and-slice and
    0/1 validity weights only, so the layer runs in `model.fit`, `tf.function`
    and under XLA.

    Args:
        memory_size: int > 0. How many past samples to remember.
        jitter: float >= 0. See `mixture_entropy`.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        y: (batch, d) samples.
        positive: (batch,) or (batch, 1) group flags in {0, 1}.
        training: bool. Roll the memory when true.

    Returns:
        Scalar float32 entropy estimate (float32 also under mixed precision).

    Example:

    >>> import numpy as np
    >>> estimator = MixtureEntropyEstimator(memory_size=4)
    >>> y = np.random.default_rng(0).normal(size=(3, 2)).astype("float32")
    >>> _ = estimator(y, np.array([1.0, 0.0, 1.0], "float32"), training=True)
    >>> int(estimator.memory_count.numpy())
    3

    References:
        Han, Chen, Poria. "Improving Multimodal Fusion with Hierarchical Mutual
        Information Maximization for Multimodal Sentiment Analysis", EMNLP 2021.
    """

    def __init__(self, memory_size=32, jitter=1e-3, **kwargs):
        super().__init__(**kwargs)
        if (
            not isinstance(memory_size, int)
            or isinstance(memory_size, bool)
            or memory_size < 1
        ):
            raise ValueError(
                "`memory_size` must be a positive integer. Received: "
                f"memory_size={memory_size!r}"
            )
        self.memory_size = memory_size
        self.jitter = _check_jitter(jitter)

    def build(self, y_shape, positive_shape=None):
        if len(y_shape) != 2 or y_shape[-1] is None:
            raise ValueError(
                "`y` must be (batch, d) with a known d. Received: "
                f"y.shape={tuple(y_shape)}"
            )
        dim = int(y_shape[-1])
        common = dict(
            trainable=False,
            dtype="float32",
            autocast=False,
            aggregation="only_first_replica",
        )
        self.memory = self.add_weight(
            shape=(self.memory_size, dim),
            initializer="zeros",
            name="memory",
            **common,
        )
        self.memory_positive = self.add_weight(
            shape=(self.memory_size,),
            initializer="zeros",
            name="memory_positive",
            **common,
        )
        self.memory_count = self.add_weight(
            shape=(),
            initializer="zeros",
            name="memory_count",
            **{**common, "dtype": "int32"},
        )

    def call(self, y, positive, training=False):
        y, positive = _check_samples(y, positive)
        if y.shape[-1] is not None and y.shape[-1] != self.memory.shape[-1]:
            raise ValueError(
                f"`y` must have {self.memory.shape[-1]} features, as when the "
                f"layer was built. Received: y.shape={tuple(y.shape)}"
            )
        size = self.memory_size
        count = ops.convert_to_tensor(self.memory_count)
        rows = ops.arange(size, dtype="int32")
        valid = ops.concatenate(
            [_f32(rows >= size - count), ops.ones_like(positive)], axis=0
        )
        all_y = ops.concatenate([ops.stop_gradient(_f32(self.memory)), y], axis=0)
        all_positive = ops.concatenate([_f32(self.memory_positive), positive], 0)
        entropy = weighted_mixture_entropy(
            all_y, valid * all_positive, valid * (1.0 - all_positive), self.jitter
        )
        if training:
            batch = ops.cast(ops.shape(y)[0], "int32")
            self.memory.assign(ops.stop_gradient(all_y[-size:]))
            self.memory_positive.assign(all_positive[-size:])
            self.memory_count.assign(ops.minimum(count + batch, size))
        return entropy

    def compute_output_shape(self, y_shape, positive_shape=None):
        return ()

    def get_config(self):
        config = super().get_config()
        config.update({"memory_size": self.memory_size, "jitter": self.jitter})
        return config
