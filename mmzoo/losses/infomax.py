"""MultiModal InfoMax (MMIM) mutual-information terms as `keras.ops` functions.

MMIM maximises two kinds of mutual information:

- between pairs of unimodal representations, with the Barber-Agakov lower bound
  `I(X;Y) >= H(Y) + E[log q(y|x)]`, q a Gaussian predicted from x
  (`GaussianPredictor`, `gaussian_log_likelihood`, `barber_agakov_bound`, and
  H(Y) from `mixture_entropy` / `MixtureEntropyEstimator`);
- between the fusion z and each modality h, with the CPC/InfoNCE loss on a
  prediction G(z) of h (`CPCPredictor`, `info_nce`).

Densities and scores are computed in float32 whatever the input dtype.

References:
    Han, Chen, Poria. "Improving Multimodal Fusion with Hierarchical Mutual
    Information Maximization for Multimodal Sentiment Analysis", EMNLP 2021,
    arXiv:2109.00412. Reference code: github.com/declare-lab/Multimodal-Infomax.
    Barber and Agakov. "The IM Algorithm: A Variational Approach to Information
    Maximization", NeurIPS 2003.
    Oord, Li, Vinyals. "Representation Learning with Contrastive Predictive
    Coding", arXiv:1807.03748.
"""

import math

import keras
from keras import ops

_LOG_2_PI = math.log(2.0 * math.pi)
LOGVAR_RANGE = (-30.0, 30.0)


def _f32(x):
    return ops.cast(x, "float32")


def _check_same_shape(**tensors):
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    first = next(iter(shapes.values()))
    for shape in shapes.values():
        if (
            len(shape) != len(first)
            or len(shape) < 1
            or any(
                a is not None and b is not None and a != b for a, b in zip(shape, first)
            )
        ):
            received = ", ".join(f"{k}.shape={v}" for k, v in shapes.items())
            raise ValueError(
                f"`{'`, `'.join(shapes)}` must have the same shape (batch, ...). "
                f"Received: {received}"
            )


def gaussian_log_likelihood(y, mu, logvar, include_logvar=True):
    """log N(y; mu, diag(exp(logvar))), summed over every non-batch axis.

        log p = -1/2 * sum_d [(y - mu)^2 / exp(logvar) + logvar + log(2 pi)]

    With `include_logvar=False` the result is the reference code's
    `-(mu - y)**2 / 2. / torch.exp(logvar)` (MMILB.forward), which omits the
    `-1/2 log sigma^2` term and the constant. That is not a log-density: its
    maximum in sigma is at sigma -> infinity, so a q(y|x) trained on it lets
    its variance grow without bound. The default follows the paper (the full
    Gaussian log-likelihood). Computed in float32; `logvar` is clipped to
    [-30, 30] only so that exp stays finite (the clip has zero gradient
    outside that range).

    Args:
        y: (batch, ...) targets.
        mu: (batch, ...) predicted means, same shape.
        logvar: (batch, ...) predicted log-variances, same shape.
        include_logvar: bool. False reproduces the reference code.

    Returns:
        (batch,) float32.

    Example:

    >>> import numpy as np
    >>> zeros = np.zeros((1, 2), "float32")
    >>> round(float(gaussian_log_likelihood(zeros, zeros, zeros)[0]), 4)
    -1.8379
    """
    _check_same_shape(y=y, mu=mu, logvar=logvar)
    y, mu = _f32(y), _f32(mu)
    logvar = ops.clip(_f32(logvar), *LOGVAR_RANGE)
    terms = ops.square(y - mu) * ops.exp(-logvar)
    if include_logvar:
        terms = terms + logvar + _LOG_2_PI
    terms = -0.5 * terms
    rank = len(terms.shape)
    return ops.sum(terms, axis=tuple(range(1, rank))) if rank > 1 else terms


def barber_agakov_bound(y, mu, logvar, entropy=None, include_logvar=True):
    """Barber-Agakov lower bound on I(X;Y): `H(Y) + mean log q(y|x)`.

    Args:
        y: (batch, ...) samples of Y.
        mu, logvar: (batch, ...) parameters of q(y|x) (`GaussianPredictor`).
        entropy: scalar, optional. An estimate of H(Y) (`mixture_entropy`,
            `MixtureEntropyEstimator`); None gives the likelihood term alone
            (the reference's `lld`).
        include_logvar: bool. See `gaussian_log_likelihood`.

    Returns:
        Scalar float32 (to maximise: minimise its negative).
    """
    bound = ops.mean(gaussian_log_likelihood(y, mu, logvar, include_logvar))
    return bound if entropy is None else bound + _f32(entropy)


def _l2_normalize(x):
    # max(., 1e-12) keeps an all-zero row (and its gradient) finite.
    norm2 = ops.sum(ops.square(x), axis=-1, keepdims=True)
    return x / ops.sqrt(ops.maximum(norm2, 1e-12))


def info_nce(z_pred, h, temperature=1.0):
    """CPC / InfoNCE loss between predictions G(z) and representations h.

    Both are L2-normalised; `scores = z_pred @ h^T / temperature` and

        loss = mean_i [ -scores_ii + logsumexp_j scores_ij ],

    i.e. the cross-entropy of picking h_i among the batch for z_pred_i. The
    reference code (class CPC) uses temperature 1 and takes the logsumexp the
    other way round (each h_i against every prediction, `logsumexp_j
    scores_ji`); both are InfoNCE bounds `I >= log(batch) - loss`.

    Args:
        z_pred: (batch, d) predictions of h from the fusion (`CPCPredictor`).
        h: (batch, d) modality representations.
        temperature: float > 0 (or scalar tensor).

    Returns:
        Scalar float32 loss (to minimise).

    Example:

    >>> import numpy as np
    >>> eye = np.eye(2, dtype="float32")
    >>> round(float(info_nce(eye, eye)), 4)  # -1 + log(e + 1)
    0.3133
    """
    if isinstance(temperature, (int, float)) and not temperature > 0:
        raise ValueError(
            f"`temperature` must be positive. Received: temperature={temperature!r}"
        )
    if len(z_pred.shape) != 2:
        raise ValueError(
            f"`z_pred` must be (batch, d). Received: z_pred.shape={z_pred.shape}"
        )
    _check_same_shape(z_pred=z_pred, h=h)
    z_pred, h = _l2_normalize(_f32(z_pred)), _l2_normalize(_f32(h))
    scores = ops.matmul(z_pred, ops.transpose(h)) / _f32(temperature)
    positive = ops.sum(z_pred * h, axis=-1) / _f32(temperature)
    return ops.mean(ops.logsumexp(scores, axis=-1) - positive)


def _hidden_list(hidden_units, name):
    units = [hidden_units] if isinstance(hidden_units, int) else hidden_units
    if not isinstance(units, (list, tuple)) or any(
        not isinstance(u, int) or isinstance(u, bool) or u < 1 for u in units
    ):
        raise ValueError(
            f"`{name}` must be a positive int or a list of them. Received: "
            f"{name}={hidden_units!r}"
        )
    return list(units)


def _check_units(value, name):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}"
        )
    return value


def _activation_name(activation):
    """A serialisable form (a name for built-ins) of an activation."""
    return keras.activations.serialize(keras.activations.get(activation))


def _mlp(layer, hidden, output_dim, activation, dropout, name):
    """Dense(h_i, activation) [+ Dropout] ... Dense(output_dim), one Sequential."""
    policy = layer.dtype_policy
    blocks = []
    for i, units in enumerate(hidden):
        blocks.append(keras.layers.Dense(units, activation, dtype=policy))
        if dropout:
            blocks.append(keras.layers.Dropout(dropout, dtype=policy))
    blocks.append(keras.layers.Dense(output_dim, dtype=policy))
    return keras.Sequential(blocks, name=name)


@keras.saving.register_keras_serializable(package="mmzoo")
class GaussianPredictor(keras.layers.Layer):
    """q(y|x) = N(mu(x), diag(exp(logvar(x)))): MMIM's variational predictor.

    Two MLPs of the same shape read x, one giving `mu` and one `logvar` (as the
    reference's `MMILB.mlp_mu` / `mlp_logvar`: Dense, activation, Dense; the
    logvar head has no output activation, `gaussian_log_likelihood` clips it).

    Args:
        hidden_units: int or list of ints. Hidden layer sizes of each MLP.
        output_dim: int. Size of y.
        dropout: float in [0, 1). Dropout after each hidden layer.
        activation: str. Hidden activation (the reference uses ReLU).
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        x: (batch, ..., x_dim) inputs.
        training: bool. Applies dropout.

    Returns:
        (mu, logvar), each (batch, ..., output_dim), in the compute dtype.

    Example:

    >>> import numpy as np
    >>> mu, logvar = GaussianPredictor(8, 3)(np.ones((2, 5), "float32"))
    >>> tuple(mu.shape), tuple(logvar.shape)
    ((2, 3), (2, 3))
    """

    def __init__(
        self, hidden_units, output_dim, dropout=0.0, activation="relu", **kwargs
    ):
        super().__init__(**kwargs)
        self.hidden_units = _hidden_list(hidden_units, "hidden_units")
        self.output_dim = _check_units(output_dim, "output_dim")
        if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(
                f"`dropout` must be a float in [0, 1). Received: dropout={dropout!r}"
            )
        self.dropout = float(dropout)
        self.activation = _activation_name(activation)
        mlp_args = (self, self.hidden_units, output_dim, self.activation, dropout)
        self.mu_mlp = _mlp(*mlp_args, name="mu_mlp")
        self.logvar_mlp = _mlp(*mlp_args, name="logvar_mlp")

    def build(self, x_shape):
        self.mu_mlp.build(tuple(x_shape))
        self.logvar_mlp.build(tuple(x_shape))

    def call(self, x, training=None):
        return self.mu_mlp(x, training=training), self.logvar_mlp(x, training=training)

    def compute_output_shape(self, x_shape):
        shape = tuple(x_shape[:-1]) + (self.output_dim,)
        return shape, shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_units": self.hidden_units,
                "output_dim": self.output_dim,
                "dropout": self.dropout,
                "activation": self.activation,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="mmzoo")
class CPCPredictor(keras.layers.Layer):
    """G(z): MMIM's prediction of a modality representation from the fusion.

    `Dense(output_dim)` (the reference's `CPC` with one layer), or an MLP
    `Dense(h_1, activation) ... Dense(output_dim)` with `hidden_units`. Feed
    its output and the modality representation to `info_nce`.

    Args:
        output_dim: int. Size of the predicted representation.
        hidden_units: None, int or list of ints. Hidden layer sizes.
        activation: str. Hidden activation (the reference uses tanh).
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        z: (batch, ..., z_dim) fusion representation.

    Returns:
        (batch, ..., output_dim) in the compute dtype.

    Example:

    >>> import numpy as np
    >>> tuple(CPCPredictor(4, hidden_units=8)(np.ones((2, 6), "float32")).shape)
    (2, 4)
    """

    def __init__(self, output_dim, hidden_units=None, activation="tanh", **kwargs):
        super().__init__(**kwargs)
        self.output_dim = _check_units(output_dim, "output_dim")
        self.hidden_units = (
            [] if hidden_units is None else _hidden_list(hidden_units, "hidden_units")
        )
        self.activation = _activation_name(activation)
        self.mlp = _mlp(
            self, self.hidden_units, output_dim, self.activation, 0.0, "mlp"
        )

    def build(self, z_shape):
        self.mlp.build(tuple(z_shape))

    def call(self, z):
        return self.mlp(z)

    def compute_output_shape(self, z_shape):
        return tuple(z_shape[:-1]) + (self.output_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "output_dim": self.output_dim,
                "hidden_units": self.hidden_units or None,
                "activation": self.activation,
            }
        )
        return config
