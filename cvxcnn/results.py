"""Result types shared by every algorithm: one base, one JSON conversion.

Every result (a fit, a certificate, a column-generation run, a path) is a
dataclass deriving from :class:`Result`: ``to_dict()`` gives a JSON-ready
summary (arrays and networks left out, NaN written as ``None``) and
``to_json(path)`` writes it. A field is left out where it is declared,
``name: type = omitted()``; ``omitted(lift=...)``
writes some of its attributes instead, and ``_extra()`` adds derived entries.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from cvxcnn.solve import SolveInfo


def json_ready(value: object, *, infinity: str | None = None) -> object:
    """``value`` made JSON-safe: numpy scalars/arrays, tuples, paths, NaN/inf, nested results.

    The one conversion of the package (results, the command line, benchmarks).

    Parameters
    ----------
    value : object
    infinity : {None, "text"}
        NaN is always written as ``None``; infinities too by default, or as
        the strings ``"inf"``/``"-inf"`` with ``"text"`` (where an infinite
        value is a meaningful answer, e.g. the PSNR of a noise-free input).

    Returns
    -------
    object
        Built from dicts, lists, str, int, float, bool and None only.
    """
    if isinstance(value, Result):
        return value.to_dict()
    if isinstance(value, dict):
        return {str(k): json_ready(v, infinity=infinity) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v, infinity=infinity) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist(), infinity=infinity)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        if infinity == "text" and not math.isnan(value):
            return "inf" if value > 0 else "-inf"
        return None
    if hasattr(value, "to_dict"):
        return json_ready(value.to_dict(), infinity=infinity)
    return value


def omitted(*, lift: tuple[str, ...] = (), **options: Any) -> Any:
    """A dataclass field that :meth:`Result.to_dict` leaves out (arrays, networks, nested objects).

    Parameters
    ----------
    lift : tuple of str
        Attributes of the field's value written after the fields, under their
        own names (e.g. a nested fit's ``objective``); none when it is None.
    **options
        Passed to :func:`dataclasses.field` (``default``, ``repr``...).
    """
    return field(metadata={"omitted": True, "lift": tuple(lift)}, **options)


class Result:
    """Mixin for result dataclasses: ``to_dict`` and ``to_json`` written once."""

    def _extra(self) -> dict:
        """Derived entries added to (or overriding) the field dump."""
        return {}

    def to_dict(self) -> dict:
        """JSON-ready summary (no arrays; NaN and inf as ``None``)."""
        out, lifted = {}, {}
        for f in fields(self):
            value = getattr(self, f.name)
            if not f.metadata.get("omitted"):
                out[f.name] = value
            elif value is not None:
                lifted.update({name: getattr(value, name) for name in f.metadata.get("lift", ())})
        return json_ready({**out, **self._extra(), **lifted})

    def to_json(self, path: str | Path) -> None:
        """Write :meth:`to_dict` to ``path`` as indented JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")


@dataclass
class ConvexFitResult(Result):
    """Outcome of one convex fit, for any activation (SciPy ``OptimizeResult`` style).

    Attributes
    ----------
    status, success, message : str, bool, str
        From the solver; ``success`` is True only for ``optimal``.
    objective : float
        Convex objective at the solution, re-evaluated in float64.
    primal_objective : float
        ``P`` of the reconstructed network (shared float64 evaluator).
    beta : float
    loss : str
    n, d : int
        Rows and columns of the patch matrix.
    n_patterns, active_patterns, neurons : int
        Cells in the program, cells with a nonzero block, neurons.
    exact_arrangement : bool
        True when the cells are every cell, so ``objective`` is the global
        optimum of the non-convex problem; otherwise it is an upper bound.
    sign_violation : float
        Largest violation of the cell constraints at the solution.
    solve : SolveInfo
        Solver, iterations, compile/solve seconds, the solver's gap/residuals.
    build_seconds : float
    constraint_rows, constraint_rows_full : int
        Cell-constraint rows in the solved program and without facet reduction.
    kkt : dict
        KKT residuals from the solver's duals (ReLU; :mod:`cvxcnn.kkt`).
    facets : dict
        Facet reduction: method, rows kept, seconds, ``rounds`` (re-solves
        that added rows the full check found violated) and ``rows_added``.
    activation : str
        ``"relu"`` or ``"soft_threshold"``.
    neurons_before_pruning : int or None
        With ``fit(..., prune=True)``: the reconstruction's neurons before
        Caratheodory pruning (``neurons`` is then at most ``n_out + 1``).
    network : network object or None
    W, Z : ndarray of shape (d, P) or None
        The solution blocks (``Z`` holds the negative-side blocks, ``w'``
        for soft thresholds).
    working_set : dict
        With ``fit(..., strategy="working_set")``: the rounds, the last
        program's size and the rigorous gap over the whole given set
        (:class:`cvxcnn.working_set.WorkingSetSummary`); empty for a full solve.
    cell_index : ndarray of shape (P_program,) or None
        With a working set: the given set's cells that ``W``/``Z`` columns
        (and ``n_patterns``) refer to; None when the program held every cell.
    """

    status: str
    success: bool
    message: str
    objective: float
    primal_objective: float
    beta: float
    loss: str
    n: int
    d: int
    n_patterns: int = omitted()
    active_patterns: int
    neurons: int
    exact_arrangement: bool
    sign_violation: float
    solve: SolveInfo = omitted(lift=("solver_objective", "solver_stats"))
    build_seconds: float = 0.0
    constraint_rows: int = 0
    constraint_rows_full: int = 0
    kkt: dict = field(default_factory=dict)
    facets: dict = field(default_factory=dict)
    activation: str = "relu"
    neurons_before_pruning: int | None = None
    network: object | None = omitted(default=None, repr=False)
    W: np.ndarray | None = omitted(default=None, repr=False)
    Z: np.ndarray | None = omitted(default=None, repr=False)
    working_set: dict = field(default_factory=dict)
    cell_index: np.ndarray | None = omitted(default=None, repr=False)

    def _extra(self) -> dict:
        return {**self.solve.summary(), "patterns": self.n_patterns}

    def fail(self, status: str, message: str) -> None:
        """Mark the result as failed (``success=False``) with a status and a reason."""
        self.status, self.success, self.message = status, False, message
