import keras
from keras import ops

from mmzoo.layers.modality_inputs import (
    check_choice,
    check_positive_int,
    explicit_mask,
    mask_modalities,
    modality_mask,
    shape_list,
    unpack_modalities,
)

BILINEAR_FORMS = ("matrix", "vector", "scalar")


@keras.saving.register_keras_serializable(package="mmzoo")
class BilinearFusion(keras.layers.Layer):
    """Multiplicative interaction of two modalities x (context) and y (input).

    The general multiplicative interaction of Jayakumar et al. (2020):

        z = x^T W y + x^T U + V y + b

    Read as a hypernetwork, x produces the weights of a linear map of y:
    z = W'(x) y + b'(x), W'(x) = x^T W + V, b'(x) = x^T U + b. The three forms
    restrict W'(x):

    - `"matrix"`: full. W (d_x, d_y, units), U (d_x, units), V (d_y, units),
      b (units): z has `units` features.
    - `"vector"`: diagonal W'(x) = diag(x^T W + v), a gating of y:
      z = (x^T W + v) * y + x^T U + b. W, U (d_x, d_y), v, b (d_y,).
    - `"scalar"`: W'(x) = (x^T w + v) I, a scaling of y:
      z = (x^T w + v) y + x^T U + b. w (d_x,), v (1,), U (d_x, d_y), b (d_y,).

    The vector and scalar forms keep y's size (d_y), as in the paper: `units`
    is then left `None` (or must equal d_y).

    Only two modalities are supported (x = the first, y = the second; sorted
    keys for a dict); other counts raise a `ValueError`. Chain layers, or use
    `TensorFusion` / `LowRankFusion`, for more.

    Missing modalities: with `mask` (batch, 2), a missing modality is zeroed.
    This is what the form is built for: without x, z = V y + b (the plain linear
    layer on y); without y, z = x^T U + b; with neither, z = b.

    Args:
        units: int or None. Output size of the matrix form (required there).
        form: str. `"matrix"`, `"vector"` or `"scalar"`.
        kernel_initializer, bias_initializer: initializers of W, U, V and b.
        **kwargs: base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list or dict of 2 tensors (batch, ..., d_x), (batch, ..., d_y)
            with the same leading dimensions.
        mask: optional (batch, 2) tensor of 0/1 or booleans.

    Returns:
        z of shape (batch, ..., units) (matrix) or (batch, ..., d_y).

    Example:

    >>> import numpy as np
    >>> x, y = np.ones((2, 3), "float32"), np.ones((2, 5), "float32")
    >>> tuple(BilinearFusion(4)([x, y]).shape)
    (2, 4)
    >>> tuple(BilinearFusion(form="vector")([x, y]).shape)
    (2, 5)

    References:
        Jayakumar, Czarnecki, Menick, Schwarz, Rae, Osindero, Teh, Harley,
        Pascanu. "Multiplicative Interactions and Where to Find Them." ICLR 2020.
    """

    def __init__(
        self,
        units=None,
        form="matrix",
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_choice(form, "form", BILINEAR_FORMS)
        if units is not None or form == "matrix":
            check_positive_int(units, "units")
        self.units = units
        self.form = form
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _out_size(self, d_y):
        return self.units if self.form == "matrix" else d_y

    def build(self, input_shape):
        shapes = shape_list(input_shape, "BilinearFusion")
        if len(shapes) != 2:
            raise ValueError(
                "BilinearFusion expects exactly 2 modalities in `inputs`. "
                f"Received {len(shapes)}: shapes {shapes}"
            )
        d_x, d_y = int(shapes[0][-1]), int(shapes[1][-1])
        if self.form != "matrix" and self.units not in (None, d_y):
            raise ValueError(
                f"form={self.form!r} keeps the size of y (d_y={d_y}); leave `units` "
                f"None or set it to {d_y}. Received: units={self.units!r}"
            )
        out = self._out_size(d_y)
        w_shape = {"matrix": (d_x, d_y, out), "vector": (d_x, d_y), "scalar": (d_x,)}
        v_shape = {"matrix": (d_y, out), "vector": (d_y,), "scalar": (1,)}
        add = self.add_weight
        init = self.kernel_initializer
        self.w = add(shape=w_shape[self.form], initializer=init, name="w")
        self.u = add(shape=(d_x, out), initializer=init, name="u")
        self.v = add(shape=v_shape[self.form], initializer=init, name="v")
        self.b = add(shape=(out,), initializer=self.bias_initializer, name="b")

    def call(self, inputs, mask=None):
        (x, y), _ = unpack_modalities(inputs, "BilinearFusion", 2, 2)
        m = modality_mask(explicit_mask(mask), 2, "BilinearFusion",
                          self.compute_dtype)
        x, y = mask_modalities([x, y], m)
        if self.form == "matrix":
            z = ops.einsum("...i,ijk,...j->...k", x, self.w, y)
            z = z + ops.matmul(y, self.v)
        elif self.form == "vector":
            z = (ops.matmul(x, self.w) + self.v) * y
        else:
            scale = ops.sum(x * self.w, axis=-1, keepdims=True) + self.v
            z = scale * y
        return z + ops.matmul(x, self.u) + self.b

    def compute_output_shape(self, input_shape):
        shapes = shape_list(input_shape, "BilinearFusion")
        return tuple(shapes[0][:-1]) + (self._out_size(shapes[1][-1]),)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "form": self.form,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
