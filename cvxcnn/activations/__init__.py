"""Activations: the only variable of the pipeline (see :mod:`cvxcnn.activations.base`).

:func:`get_activation` maps a name to its :class:`Activation`;
:func:`activation_of` infers it from cells or a network, so that
:func:`cvxcnn.fitting.fit`, :func:`cvxcnn.certificates.certify`,
:func:`cvxcnn.colgen.solve_colgen` and :func:`cvxcnn.path.solve_path` take
either kind without an ``activation`` argument.
"""

from __future__ import annotations

import numpy as np

from cvxcnn.activations.base import Activation
from cvxcnn.activations.relu import Relu
from cvxcnn.activations.soft_threshold import SoftThreshold

#: Registered activations by name (``"st"`` is accepted as a short name).
ACTIVATIONS: dict[str, Activation] = {"relu": Relu(), "soft_threshold": SoftThreshold()}
_ALIASES = {"st": "soft_threshold", "soft-threshold": "soft_threshold"}


def get_activation(activation: str | Activation) -> Activation:
    """The :class:`Activation` named ``activation`` (or ``activation`` itself)."""
    if isinstance(activation, Activation):
        return activation
    key = _ALIASES.get(str(activation), str(activation))
    if key not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)} (or 'st'); got {activation!r}"
        )
    return ACTIVATIONS[key]


def activation_of(obj: object) -> Activation:
    """The activation whose cells or network ``obj`` is.

    Parameters
    ----------
    obj : PatternSet, MipArrangement, TripleSet, ndarray of shape (P, n) bool, ReluNetwork
        or STNetwork

    Returns
    -------
    Activation
    """
    if isinstance(obj, np.ndarray):
        return ACTIVATIONS["relu"]  # raw masks are ReLU patterns
    for act in ACTIVATIONS.values():
        if isinstance(obj, (act.cell_type, act.network_type, act.searched_type)):
            return act
    raise TypeError(
        "expected cells (PatternSet, TripleSet, (P, n) bool masks) or a network "
        f"(ReluNetwork, STNetwork); got {type(obj).__name__}"
    )


__all__ = ["ACTIVATIONS", "Activation", "Relu", "SoftThreshold", "activation_of", "get_activation"]
