"""The one JSON conversion of results: fields left out where declared, lifted attributes."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np
import pytest

from cvxcnn.facets import FacetReduction
from cvxcnn.results import Result, omitted


@dataclass
class _Inner:
    objective: float
    status: str
    W: np.ndarray


@dataclass
class _Outer(Result):
    inner: _Inner | None = omitted(lift=("objective", "status"))
    blocks: np.ndarray = omitted(default=None, repr=False)
    beta: float = 1.0
    listed: list = omitted(default_factory=list)
    gap: float = float("nan")

    def _extra(self) -> dict:
        return {"status": "overridden by _extra"} if self.beta > 1 else {}


def test_omitted_fields_are_left_out_and_lifted_attributes_follow_the_fields():
    out = _Outer(_Inner(0.5, "optimal", np.ones(3)), np.zeros(2), 0.25, [1], float("nan"))
    summary = out.to_dict()
    assert list(summary) == ["beta", "gap", "objective", "status"]
    assert summary == {"beta": 0.25, "gap": None, "objective": 0.5, "status": "optimal"}
    json.dumps(summary, allow_nan=False)  # NaN written as None, no array left


def test_a_missing_lifted_value_writes_nothing_and_extra_has_the_last_word():
    assert _Outer(None, beta=2.0).to_dict() == {
        "beta": 2.0,
        "gap": None,
        "status": "overridden by _extra",
    }


def test_omitted_keeps_the_field_options():
    out = _Outer(None)
    assert out.blocks is None and "blocks" not in repr(out) and "inner" in repr(out)


@pytest.mark.parametrize("keep", [np.ones((4, 3), bool), np.eye(4, 3, dtype=bool)])
def test_facet_reduction_summary_counts_rows_without_the_mask(keep):
    summary = FacetReduction(keep, "hull", 0.5, 1).to_dict()
    assert summary == {
        "method": "hull",
        "seconds": 0.5,
        "full_cones": 1,
        "rows_kept": int(keep.sum()),
        "rows_full": 12,
        "fraction": keep.sum() / 12,
    }


def _result_classes() -> set[type]:
    import importlib
    import pkgutil

    import cvxcnn

    for info in pkgutil.walk_packages(cvxcnn.__path__, "cvxcnn."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    found, todo = set(), [Result]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub)
            todo.append(sub)
    return {c for c in found if dataclasses.is_dataclass(c) and c.__module__.startswith("cvxcnn")}


def test_a_redeclared_field_stays_omitted_in_every_result_subclass():
    """A subclass that redeclares a base's omitted field must restate ``omitted()``."""
    lost = []
    for cls in _result_classes():
        own = {f.name: f for f in dataclasses.fields(cls)}
        for base in cls.__mro__[1:]:
            if dataclasses.is_dataclass(base):
                lost += [
                    f"{cls.__name__}.{f.name}"
                    for f in dataclasses.fields(base)
                    if f.metadata.get("omitted") and not own[f.name].metadata.get("omitted")
                ]
    assert len(_result_classes()) > 20 and lost == []
