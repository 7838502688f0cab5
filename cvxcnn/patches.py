"""Patch matrices (im2col), readouts and training targets.

A two-layer convolutional network ``conv(k, stride, padding) -> activation ->
1x1 conv`` applied to a batch of images equals ``sum_j f(Y u_j) v_j`` where
``Y`` is the patch matrix built here: one row per (image, output position),
``d = C * prod(kernel_size)`` columns (plus one when a bias column is
appended), ordered like the weight of ``torch.nn.Conv2d`` (channel, then the
kernel axes), so a filter ``u`` reshapes to ``(C, *kernel_size)``.

Rows are ordered image-major: row ``i * positions + p`` is output position
``p`` (C order over the output grid) of image ``i``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.lib.stride_tricks import sliding_window_view

from cvxcnn.validation import axis_length, check_choice, check_finite_array, check_positive_int

READOUTS = ("identity", "sum", "mean")


def _as_tuple(value: int | tuple[int, ...], ndim: int, name: str) -> tuple[int, ...]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (check_positive_int(value, name),) * ndim
    values = tuple(value)
    if len(values) != ndim:
        raise ValueError(f"{name} must be an int or a tuple of {ndim} ints; got {value!r}")
    return tuple(check_positive_int(v, name) for v in values)


def padding_pairs(
    padding: str | int | tuple[int, ...], kernel: tuple[int, ...]
) -> tuple[tuple[int, int], ...]:
    """Zero padding (before, after) per spatial axis.

    ``"same"`` pads ``k - 1`` in total, ``(k - 1) // 2`` before (the convention
    of ``torch.nn.Conv2d(padding="same")``), so with stride 1 the output grid is
    the input grid.
    """
    if isinstance(padding, str):
        if padding == "same":
            return tuple(((k - 1) // 2, k - 1 - (k - 1) // 2) for k in kernel)
        if padding == "valid":
            return tuple((0, 0) for _ in kernel)
        raise ValueError(f"padding must be 'same', 'valid' or a non-negative int; got {padding!r}")
    values = _as_tuple(padding, len(kernel), "padding") if padding != 0 else (0,) * len(kernel)
    if isinstance(padding, (int, np.integer)) and padding < 0:
        raise ValueError(f"padding must be non-negative; got {padding}")
    return tuple((p, p) for p in values)


@dataclass(frozen=True)
class PatchGeometry:
    """Shapes of one convolution layer: everything needed to rebuild patches.

    Attributes
    ----------
    spatial_dims : int
        1 for signals, 2 for images.
    in_channels : int
        Number of input channels ``C``.
    input_shape : tuple of int
        Spatial input shape, ``(L,)`` or ``(H, W)``.
    kernel_size, stride : tuple of int
        Per spatial axis.
    padding : tuple of (int, int)
        Zero padding (before, after) per spatial axis.
    bias : bool
        Whether ``Y`` carries a trailing column of ones (first-layer bias).
    """

    spatial_dims: int
    in_channels: int
    input_shape: tuple[int, ...]
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    bias: bool

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Spatial shape of the output grid."""
        return tuple(
            (size + lo + hi - k) // s + 1
            for size, k, s, (lo, hi) in zip(
                self.input_shape, self.kernel_size, self.stride, self.padding, strict=True
            )
        )

    @property
    def positions(self) -> int:
        """Number of output positions per image."""
        return math.prod(self.output_shape)

    @property
    def d(self) -> int:
        """Number of columns of the patch matrix."""
        return self.in_channels * math.prod(self.kernel_size) + int(self.bias)

    def centre_offset(self) -> tuple[int, ...]:
        """Offset of a patch's centre pixel inside the kernel window, per axis."""
        return tuple((k - 1) // 2 for k in self.kernel_size)


@dataclass(frozen=True)
class Patches:
    """A patch matrix and the geometry it came from.

    Attributes
    ----------
    Y : ndarray of shape (n, d)
        ``n = n_images * geometry.positions`` rows.
    geometry : PatchGeometry
    n_images : int
    """

    Y: np.ndarray
    geometry: PatchGeometry
    n_images: int

    n = axis_length("Y", 0, "Number of rows (patches) of ``Y``.")
    d = axis_length("Y", 1, "Number of columns of ``Y``.")


def as_batch(images: np.ndarray, spatial_dims: int, name: str = "images") -> np.ndarray:
    """Return ``images`` as a float64 array of shape ``(N, C, *spatial)``.

    Accepted shapes: ``(N, *spatial)`` (one channel) or ``(N, C, *spatial)``.
    """
    if spatial_dims not in (1, 2):
        raise ValueError(f"spatial_dims must be 1 or 2; got {spatial_dims!r}")
    arr = check_finite_array(images, name, ndim=(spatial_dims + 1, spatial_dims + 2))
    if arr.ndim == spatial_dims + 1:
        arr = arr[:, None]
    return arr


def infer_spatial_dims(images: np.ndarray) -> int:
    """Guess the number of spatial axes: (N, L) -> 1, (N, H, W) and (N, C, H, W) -> 2."""
    ndim = np.ndim(images)
    if ndim == 2:
        return 1
    if ndim in (3, 4):
        return 2
    raise ValueError(
        f"images must be (N, L), (N, H, W) or (N, C, H, W); got an array with {ndim} dimensions"
    )


def _pad(batch: np.ndarray, padding: tuple[tuple[int, int], ...]) -> np.ndarray:
    return np.pad(batch, ((0, 0), (0, 0), *padding))


def extract_patches(
    images: np.ndarray,
    kernel_size: int | tuple[int, ...] = 3,
    *,
    spatial_dims: int | None = None,
    stride: int | tuple[int, ...] = 1,
    padding: str | int | tuple[int, ...] = "same",
    bias: bool = False,
) -> Patches:
    """Build the patch matrix ``Y`` of a batch of signals or images (im2col).

    Parameters
    ----------
    images : ndarray
        ``(N, L)`` signals, ``(N, H, W)`` images or ``(N, C, H, W)``; with
        ``spatial_dims=1`` also ``(N, C, L)``.
    kernel_size : int or tuple of int
        Filter size per spatial axis; must not exceed the padded input.
    spatial_dims : {1, 2}, optional
        Inferred from ``images.ndim`` when omitted (see :func:`infer_spatial_dims`).
    stride : int or tuple of int
    padding : {"same", "valid"} or int or tuple of int
        ``"same"`` (default) gives every input pixel an output at stride 1.
    bias : bool
        Append a column of ones (the first layer's bias).

    Returns
    -------
    Patches
        ``Y`` has shape ``(N * positions, C * prod(kernel_size) + bias)``.

    Notes
    -----
    Uses :func:`numpy.lib.stride_tricks.sliding_window_view`, so the only copy
    made is the final ``Y``.
    """
    if spatial_dims is None:
        spatial_dims = infer_spatial_dims(images)
    batch = as_batch(images, spatial_dims)
    kernel = _as_tuple(kernel_size, spatial_dims, "kernel_size")
    strides = _as_tuple(stride, spatial_dims, "stride")
    pads = padding_pairs(padding, kernel)
    geometry = PatchGeometry(
        spatial_dims=spatial_dims,
        in_channels=batch.shape[1],
        input_shape=tuple(batch.shape[2:]),
        kernel_size=kernel,
        stride=strides,
        padding=pads,
        bias=bool(bias),
    )
    sizes = zip(geometry.input_shape, kernel, pads, strict=True)
    for axis, (size, k, (lo, hi)) in enumerate(sizes):
        if k > size or k > size + lo + hi:
            raise ValueError(
                f"kernel_size {k} is larger than the input ({size} pixels, {lo + hi} padding) "
                f"along spatial axis {axis}; use a kernel of at most {size}"
            )
    padded = _pad(batch, pads)
    axes = tuple(range(2, 2 + spatial_dims))
    windows = sliding_window_view(padded, kernel, axis=axes)
    # windows: (N, C, *out_full, *kernel) -> subsample by stride
    index = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in strides)
    windows = windows[index]
    n_images = batch.shape[0]
    # move channel axis next to the kernel axes: (N, *out, C, *kernel)
    windows = np.moveaxis(windows, 1, 1 + spatial_dims)
    Y = windows.reshape(n_images * geometry.positions, -1)
    if bias:
        Y = np.hstack([Y, np.ones((Y.shape[0], 1))])
    else:
        Y = np.ascontiguousarray(Y)
    return Patches(Y=Y, geometry=geometry, n_images=n_images)


def centre_values(images: np.ndarray, geometry: PatchGeometry, name: str = "images") -> np.ndarray:
    """Value of a single-channel image at the centre of every patch.

    Parameters
    ----------
    images : ndarray of shape (N, *spatial) or (N, 1, *spatial)
        Must have the spatial shape of ``geometry.input_shape``.
    geometry : PatchGeometry

    Returns
    -------
    ndarray of shape (N * positions,)
        Zero where a centre falls into the padding.
    """
    batch = as_batch(images, geometry.spatial_dims, name)
    if batch.shape[1] != 1:
        raise ValueError(
            f"{name} must be single-channel (the network predicts one value per position); "
            f"got {batch.shape[1]} channels. Pass (N, H, W) or (N, 1, H, W)."
        )
    if tuple(batch.shape[2:]) != geometry.input_shape:
        raise ValueError(
            f"{name} has spatial shape {tuple(batch.shape[2:])}, expected {geometry.input_shape}"
        )
    padded = _pad(batch, geometry.padding)[:, 0]
    index = (slice(None),) + tuple(
        slice(c, c + s * (o - 1) + 1, s)
        for c, s, o in zip(
            geometry.centre_offset(), geometry.stride, geometry.output_shape, strict=True
        )
    )
    return padded[index].reshape(-1).copy()


@dataclass(frozen=True)
class Readout:
    """The fixed linear map ``R`` from patch outputs to predictions.

    ``identity``: each patch predicts its centre pixel (fully convolutional
    denoiser, Sahiner et al.). ``sum``/``mean``: one scalar per image, the sum
    or the average over positions (average-pooling CNN, colorization paper
    App. A.4 eq. 9). Every formula in cvxcnn is written once with ``R``.

    Attributes
    ----------
    kind : {"identity", "sum", "mean"}
    n_images : int
    positions : int
        Output positions per image.
    """

    kind: str
    n_images: int
    positions: int

    def __post_init__(self) -> None:
        check_choice(self.kind, "readout", READOUTS)

    @property
    def n(self) -> int:
        """Number of patch rows the readout consumes."""
        return self.n_images * self.positions

    @property
    def n_out(self) -> int:
        """Number of predictions."""
        return self.n if self.kind == "identity" else self.n_images

    @property
    def scale(self) -> float:
        return 1.0 / self.positions if self.kind == "mean" else 1.0

    @property
    def matrix(self) -> sp.csr_matrix:
        """``R`` as a sparse ``(n_out, n)`` matrix."""
        if self.kind == "identity":
            return sp.identity(self.n, format="csr")
        block = sp.kron(
            sp.identity(self.n_images), np.full((1, self.positions), self.scale), format="csr"
        )
        return block.tocsr()

    def apply(self, values: np.ndarray) -> np.ndarray:
        """``R @ values`` for ``values`` of shape ``(n,)`` or ``(n, k)``."""
        if self.kind == "identity":
            return values
        grouped = values.reshape(self.n_images, self.positions, *values.shape[1:])
        return grouped.sum(axis=1) * self.scale

    def adjoint(self, values: np.ndarray) -> np.ndarray:
        """``R.T @ values`` for ``values`` of shape ``(n_out,)`` or ``(n_out, k)``."""
        if self.kind == "identity":
            return values
        return np.repeat(values * self.scale, self.positions, axis=0)

    def expression(self, expr):
        """``R @ expr`` for a CVXPY expression of shape ``(n,)``."""
        if self.kind == "identity":
            return expr
        return self.matrix @ expr
