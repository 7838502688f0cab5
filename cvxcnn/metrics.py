"""Reconstruction quality metrics."""

from __future__ import annotations

import numpy as np

from cvxcnn.validation import check_finite_array, check_positive

__all__ = ["mean_chroma", "mse", "psnr", "rmse"]


def mse(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Mean squared error.

    Parameters
    ----------
    estimate : array_like, any shape
        Reconstruction.
    reference : array_like, same shape as ``estimate``
        Ground truth.

    Returns
    -------
    float
        ``mean((estimate - reference) ** 2)`` over all entries.
    """
    est = check_finite_array(estimate, "estimate")
    ref = check_finite_array(reference, "reference")
    if est.shape != ref.shape:
        raise ValueError(
            f"estimate has shape {est.shape} but reference has shape {ref.shape}; "
            "pass arrays of the same shape"
        )
    return float(np.mean((est - ref) ** 2))


def psnr(estimate: np.ndarray, reference: np.ndarray, *, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in decibels.

    Parameters
    ----------
    estimate, reference : array_like
        Reconstruction and ground truth, as for :func:`mse`.
    data_range : float, optional
        Peak-to-peak range of the signal, ``> 0``.  Defaults to
        ``reference.max() - reference.min()``, or 1.0 when that is zero.

    Returns
    -------
    float
        ``10 * log10(data_range**2 / mse)``, computed over all entries
        (images pooled); ``inf`` when ``estimate == reference``.
    """
    err = mse(estimate, reference)
    if data_range is None:
        ref = np.asarray(reference, dtype=np.float64)
        span = float(ref.max() - ref.min())
        peak = span if span > 0 else 1.0
    else:
        peak = check_positive(data_range, "data_range")
    if err == 0:
        return float("inf")
    return float(10.0 * np.log10(peak**2 / err))


def rmse(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Root mean squared error ``sqrt(mse(estimate, reference))`` (same shapes, any)."""
    return float(np.sqrt(mse(estimate, reference)))


def mean_chroma(ab: np.ndarray, *, axis: int = 1) -> float:
    """Mean chroma ``sqrt(a^2 + b^2)`` over pixels: the colourfulness statistic.

    Parameters
    ----------
    ab : array_like
        The chroma channels along ``axis`` (length 2), e.g. ``(N, 2, H, W)``.
    axis : int
        The channel axis (default 1).

    Returns
    -------
    float
        ``mean(||ab||_2 along axis)``; 0 for a grey image.
    """
    arr = check_finite_array(ab, "ab")
    if arr.ndim == 0 or arr.shape[axis] != 2:
        raise ValueError(f"ab must have 2 channels (a, b) along axis {axis}; got shape {arr.shape}")
    return float(np.mean(np.linalg.norm(arr, axis=axis)))
