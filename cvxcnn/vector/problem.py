"""The data of a vector-output problem: a scalar problem's patches and readout, a (n_out, c) target.

A :class:`VectorProblem` carries the patch matrix ``Y`` (n, d) and readout ``R``
of a :class:`cvxcnn.problem.PatchProblem` (built by
:func:`cvxcnn.problem.make_problem` as usual) and a target ``X`` of shape
(n_out, c): one column per output channel (``c = 2`` for the ``ab`` channels
of colorization). The readout is applied to each channel.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cvxcnn.patches import PatchGeometry, Readout, centre_values
from cvxcnn.problem import PatchProblem
from cvxcnn.validation import axis_length, check_finite_array


@dataclass(frozen=True)
class VectorProblem:
    """Patches, readout and a multi-channel target.

    The vector-output counterpart of :class:`cvxcnn.problem.PatchProblem`
    (DESIGN.md section 13): the same ``Y`` and ``R``, a target with one column
    per channel and no residual offset. Made by :func:`vector_problem` from a
    scalar problem and ``X`` (both given by
    :func:`cvxcnn.vector_output.make_vector_problem` from images, or made
    inside :func:`cvxcnn.vector.fit.fit_vector`); read by the separable
    bounds, the relaxation, :func:`cvxcnn.vector.certificate.certify_vector`
    and the restarts.
    :meth:`channel` gives channel ``k``'s scalar problem.

    Attributes
    ----------
    Y : ndarray of shape (n, d)
        Patch matrix.
    target : ndarray of shape (n_out, c)
        What ``R f(Y)`` is fitted to, one column per output channel.
    readout : Readout
        The linear map ``R`` (n_out, n), applied to every channel.
    geometry : PatchGeometry or None
    """

    Y: np.ndarray
    target: np.ndarray
    readout: Readout
    geometry: PatchGeometry | None = None

    n = axis_length("Y", 0, "Number of rows (patches) of ``Y``.")
    d = axis_length("Y", 1, "Number of columns of ``Y``.")
    n_out = axis_length("target", 0, "Number of predictions per channel.")
    channels = axis_length("target", 1, "Number of output channels ``c``.")

    def channel(self, k: int) -> PatchProblem:
        """The scalar problem of channel ``k`` (target ``X[:, k]``)."""
        return self.scalar(self.target[:, k].copy())

    def scalar(self, target: np.ndarray) -> PatchProblem:
        """The scalar problem with this ``Y``, readout and geometry and ``target`` (n_out,)."""
        return PatchProblem(self.Y, target, self.readout, self.geometry)

    def scaled(self, patch_scale: float, target_scale: float) -> VectorProblem:
        """The problem with ``Y / patch_scale`` and ``X / target_scale``."""
        return replace(self, Y=self.Y / patch_scale, target=self.target / target_scale)


def vector_problem(problem: PatchProblem, X: object) -> VectorProblem:
    """A :class:`VectorProblem` from a scalar problem's ``Y``, ``R`` and a target ``X``.

    Parameters
    ----------
    problem : PatchProblem
        Its ``Y`` (n, d), readout and geometry are used; its scalar target is not.
    X : array_like of shape (n_out, c) (or (n_out,) for one channel)
        Finite targets, one column per output channel.

    Returns
    -------
    VectorProblem

    Raises
    ------
    ValueError
        When ``X`` has the wrong number of rows, is empty, or holds NaN/inf;
        or when ``problem`` is residual (an offset per channel is not defined).
    """
    if isinstance(problem, VectorProblem):
        problem = PatchProblem(problem.Y, problem.target[:, 0], problem.readout, problem.geometry)
    if not isinstance(problem, PatchProblem):
        raise TypeError(
            f"problem must be a PatchProblem (cvxcnn.make_problem); got {type(problem).__name__}"
        )
    if problem.offset is not None:
        raise ValueError(
            "problem is residual (offset set): vector outputs need residual=False; subtract "
            "any per-channel offset from X yourself"
        )
    X = check_finite_array(X, "X", ndim=(1, 2))
    if X.ndim == 1:
        X = X[:, None]
    n_out = problem.readout.n_out
    if X.shape[0] != n_out:
        raise ValueError(
            f"X must have shape (n_out, c) with n_out={n_out} (the readout's outputs); "
            f"got {X.shape}"
        )
    return VectorProblem(Y=problem.Y, target=X, readout=problem.readout, geometry=problem.geometry)


def channel_targets(images: object, problem: PatchProblem) -> np.ndarray:
    """``X`` (n, c) from multi-channel target images: each channel's value at every patch centre.

    Parameters
    ----------
    images : array_like of shape (N, c, *spatial)
        Target images (e.g. the ``ab`` channels of Lab images, channels first),
        with the spatial shape of the problem's inputs.
    problem : PatchProblem
        Built by :func:`cvxcnn.make_problem` with ``readout="identity"``.

    Returns
    -------
    ndarray of shape (n, c)
    """
    if problem.geometry is None or problem.readout.kind != "identity":
        raise ValueError(
            "channel_targets needs a problem from make_problem with readout='identity'; for a "
            "per-image readout pass X of shape (n_images, c) to vector_problem directly"
        )
    images = check_finite_array(images, "images")
    dims = problem.geometry.spatial_dims
    if images.ndim != dims + 2:
        raise ValueError(
            f"images must have shape (N, c, *spatial) with {dims} spatial axes; got {images.shape}"
        )
    columns = [
        centre_values(images[:, k], problem.geometry, f"images[:, {k}]")
        for k in range(images.shape[1])
    ]
    return np.column_stack(columns)
