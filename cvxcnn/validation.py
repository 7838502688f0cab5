"""Input validation shared by every public entry point.

Each check raises ``ValueError`` (or ``TypeError``) whose message names the
argument and says how to fix it, in the style of scikit-learn's
``check_array``.  :func:`axis_length` gives the validated containers their
size properties (``n``, ``d``, ...) read off one array's shape.
"""

from __future__ import annotations

import numbers

import numpy as np


def check_finite_array(
    value: object,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    dtype: type = np.float64,
) -> np.ndarray:
    """Return ``value`` as a finite array of ``dtype``.

    Parameters
    ----------
    value : array_like
        The array to check.
    name : str
        Argument name used in error messages.
    ndim : int or tuple of int, optional
        Accepted numbers of dimensions.
    dtype : type
        Target dtype (default float64).

    Returns
    -------
    ndarray
    """
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array; got {type(value).__name__}") from exc
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ValueError(
                f"{name} must have {' or '.join(map(str, allowed))} dimensions; "
                f"got shape {arr.shape}"
            )
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); pass at least one element")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); clean or impute them first"
        )
    return arr


def check_choice(value: object, name: str, choices: tuple) -> object:
    """Return ``value``, requiring it to be one of ``choices``.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        Argument name used in the error message.
    choices : tuple
        Accepted values (compared with ``==``).

    Returns
    -------
    object
        ``value`` itself.

    Raises
    ------
    ValueError
        ``"<name> must be one of <choices>; got <value>"``.
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value


def axis_length(array: str, axis: int, doc: str | None = None) -> property:
    """A read-only property: the length of attribute ``array`` along ``axis``.

    Parameters
    ----------
    array : str
        Name of the instance attribute holding the array (e.g. ``"Y"``).
    axis : int
        Axis whose length the property returns.
    doc : str, optional
        The property's docstring.

    Returns
    -------
    property
        ``getattr(self, array).shape[axis]``.
    """

    def length(self: object) -> int:
        return getattr(self, array).shape[axis]

    return property(length, doc=doc or f"Length of ``{array}`` along axis {axis}.")


def check_positive(value: object, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float, requiring it to be finite and > 0 (or >= 0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    v = float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}; got {value!r}")
    return v


def check_patch_matrix(Y: object) -> np.ndarray:
    """``Y`` as a C-contiguous, finite, non-empty float64 matrix (n, d) (a patch matrix)."""
    return np.ascontiguousarray(check_finite_array(Y, "Y", ndim=2))


def check_fraction(value: object, name: str) -> float:
    """Return ``value`` as a float in ``[0, 1]`` (TypeError for a bool or a non-number)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number in [0, 1]; got {value!r}")
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be in [0, 1]; got {value!r}")
    return v


def check_positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int, requiring ``value >= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    v = int(value)
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {v}")
    return v


def check_random_state(random_state: object) -> np.random.Generator:
    """Turn ``None``, an int seed or a Generator into a ``numpy.random.Generator``."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, numbers.Integral):
        return np.random.default_rng(random_state)
    raise TypeError(
        f"random_state must be None, an int seed or a numpy Generator; got {random_state!r}"
    )
