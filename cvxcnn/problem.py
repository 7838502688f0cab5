"""The data of one training problem: patches, readout and targets.

``PatchProblem`` is what every program builder, certificate and evaluator
consumes: the patch matrix ``Y`` (n, d), the readout ``R`` and the target
``x`` (n_out,) that ``R f(Y)`` must fit. For a residual network the target is
``clean - noisy centre pixel`` and predictions add the centre pixel back
(Sahiner et al. Cor. 1.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cvxcnn._validation import check_finite_array
from cvxcnn.patches import (
    READOUTS,
    PatchGeometry,
    Readout,
    centre_values,
    extract_patches,
    infer_spatial_dims,
)


@dataclass(frozen=True)
class PatchProblem:
    """Patch matrix, readout and target of a two-layer CNN training problem.

    Attributes
    ----------
    Y : ndarray of shape (n, d)
        Patch matrix.
    target : ndarray of shape (n_out,)
        What ``R f(Y)`` is fitted to (the residual already subtracted).
    readout : Readout
        The linear map ``R`` (n_out, n).
    geometry : PatchGeometry or None
        Convolution shapes (None for a problem built from a raw ``Y``).
    offset : ndarray of shape (n_out,) or None
        Added to network outputs to form predictions (residual networks).
    """

    Y: np.ndarray
    target: np.ndarray
    readout: Readout
    geometry: PatchGeometry | None = None
    offset: np.ndarray | None = None

    @property
    def n(self) -> int:
        return self.Y.shape[0]

    @property
    def d(self) -> int:
        return self.Y.shape[1]

    @property
    def residual(self) -> bool:
        return self.offset is not None

    @property
    def n_images(self) -> int:
        return self.readout.n_images

    def scaled(self, factor: float) -> PatchProblem:
        """The same problem with targets (and offsets) multiplied by ``factor``."""
        offset = None if self.offset is None else self.offset * factor
        return PatchProblem(self.Y, self.target * factor, self.readout, self.geometry, offset)


def problem_from_matrix(
    Y: np.ndarray, target: np.ndarray, *, readout: str = "identity", n_images: int = 1
) -> PatchProblem:
    """A problem from an explicit patch matrix (no image geometry).

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    target : ndarray of shape (n,) for ``identity``, (n_images,) otherwise
    readout : {"identity", "sum", "mean"}
    n_images : int
        For ``sum``/``mean``: rows are split into ``n_images`` equal groups.
    """
    Y = check_finite_array(Y, "Y", ndim=2)
    target = check_finite_array(target, "target", ndim=1)
    if Y.shape[0] % n_images:
        raise ValueError(f"Y has {Y.shape[0]} rows, not divisible by n_images={n_images}")
    ro = Readout(readout, n_images, Y.shape[0] // n_images)
    if target.shape[0] != ro.n_out:
        raise ValueError(
            f"target has length {target.shape[0]}, but readout {readout!r} with n={Y.shape[0]} "
            f"rows and n_images={n_images} produces {ro.n_out} outputs"
        )
    return PatchProblem(Y=Y, target=target, readout=ro)


def make_problem(
    inputs: np.ndarray,
    targets: np.ndarray,
    *,
    kernel_size: int | tuple[int, ...] = 3,
    spatial_dims: int | None = None,
    stride: int | tuple[int, ...] = 1,
    padding: str | int | tuple[int, ...] = "same",
    bias: bool = False,
    residual: bool = False,
    readout: str = "identity",
) -> PatchProblem:
    """Build the training problem of a two-layer CNN from images.

    Parameters
    ----------
    inputs : ndarray
        Network inputs, ``(N, L)``, ``(N, H, W)`` or ``(N, C, H, W)``
        (``(N, C, L)`` with ``spatial_dims=1``).
    targets : ndarray
        For ``readout="identity"``: single-channel images of the input's
        spatial shape, ``(N, *spatial)`` or ``(N, 1, *spatial)``; the target of
        each patch is the value at its centre. For ``"sum"``/``"mean"``: one
        scalar per image, shape ``(N,)``.
    kernel_size, spatial_dims, stride, padding, bias
        See :func:`cvxcnn.patches.extract_patches`.
    residual : bool
        Fit ``targets - centre pixel of the input`` (identity readout and
        single-channel input only).
    readout : {"identity", "sum", "mean"}

    Returns
    -------
    PatchProblem
    """
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}; got {readout!r}")
    if spatial_dims is None:
        spatial_dims = infer_spatial_dims(inputs)
    patches = extract_patches(
        inputs, kernel_size, spatial_dims=spatial_dims, stride=stride, padding=padding, bias=bias
    )
    geometry = patches.geometry
    ro = Readout(readout, patches.n_images, geometry.positions)
    if residual and readout != "identity":
        raise ValueError("residual=True needs readout='identity' (one output per position)")
    targets_arr = check_finite_array(targets, "targets")
    if readout == "identity":
        if targets_arr.shape[0] != patches.n_images:
            raise ValueError(
                f"targets has {targets_arr.shape[0]} images but inputs has {patches.n_images}"
            )
        target = centre_values(targets_arr, geometry, "targets")
    else:
        if targets_arr.shape != (patches.n_images,):
            raise ValueError(
                f"targets must hold one value per image for readout={readout!r}: "
                f"expected shape ({patches.n_images},), got {targets_arr.shape}"
            )
        target = targets_arr
    offset = None
    if residual:
        if geometry.in_channels != 1:
            raise ValueError(
                f"residual=True needs single-channel inputs; got {geometry.in_channels} channels"
            )
        offset = centre_values(inputs, geometry, "inputs")
        target = target - offset
    return PatchProblem(Y=patches.Y, target=target, readout=ro, geometry=geometry, offset=offset)


def predictions_to_images(values: np.ndarray, problem: PatchProblem) -> np.ndarray:
    """Reshape identity-readout predictions ``(n,)`` to ``(N, *output_shape)``."""
    if problem.geometry is None or problem.readout.kind != "identity":
        return values
    return values.reshape(problem.n_images, *problem.geometry.output_shape)
