"""Module 15 -- Quantization: store numbers in 8 bits, compute in integers, measure what it costs.

A float32 number takes 4 bytes; an int8 takes 1. Quantization maps a float range [lo, hi] onto
the 256 integers of int8 with an affine rule and keeps only the integers plus a few float
parameters:

    q = clip(round(x / scale) + zero_point, qmin, qmax)        (quantize, int8)
    x_hat = (q - zero_point) * scale                            (dequantize, float32)

Two schemes, both implemented here:
  * Symmetric: zero_point = 0 and scale = max(|lo|, |hi|) / 127. The integers used are [-127, 127]
    (the choice of this module): -128 is left out so that the grid is the same on both sides of 0
    and negating a value never overflows. Used for weights and biases, which are centred on 0.
  * Asymmetric: the range is first widened to contain 0 (lo <- min(lo, 0), hi <- max(hi, 0)), then
    scale = (hi - lo) / 255 and zero_point = round(-128 - lo / scale) uses all of [-128, 127]. Zero
    is then exactly representable (it quantizes to zero_point and comes back as exactly 0.0), which
    matters because zeros are everywhere (padding, ReLU outputs). Used for activations (ReLU
    outputs are all >= 0: a symmetric scheme would waste half its integers on them).

Inside the representable range every value comes back within scale / 2 (rounding to the nearest
grid point); values outside it are clipped to the nearest end of the range (their error is then
as large as their distance to the range). Scales are stored as float32 and rounded UP from the
exact value, so the whole calibrated range stays representable. A range too narrow for a normal
float32 scale (for instance lo == hi == 0) gets scale 1.0: every value in it is within 1.0 / 2 of 0.

Per-tensor parameters use one (scale, zero_point) pair for the whole array; per-channel
parameters use one pair per slice along an `axis` (e.g. per output column of a weight matrix),
which fits each channel's own range and so loses less precision.

Calibration chooses [lo, hi] from sample values: "minmax" takes the extremes; "percentile" keeps
the central `percentile` per cent of the samples, so that a few outliers do not stretch the scale.

QuantizedLinear multiplies int8 inputs by int8 weights with int32 accumulation and rescales once
per output column; quantize_model swaps every Linear of a model for one, calibrated by running
sample inputs through the float model; model_bytes measures the bytes a model really stores.
"""
from __future__ import annotations

import copy
import numbers

import numpy as np

from tinytorch.core.layers import Linear, Module
from tinytorch.core.tensor import Tensor

INT8_MIN = -128          # smallest int8
INT8_MAX = 127           # largest int8
SYMMETRIC_QMAX = 127     # the symmetric scheme uses [-SYMMETRIC_QMAX, SYMMETRIC_QMAX]
CALIBRATION_METHODS = ("minmax", "percentile")
# |q_x - zero_point| <= 255 and |q_w| <= 127, so one product is at most 255 * 127 = 32385 in size and a
# sum of in_features of them stays below 2**31 (the int32 limit) while in_features <= this bound.
MAX_IN_FEATURES = (2 ** 31 - 1) // ((INT8_MAX - INT8_MIN) * SYMMETRIC_QMAX)


# ---------------------------------------------------------------- argument checking (no solution logic)
def _numbers(x, name: str, owner: str) -> np.ndarray:
    """A Tensor, NumPy array, number or list as an ndarray of int/float numbers, or a TypeError."""
    if isinstance(x, Tensor):
        x = x.data
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (np.ndarray, np.generic, numbers.Real, list, tuple)):
        raise TypeError(f"{owner}: {name} must be a Tensor, NumPy array or numbers, got {type(x).__name__}")
    array = np.asarray(x)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{owner}: {name} must hold integer or float numbers, got dtype {array.dtype}")
    return array


def _no_nan(array: np.ndarray, name: str, owner: str) -> np.ndarray:
    """`array` unchanged, or a ValueError when it holds NaN (a NaN has no place on the int8 grid)."""
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise ValueError(f"{owner}: {name} must not contain NaN, got {int(np.isnan(array).sum())} NaN values")
    return array


def _finite(array: np.ndarray, name: str, owner: str) -> np.ndarray:
    """`array` unchanged, or a ValueError when it holds NaN or an infinity."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{owner}: {name} must be finite, got {int((~np.isfinite(array)).sum())} NaN/inf values")
    return array


def _axis(axis, ndim: int, owner: str) -> int | None:
    """None, or `axis` as a non-negative int < ndim (negative axes count from the end)."""
    if axis is None:
        return None
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{owner}: axis must be None or an integer, got {type(axis).__name__}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{owner}: axis must be in [{-ndim}, {ndim - 1}] for an array with {ndim} dimensions, "
                         f"got axis={axis}")
    return int(axis) % ndim


def _percentile(percentile, owner: str) -> float:
    """`percentile` as a float in (0, 100], or a ValueError."""
    if isinstance(percentile, bool) or not isinstance(percentile, numbers.Real) or not 0.0 < percentile <= 100.0:
        raise ValueError(f"{owner}: percentile must be a number in (0, 100], got {percentile!r}")
    return float(percentile)


def _method(method, owner: str) -> str:
    """`method` if it names a calibration method, else a ValueError listing them."""
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"{owner}: method must be one of {CALIBRATION_METHODS}, got {method!r}")
    return method


def _range(lo, hi, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """lo and hi as float64 arrays of one shape, finite, lo <= hi everywhere."""
    lo = _finite(_numbers(lo, "lo", owner), "lo", owner).astype(np.float64)
    hi = _finite(_numbers(hi, "hi", owner), "hi", owner).astype(np.float64)
    if lo.shape != hi.shape:
        raise ValueError(f"{owner}: lo and hi must have the same shape, got {lo.shape} and {hi.shape}")
    if (lo > hi).any():
        raise ValueError(f"{owner}: expected lo <= hi, got lo={lo} and hi={hi}")
    return lo, hi


def _params(scale, zero_point, axis: int | None, shape: tuple, symmetric: bool,
            owner: str) -> tuple[np.ndarray, np.ndarray]:
    """scale as float32 and zero_point as int8 arrays, checked against the array shape and axis."""
    scale = _numbers(scale, "scale", owner)
    zero_point = _numbers(zero_point, "zero_point", owner)
    expected = () if axis is None else (shape[axis],)
    if axis is None and scale.size == 1:
        scale = scale.reshape(())
    if scale.shape != expected:
        where = "per-tensor (axis=None)" if axis is None else f"per-channel along axis {axis}"
        raise ValueError(f"{owner}: {where} quantization of shape {shape} needs a scale of shape {expected}, "
                         f"got {scale.shape}")
    if not (np.isfinite(scale).all() and (scale > 0).all()):
        raise ValueError(f"{owner}: scale must be positive and finite, got {scale}")
    if zero_point.dtype.kind not in "iu":
        raise TypeError(f"{owner}: zero_point must hold integers, got dtype {zero_point.dtype}")
    if zero_point.size == 1:
        zero_point = np.broadcast_to(zero_point.reshape(()), expected)
    if zero_point.shape != expected:
        raise ValueError(f"{owner}: zero_point must have the scale's shape {expected}, got {zero_point.shape}")
    if ((zero_point < INT8_MIN) | (zero_point > INT8_MAX)).any():
        raise ValueError(f"{owner}: zero_point must lie in [{INT8_MIN}, {INT8_MAX}], got {zero_point}")
    if symmetric and (zero_point != 0).any():
        raise ValueError(f"{owner}: the symmetric scheme has zero_point 0, got {zero_point}")
    return scale.astype(np.float32), zero_point.astype(np.int8)


def _along(param: np.ndarray, axis: int | None, ndim: int) -> np.ndarray:
    """A per-channel parameter of shape (C,) reshaped to broadcast along `axis` of an ndim array."""
    if axis is None:
        return param
    shape = [1] * ndim
    shape[axis] = param.shape[0]
    return param.reshape(shape)


def _input_range(input_range, owner: str) -> tuple[float, float]:
    """(lo, hi) as two finite floats with lo <= hi."""
    if not isinstance(input_range, (tuple, list)) or len(input_range) != 2:
        raise TypeError(f"{owner}: input_range must be a pair (lo, hi), got {input_range!r}")
    lo, hi = _range(np.asarray(input_range[0]).reshape(()), np.asarray(input_range[1]).reshape(()), owner)
    return float(lo), float(hi)


def _batches(calibration_inputs, owner: str) -> list[Tensor]:
    """One Tensor or array, or a non-empty list/tuple of them, as a list of Tensors."""
    items = list(calibration_inputs) if isinstance(calibration_inputs, (list, tuple)) else [calibration_inputs]
    if not items:
        raise ValueError(f"{owner}: calibration_inputs must hold at least one batch, got an empty {type(calibration_inputs).__name__}")
    batches = []
    for item in items:
        if not isinstance(item, (Tensor, np.ndarray)):
            raise TypeError(f"{owner}: calibration_inputs must be Tensors or NumPy arrays, got {type(item).__name__}")
        batches.append(item if isinstance(item, Tensor) else Tensor(item))
    return batches


# ---------------------------------------------------------------- calibration
def calibrate(samples, method: str = "minmax", percentile: float = 99.99,
              axis: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Choose the float range [lo, hi] to quantize from sample values.

    "minmax" takes the smallest and largest sample. "percentile" keeps the central `percentile`
    per cent of the samples: lo = P_{(100 - percentile) / 2} and hi = P_{(100 + percentile) / 2}
    (np.percentile's linear interpolation), so rare outliers fall outside the range and are
    clipped instead of stretching the scale for everyone. percentile=100 equals "minmax".

    Args:
        samples (Tensor | np.ndarray, any shape): sample values (weights, or activations seen on
            calibration data).
        method (str): "minmax" or "percentile".
        percentile (float): in (0, 100]; used by method="percentile" (checked either way).
        axis (int | None): None for one range over all samples (per-tensor); an axis for one range
            per slice along it (per-channel), reducing over every other axis.

    Returns:
        tuple[np.ndarray, np.ndarray]: (lo, hi), float64, shape () per-tensor or
        (samples.shape[axis],) per-channel; lo <= hi.

    Raises:
        TypeError: samples are not numbers; axis is not an integer.
        ValueError: samples are empty or hold NaN/inf; method is unknown; percentile is outside
            (0, 100]; axis is out of range.

    Example:
        >>> lo, hi = calibrate(np.array([[-1.0, 4.0], [2.0, 3.0]]), axis=1)
        >>> lo, hi
        (array([-1.,  3.]), array([2., 4.]))
    """
    ### BEGIN SOLUTION
    x = _finite(_numbers(samples, "samples", "calibrate"), "samples", "calibrate")
    method, percentile = _method(method, "calibrate"), _percentile(percentile, "calibrate")
    axis = _axis(axis, x.ndim, "calibrate")
    if x.size == 0:
        raise ValueError(f"calibrate: samples must not be empty, got shape {x.shape}")
    x = x.astype(np.float64)
    if axis is not None:  # channels first, everything else flattened: reduce over axis 1
        x = np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)
    over = None if axis is None else 1
    if method == "minmax":
        lo, hi = x.min(axis=over), x.max(axis=over)
    else:
        tail = (100.0 - percentile) / 2.0
        lo, hi = np.percentile(x, [tail, 100.0 - tail], axis=over)
    return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    ### END SOLUTION


# ---------------------------------------------------------------- scale and zero point
def _stored_scale(exact: np.ndarray) -> np.ndarray:
    """The float32 scale to store for an exact (float64) scale.

    Rounded UP to the next float32, so the calibrated range stays inside the representable one;
    a scale below the smallest normal float32 (a zero-width range) becomes 1.0: nonzero, safe to
    divide by, and every value of such a range is within 1.0 / 2 of 0.

    Args:
        exact (np.ndarray float64, any shape): the scales (range width / number of steps).

    Returns:
        np.ndarray: float32, same shape, every entry positive and finite.

    Raises:
        ValueError: the range is too wide for a finite float32 scale.
    """
    ### BEGIN SOLUTION
    exact = np.asarray(exact, dtype=np.float64)
    if not np.all(exact <= np.finfo(np.float32).max):
        raise ValueError(f"the range is too wide for a float32 scale, got scale {exact}")
    scale = exact.astype(np.float32)
    scale = np.where(scale.astype(np.float64) < exact, np.nextafter(scale, np.float32(np.inf)), scale)
    return np.where(scale >= np.finfo(np.float32).tiny, scale, np.float32(1.0)).astype(np.float32)
    ### END SOLUTION


def symmetric_params(lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """Scale and zero point of the symmetric scheme: [-m, m] -> [-127, 127], m = max(|lo|, |hi|).

    Args:
        lo (float | np.ndarray): smallest value(s) to represent, shape () or (C,).
        hi (float | np.ndarray): largest value(s), same shape, lo <= hi.

    Returns:
        tuple[np.ndarray, np.ndarray]: (scale float32, zero_point int8), the shape of lo; scale =
        m / 127 rounded up to float32 (1.0 when m is 0); zero_point all 0.

    Raises:
        TypeError: lo or hi are not numbers.
        ValueError: lo > hi, shapes differ, or a bound is NaN/inf.

    Example:
        >>> symmetric_params(-2.0, 1.27)
        (array(0.01574803, dtype=float32), array(0, dtype=int8))
    """
    ### BEGIN SOLUTION
    lo, hi = _range(lo, hi, "symmetric_params")
    scale = _stored_scale(np.maximum(np.abs(lo), np.abs(hi)) / SYMMETRIC_QMAX)
    return scale, np.zeros(scale.shape, dtype=np.int8)
    ### END SOLUTION


def asymmetric_params(lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """Scale and zero point of the asymmetric scheme: [min(lo, 0), max(hi, 0)] -> [-128, 127].

    Widening the range to contain 0 makes 0 exactly representable: it quantizes to zero_point,
    which dequantizes to exactly 0.0.

    Args:
        lo (float | np.ndarray): smallest value(s) to represent, shape () or (C,).
        hi (float | np.ndarray): largest value(s), same shape, lo <= hi.

    Returns:
        tuple[np.ndarray, np.ndarray]: (scale float32, zero_point int8), the shape of lo, with
        scale = (max(hi, 0) - min(lo, 0)) / 255 rounded up to float32 (1.0 for a zero-width range)
        and zero_point = round(-128 - min(lo, 0) / scale), which lies in [-128, 127].

    Raises:
        TypeError: lo or hi are not numbers.
        ValueError: lo > hi, shapes differ, or a bound is NaN/inf.

    Example:
        >>> asymmetric_params(0.0, 2.55)
        (array(0.01, dtype=float32), array(-128, dtype=int8))
    """
    ### BEGIN SOLUTION
    lo, hi = _range(lo, hi, "asymmetric_params")
    lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
    scale = _stored_scale((hi - lo) / (INT8_MAX - INT8_MIN))
    zero_point = np.clip(np.rint(INT8_MIN - lo / scale), INT8_MIN, INT8_MAX)
    return scale, np.asarray(zero_point, dtype=np.int8)
    ### END SOLUTION


# ---------------------------------------------------------------- quantize / dequantize
def quantize(x, scale, zero_point, axis: int | None = None, symmetric: bool = False) -> np.ndarray:
    """Map floats to int8: q = clip(round(x / scale) + zero_point, qmin, 127).

    qmin is -127 for the symmetric scheme and -128 otherwise. Rounding is to the nearest integer
    (halves to even, np.rint). Values beyond the representable range, infinities included, clip
    to its ends.

    Args:
        x (Tensor | np.ndarray, any shape): float (or integer) values.
        scale (float | np.ndarray): positive; shape () per-tensor or (x.shape[axis],) per-channel.
        zero_point (int | np.ndarray): integers in [-128, 127], the shape of scale (or one number);
            0 for the symmetric scheme.
        axis (int | None): None for per-tensor parameters, else the channel axis.
        symmetric (bool): use the symmetric range [-127, 127].

    Returns:
        np.ndarray: int8, the shape of x.

    Raises:
        TypeError: x is not numeric; zero_point is not integer; axis is not an integer.
        ValueError: x holds NaN; axis out of range; scale not positive/finite or of the wrong shape;
            zero_point out of [-128, 127] or nonzero in the symmetric scheme.

    Example:
        >>> quantize(np.array([-1.0, 0.0, 1.0]), 0.01, -28)
        array([-128,  -28,   72], dtype=int8)
    """
    ### BEGIN SOLUTION
    x = _no_nan(_numbers(x, "x", "quantize"), "x", "quantize")
    axis = _axis(axis, x.ndim, "quantize")
    scale, zero_point = _params(scale, zero_point, axis, x.shape, symmetric, "quantize")
    qmin = -SYMMETRIC_QMAX if symmetric else INT8_MIN
    steps = np.rint(x.astype(np.float64) / _along(scale, axis, x.ndim))
    return np.clip(steps + _along(zero_point, axis, x.ndim), qmin, INT8_MAX).astype(np.int8)
    ### END SOLUTION


def dequantize(q, scale, zero_point, axis: int | None = None) -> np.ndarray:
    """Map int8 back to floats: x_hat = (q - zero_point) * scale.

    Args:
        q (np.ndarray int8, any shape): quantized values.
        scale (float | np.ndarray): as in quantize.
        zero_point (int | np.ndarray): as in quantize.
        axis (int | None): None for per-tensor parameters, else the channel axis.

    Returns:
        np.ndarray: float32, the shape of q.

    Raises:
        TypeError: q is not an int8 array; zero_point is not integer.
        ValueError: axis out of range; scale or zero_point invalid for q's shape.

    Example:
        >>> dequantize(np.array([-128, -28, 72], dtype=np.int8), 0.01, -28)
        array([-1.,  0.,  1.], dtype=float32)
    """
    ### BEGIN SOLUTION
    if not isinstance(q, np.ndarray) or q.dtype != np.int8:
        raise TypeError(f"dequantize: q must be a NumPy array of dtype int8, got "
                        f"{type(q).__name__} of dtype {getattr(q, 'dtype', None)}")
    axis = _axis(axis, q.ndim, "dequantize")
    scale, zero_point = _params(scale, zero_point, axis, q.shape, False, "dequantize")
    steps = q.astype(np.float32) - _along(zero_point, axis, q.ndim).astype(np.float32)  # exact small integers
    return (steps * _along(scale, axis, q.ndim)).astype(np.float32)
    ### END SOLUTION


class QuantizedTensor:
    """An int8 array with the scale(s) and zero point(s) that give it meaning.

    Args:
        values (np.ndarray int8, any shape): the quantized integers (stored as given, not copied).
        scale (float | np.ndarray): positive; shape () per-tensor or (values.shape[axis],).
        zero_point (int | np.ndarray): integers in [-128, 127], the shape of scale (or one number).
        axis (int | None): None for per-tensor parameters, else the channel axis.
        symmetric (bool): the symmetric scheme (zero_point 0, values in [-127, 127]).

    Attributes:
        values (np.ndarray int8): the integers.
        scale (np.ndarray float32): shape () or (C,).
        zero_point (np.ndarray int8): shape of scale. Stored even in the symmetric scheme (all 0),
            and counted in nbytes.
        axis (int | None): channel axis, normalized to be non-negative.
        symmetric (bool): which scheme.

    Raises:
        TypeError: values is not an int8 NumPy array.
        ValueError: parameters do not fit values' shape; a symmetric tensor holds -128 or a
            nonzero zero_point.

    Example:
        >>> qt = QuantizedTensor.from_float(np.array([[0.5, -1.0], [2.0, 0.0]]), symmetric=True)
        >>> qt.values.dtype, qt.nbytes
        (dtype('int8'), 9)
    """

    def __init__(self, values: np.ndarray, scale, zero_point, axis: int | None = None, symmetric: bool = False):
        ### BEGIN SOLUTION
        if not isinstance(values, np.ndarray) or values.dtype != np.int8:
            raise TypeError(f"QuantizedTensor: values must be a NumPy array of dtype int8, got "
                            f"{type(values).__name__} of dtype {getattr(values, 'dtype', None)}")
        self.axis = _axis(axis, values.ndim, "QuantizedTensor")
        self.scale, self.zero_point = _params(scale, zero_point, self.axis, values.shape, symmetric, "QuantizedTensor")
        if symmetric and (values == INT8_MIN).any():
            raise ValueError(f"QuantizedTensor: the symmetric scheme uses [-{SYMMETRIC_QMAX}, {SYMMETRIC_QMAX}], "
                             f"got {int((values == INT8_MIN).sum())} values equal to {INT8_MIN}")
        self.values = values
        self.symmetric = bool(symmetric)
        ### END SOLUTION

    @classmethod
    def from_float(cls, x, symmetric: bool = False, axis: int | None = None, method: str = "minmax",
                   percentile: float = 99.99) -> "QuantizedTensor":
        """Calibrate on x itself, choose the parameters, quantize.

        Args:
            x (Tensor | np.ndarray, any shape): float values.
            symmetric (bool): symmetric (weights) or asymmetric (activations) scheme.
            axis (int | None): None per-tensor, else one scale per slice along axis.
            method (str): calibration method, "minmax" or "percentile".
            percentile (float): for method="percentile", in (0, 100].

        Returns:
            QuantizedTensor: the quantized x.

        Raises:
            TypeError: x is not numeric.
            ValueError: x is empty or holds NaN/inf, or an option is invalid (see calibrate).

        Example:
            >>> QuantizedTensor.from_float(np.array([0.0, 2.55])).values
            array([-128,  127], dtype=int8)
        """
        ### BEGIN SOLUTION
        x = _numbers(x, "x", "QuantizedTensor.from_float")
        lo, hi = calibrate(x, method=method, percentile=percentile, axis=axis)
        scale, zero_point = symmetric_params(lo, hi) if symmetric else asymmetric_params(lo, hi)
        return cls(quantize(x, scale, zero_point, axis=axis, symmetric=symmetric), scale, zero_point,
                   axis=axis, symmetric=symmetric)
        ### END SOLUTION

    @property
    def shape(self) -> tuple:
        """tuple[int, ...]: the shape of values."""
        return self.values.shape

    @property
    def nbytes(self) -> int:
        """int: bytes stored: values (1 per element) + scales (4 each) + zero points (1 each)."""
        ### BEGIN SOLUTION
        return int(self.values.nbytes + self.scale.nbytes + self.zero_point.nbytes)
        ### END SOLUTION

    def dequantize(self) -> Tensor:
        """The float values this tensor stands for, (values - zero_point) * scale.

        Returns:
            Tensor: float32, the shape of values.

        Example:
            >>> QuantizedTensor.from_float(np.array([0.0, 2.55])).dequantize().data
            array([0.       , 2.5500002], dtype=float32)
        """
        ### BEGIN SOLUTION
        return Tensor(dequantize(self.values, self.scale, self.zero_point, axis=self.axis))
        ### END SOLUTION

    def __repr__(self) -> str:
        kind = "symmetric" if self.symmetric else "asymmetric"
        return f"QuantizedTensor(shape={self.shape}, {kind}, axis={self.axis}, nbytes={self.nbytes})"


# ---------------------------------------------------------------- an integer linear layer
class QuantizedLinear(Module):
    """A Linear layer that stores int8 numbers and multiplies in integers.

    Built from a float Linear and the range [lo, hi] its inputs took on calibration data:
      * weight: symmetric int8, one scale per output column (per_channel=True, axis 1 of the
        (in_features, out_features) weight) or one for the whole matrix; zero_point 0.
      * bias: ALSO int8, symmetric per-tensor with its own scale s_b, so the layer really takes
        about a quarter of the float bytes (integer kernels often keep the bias in int32 with scale
        s_x * s_w instead; int8 costs at most s_b / 2 per output, see the bound below).
      * input: asymmetric per-tensor (scale s_x, zero point z_x) from input_range; one scale for
        all input features, because a scale that varied along the summed dimension could not be
        taken out of the sum.

    forward(x): q_x = quantize(x); acc = (q_x as int32) @ (q_w as int32), the sum over in_features
    accumulated in int32; acc -= z_x * (column sums of q_w), which leaves sum_i (q_x,i - z_x) q_w,ij;
    then ONE rescale per output column, y_j = acc_j * (s_x * s_w,j), and the dequantized bias is added.
    int8 products would overflow at once; in int32 each term is at most 255 * 127 = 32385 in size,
    so the sum cannot overflow while in_features <= MAX_IN_FEATURES = (2**31 - 1) // 32385 = 66311,
    which __init__ checks.

    Error bound. The integer pipeline computes exactly y_quant_j = x_hat . W_hat_j + b_hat_j (up to
    the final float32 rounding), where x_hat, W_hat, b_hat are the dequantized values. Write
    x = x_hat + e_x and W_j = W_hat_j + e_Wj (W_j the j-th column). Then
        y_float_j - y_quant_j = e_x . W_j + x . e_Wj - e_x . e_Wj + (b_j - b_hat_j)
    and by Cauchy-Schwarz
        |y_quant_j - y_float_j| <= ||e_x|| ||W_j|| + ||x|| ||e_Wj|| + ||e_x|| ||e_Wj|| + s_b / 2,
    with ||e_x|| <= (s_x / 2) sqrt(in_features) when every input lies inside the calibrated range
    (each |e_x,i| <= s_x / 2) and ||e_Wj|| <= (s_w,j / 2) sqrt(in_features) (weights always lie in
    their own range). Inputs outside the calibrated range are clipped and the bound no longer holds.

    Args:
        linear (Linear): the float layer (read, never modified).
        input_range (tuple[float, float]): (lo, hi) of the layer's inputs on calibration data.
        per_channel (bool): one weight scale per output column instead of one per matrix.

    Attributes:
        in_features (int): as the float layer.
        out_features (int): as the float layer.
        per_channel (bool): as given.
        input_range (tuple[float, float]): (lo, hi) as given.
        input_scale (np.ndarray float32, shape ()): s_x.
        input_zero_point (np.ndarray int8, shape ()): z_x.
        weight (QuantizedTensor): int8 (in_features, out_features), symmetric.
        bias (QuantizedTensor | None): int8 (out_features,), symmetric per-tensor.

    Raises:
        TypeError: linear is not a Linear; input_range is not a pair.
        ValueError: input_range is not finite or has lo > hi; in_features > MAX_IN_FEATURES;
            the weights hold NaN/inf.

    Example:
        >>> q = QuantizedLinear(Linear(4, 3, seed=0), input_range=(-1.0, 1.0))
        >>> q(Tensor(np.zeros((2, 4)))).shape, q.weight.values.dtype
        ((2, 3), dtype('int8'))
    """

    def __init__(self, linear: Linear, input_range: tuple[float, float], per_channel: bool = False):
        ### BEGIN SOLUTION
        if not isinstance(linear, Linear):
            raise TypeError(f"QuantizedLinear: expected a Linear to quantize, got {type(linear).__name__}")
        if linear.in_features > MAX_IN_FEATURES:
            raise ValueError(f"QuantizedLinear: in_features must be <= MAX_IN_FEATURES={MAX_IN_FEATURES} for int32 "
                             f"accumulation to be exact, got in_features={linear.in_features}")
        self.input_range = _input_range(input_range, "QuantizedLinear")
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.per_channel = bool(per_channel)
        self.input_scale, self.input_zero_point = asymmetric_params(*self.input_range)
        self.weight = QuantizedTensor.from_float(linear.weight.data, symmetric=True,
                                                 axis=1 if self.per_channel else None)
        self.bias = None if linear.bias is None else QuantizedTensor.from_float(linear.bias.data, symmetric=True)
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        """Quantize x, multiply in int32, rescale once per column, add the bias.

        Args:
            x (Tensor, shape (..., in_features)): float inputs; leading dimensions are kept.

        Returns:
            Tensor: float32, shape (..., out_features).

        Raises:
            TypeError: x is not a Tensor.
            ValueError: x's last dimension is not in_features; x holds NaN.

        Example:
            >>> QuantizedLinear(Linear(3, 2, seed=0), (0.0, 1.0))(Tensor(np.ones((5, 3)))).shape
            (5, 2)
        """
        ### BEGIN SOLUTION
        if not isinstance(x, Tensor):
            raise TypeError(f"QuantizedLinear expects a Tensor, got {type(x).__name__}")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"QuantizedLinear expects inputs whose last dimension is in_features="
                             f"{self.in_features}, got shape {x.shape}")
        q_x = quantize(x.data, self.input_scale, self.input_zero_point)
        q_x = q_x.reshape(-1, self.in_features).astype(np.int32)   # widen BEFORE multiplying
        q_w = self.weight.values.astype(np.int32)
        accumulated = q_x @ q_w                                          # int32 sums, exact
        accumulated -= np.int32(self.input_zero_point) * q_w.sum(axis=0, dtype=np.int32)
        y = (accumulated * (self.input_scale * self.weight.scale)).astype(np.float32)  # one rescale per column
        if self.bias is not None:
            y += self.bias.dequantize().data
        return Tensor(y.reshape(*x.shape[:-1], self.out_features))
        ### END SOLUTION

    @property
    def nbytes(self) -> int:
        """int: bytes stored: weight and bias (values, scales, zero points) + the input's scale and zero point."""
        ### BEGIN SOLUTION
        bias = 0 if self.bias is None else self.bias.nbytes
        return int(self.weight.nbytes + bias + self.input_scale.nbytes + self.input_zero_point.nbytes)
        ### END SOLUTION

    def __repr__(self) -> str:
        return (f"QuantizedLinear(in_features={self.in_features}, out_features={self.out_features}, "
                f"per_channel={self.per_channel}, bias={self.bias is not None})")


# ---------------------------------------------------------------- whole models
def _modules(model: Module) -> list[Module]:
    """model and every module below it (through children()), each once, parents first.

    Args:
        model (Module): the root.

    Returns:
        list[Module]: every module of the tree.
    """
    ### BEGIN SOLUTION
    found, seen, stack = [], set(), [model]
    while stack:
        module = stack.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        found.append(module)
        stack.extend(child for _, child in reversed(module.children()))
    return found
    ### END SOLUTION


def _replace_linears(module: Module, replacements: dict) -> Module:
    """Put replacements[id(linear)] wherever a Linear with that id sits in the tree (in place).

    children() names a module "attr" or "attr.i" (item i of a list/tuple attribute): that name
    says where to write the replacement.

    Args:
        module (Module): the tree to edit.
        replacements (dict[int, Module]): id of a Linear -> its replacement.

    Returns:
        Module: module itself, or its replacement when module is one of the Linears.
    """
    ### BEGIN SOLUTION
    if id(module) in replacements:
        return replacements[id(module)]
    for name, child in module.children():
        new = _replace_linears(child, replacements)
        if new is child:
            continue
        attribute, _, index = name.partition(".")
        if not index:
            setattr(module, attribute, new)
            continue
        container = getattr(module, attribute)
        if isinstance(container, list):
            container[int(index)] = new
        else:
            setattr(module, attribute, tuple(new if i == int(index) else item for i, item in enumerate(container)))
    return module
    ### END SOLUTION


def quantize_model(model: Module, calibration_inputs, per_channel: bool = False, method: str = "minmax",
                   percentile: float = 99.99) -> Module:
    """A new model in which every Linear is a QuantizedLinear calibrated on sample inputs.

    Steps: deep-copy the model (the input model is never touched), put the copy in eval mode,
    give each of its Linears (found recursively through children(): inside Sequential, as
    attributes, in lists) a recording forward (an instance attribute that hides Linear.forward,
    stores the input and calls the real forward), run every calibration batch through the copy,
    then calibrate each Linear's recorded inputs (one range per layer) and put a QuantizedLinear
    in its place. Everything else (activations, Dropout, other layers) is kept as copied.

    Args:
        model (Module): a float model (a Linear itself is accepted too).
        calibration_inputs (Tensor | np.ndarray | list): one input batch or a list of batches.
        per_channel (bool): per-output-column weight scales (default: one scale per matrix).
        method (str): "minmax" or "percentile" calibration of each layer's input range.
        percentile (float): for method="percentile", in (0, 100].

    Returns:
        Module: the quantized copy, in eval mode.

    Raises:
        TypeError: model is not a Module; calibration_inputs are not Tensors/arrays.
        ValueError: no calibration batch; a Linear received no input during calibration; an
            option is invalid.

    Example:
        >>> float_model = Sequential(Linear(4, 8, seed=0), ReLU(), Linear(8, 2, seed=1))
        >>> quantized = quantize_model(float_model, np.random.default_rng(0).normal(size=(16, 4)))
        >>> type(quantized.layers[0]).__name__, model_bytes(quantized) < model_bytes(float_model)
        ('QuantizedLinear', True)
    """
    ### BEGIN SOLUTION
    if not isinstance(model, Module):
        raise TypeError(f"quantize_model expects a Module, got {type(model).__name__}")
    batches = _batches(calibration_inputs, "quantize_model")
    method, percentile = _method(method, "quantize_model"), _percentile(percentile, "quantize_model")
    copied = copy.deepcopy(model)
    copied.eval()
    linears = [module for module in _modules(copied) if isinstance(module, Linear)]
    seen: dict[int, list[np.ndarray]] = {id(linear): [] for linear in linears}

    def recording(linear: Linear, store: list):
        def forward(x: Tensor) -> Tensor:
            store.append(np.array(x.data, dtype=np.float64).reshape(-1))
            return type(linear).forward(linear, x)   # the class's own forward, under the instance attribute
        return forward

    for linear in linears:
        linear.forward = recording(linear, seen[id(linear)])
    for batch in batches:
        copied(batch)
    replacements = {}
    for position, linear in enumerate(linears):
        del linear.forward
        if not seen[id(linear)]:
            raise ValueError(f"quantize_model: Linear number {position} ({linear!r}) received no input while the "
                             f"calibration batches ran, so its input range is unknown")
        lo, hi = calibrate(np.concatenate(seen[id(linear)]), method=method, percentile=percentile)
        replacements[id(linear)] = QuantizedLinear(linear, (float(lo), float(hi)), per_channel=per_channel)
    return _replace_linears(copied, replacements)
    ### END SOLUTION


def model_bytes(model: Module) -> int:
    """Bytes a model really stores: float Parameters plus every QuantizedLinear's int8 numbers.

    Args:
        model (Module): any model, float or quantized.

    Returns:
        int: sum of every Parameter's bytes (each once) + sum of every QuantizedLinear's nbytes.

    Raises:
        TypeError: model is not a Module.

    Example:
        >>> model_bytes(Linear(64, 10))
        2600
    """
    ### BEGIN SOLUTION
    if not isinstance(model, Module):
        raise TypeError(f"model_bytes expects a Module, got {type(model).__name__}")
    floats = sum(parameter.memory_footprint() for parameter in model.parameters())
    integers = sum(module.nbytes for module in _modules(model) if isinstance(module, QuantizedLinear))
    return int(floats + integers)
    ### END SOLUTION
