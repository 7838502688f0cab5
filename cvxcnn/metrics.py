"""Reconstruction quality metrics."""

from __future__ import annotations

import numpy as np

from cvxcnn.validation import check_finite_array, check_positive

__all__ = ["mse", "psnr"]


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
