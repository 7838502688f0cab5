"""facets="auto" on sampled cells: a timed pilot decides; when it reduces, it reduces exactly."""

from __future__ import annotations

import numpy as np
import pytest

import cvxcnn.facets as facets
from cvxcnn.activations import get_activation
from cvxcnn.arrangements import sample_relu_patterns
from cvxcnn.facets import cone_facet_mask, pilot_reduction
from cvxcnn.problem import problem_from_matrix


@pytest.fixture(scope="module")
def dense():
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((120, 5))  # n >= 20 d: the static rule lets the pilot decide
    problem = problem_from_matrix(Y, rng.standard_normal(120))
    return problem, sample_relu_patterns(Y, 40, random_state=0)


def test_accepted_pilot_equals_the_one_pass_reduction(dense, monkeypatch):
    problem, cells = dense
    monkeypatch.setattr(facets, "SOLVE_SECONDS_PER_NONZERO", 1.0)  # any reduction pays
    got = get_activation("relu").facet_reduction(problem, cells, "auto", None)
    ref = cone_facet_mask(cells.masks, problem.Y, method="hull", interior=cells.generators)
    assert got is not None and got.method == ref.method == "hull"
    np.testing.assert_array_equal(got.keep, ref.keep)  # pilot columns + the rest, in order
    assert got.full_cones == ref.full_cones


def test_declined_when_the_predicted_cost_exceeds_the_saving(dense, monkeypatch):
    problem, cells = dense
    monkeypatch.setattr(facets, "SOLVE_SECONDS_PER_NONZERO", 1e-15)  # nothing pays
    assert get_activation("relu").facet_reduction(problem, cells, "auto", None) is None
    # an explicit method is never second-guessed
    forced = get_activation("relu").facet_reduction(problem, cells, "hull", None)
    assert forced is not None and forced.keep.shape == (problem.n, len(cells))


def test_pilot_reduces_each_cone_once():
    calls: list[np.ndarray] = []
    keep = np.eye(30, 30, dtype=bool)

    def reduce(index, jobs):
        calls.append(index)
        return facets.FacetReduction(keep[:, index], "hull", 1e-9, 0)

    out = pilot_reduction(reduce, 30, full_nonzeros=10**9)
    np.testing.assert_array_equal(np.concatenate(calls), np.arange(30))
    np.testing.assert_array_equal(out.keep, keep)


def test_dense_d10_is_declined_without_a_pilot(monkeypatch):
    """Dense n = 400, d = 10 (issue #17): the sizes alone say off; Qhull is never called."""
    import cvxcnn.activations.relu as relu_module

    rng = np.random.default_rng(1)
    Y = rng.standard_normal((400, 10))
    problem = problem_from_matrix(Y, rng.standard_normal(400))
    cells = sample_relu_patterns(Y, 25, random_state=0)

    def no_qhull(*args, **kwargs):
        raise AssertionError("the reduction ran")

    monkeypatch.setattr(relu_module, "cone_facet_mask", no_qhull)
    assert get_activation("relu").facet_reduction(problem, cells, "auto", None) is None
    assert facets.hull_decision(10, 500, 2 * 10 * (2 * 400 * 500)) == "off"


def test_hull_decision_rule():
    nz = 2 * 9 * (2 * 256 * 1000)  # digits, P = 1000: close call, the pilot measures
    assert facets.hull_decision(9, 1000, nz) == "pilot"
    assert facets.hull_decision(5, 1000, nz) == "hull"  # cheap hulls: no pilot either
    assert facets.hull_decision(11, 1000, nz) == "off"
    assert facets.hull_decision(9, 1000, nz, n_jobs=4) in ("pilot", "hull")  # jobs only help
    seconds = [facets.predicted_hull_seconds(k) for k in range(3, 14)]
    assert all(a <= b for a, b in zip(seconds, seconds[1:], strict=False))
    assert facets.predicted_hull_seconds(10) == pytest.approx(70e-3)
