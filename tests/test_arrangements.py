"""ReLU sign-pattern sets: exact enumeration against independent oracles, sampling."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import linprog

from cvxcnn.arrangements import (
    ArrangementTooLargeError,
    PatternSet,
    _enumerate,
    _verify_and_repair,
    enumerate_relu_patterns,
    patterns_from_generators,
    relu_count_bound,
    sample_relu_patterns,
)

# --------------------------------------------------------------------------- #
# Independent oracles (written here, sharing no code with the module)
# --------------------------------------------------------------------------- #


def brute_force_patterns(Y: np.ndarray) -> set[bytes]:
    """Every sign vector of the nonzero rows, kept when its open cone is full-dimensional."""
    nonzero = np.any(Y != 0, axis=1)
    rows = Y[nonzero] / np.linalg.norm(Y[nonzero], axis=1, keepdims=True)
    k, d = rows.shape
    found = set()
    for signs in itertools.product((1.0, -1.0), repeat=k):
        s = np.array(signs)
        # max t  s.t.  s_i y_i^T u >= t,  |u|_inf <= 1,  t <= 1
        res = linprog(
            np.r_[np.zeros(d), -1.0],
            A_ub=np.hstack([-(s[:, None] * rows), np.ones((k, 1))]),
            b_ub=np.zeros(k),
            bounds=[(-1, 1)] * d + [(None, 1)],
            method="highs",
        )
        if res.status == 0 and -res.fun > 1e-7:
            mask = np.ones(Y.shape[0], dtype=bool)
            mask[nonzero] = s > 0
            found.add(mask.tobytes())
    return found


def angular_sweep_patterns(Y: np.ndarray) -> set[bytes]:
    """d = 2: cells are the arcs between consecutive angles where some row vanishes."""
    phi = np.arctan2(Y[:, 1], Y[:, 0])
    cuts = np.unique(np.round(np.mod(np.r_[phi + np.pi / 2, phi - np.pi / 2], 2 * np.pi), 12))
    mids = (cuts + np.r_[cuts[1:], cuts[0] + 2 * np.pi]) / 2
    U = np.stack([np.cos(mids), np.sin(mids)], axis=1)
    return {m.tobytes() for m in (Y @ U.T >= 0).T}


def as_set(patterns: PatternSet) -> set[bytes]:
    return {m.tobytes() for m in patterns.masks}


def assert_generators_interior(Y: np.ndarray, patterns: PatternSet) -> None:
    vals = Y @ patterns.generators.T  # (n, P)
    np.testing.assert_array_equal(patterns.masks, (vals >= 0).T)
    nonzero = np.any(Y != 0, axis=1)
    assert np.all(vals[nonzero] != 0), "generator on a hyperplane"


def kernel3_signal(n: int, seed: int = 0) -> np.ndarray:
    """Rows (s[i], s[i+1], s[i+2]) of a noisy sine: a 1-D kernel-3 patch matrix."""
    rng = np.random.default_rng(seed)
    s = np.sin(np.linspace(0, 6, n + 2)) + 0.3 * rng.standard_normal(n + 2)
    return np.stack([s[:-2], s[1:-1], s[2:]], axis=1)


# --------------------------------------------------------------------------- #
# Count bound
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("n", "rank", "expected"),
    [
        (1, 1, 2),
        (4, 1, 2),
        (4, 2, 8),  # 2 * (1 + 3)
        (4, 3, 14),  # 2 * (1 + 3 + 3)
        (4, 4, 16),
        (4, 9, 16),  # rank >= n: 2**n
        (10, 3, 92),  # 2 * (1 + 9 + 36)
        (30, 4, 8180),  # DESIGN.md
        (5, 0, 1),  # all-zero Y: one cell
    ],
)
def test_relu_count_bound_small_values(n, rank, expected):
    assert relu_count_bound(n, rank) == expected


def test_relu_count_bound_is_exact_python_int():
    big = relu_count_bound(10_000, 30)
    assert isinstance(big, int) and big > 2**63


@pytest.mark.parametrize(("n", "rank"), [(0, 1), (3, -1)])
def test_relu_count_bound_rejects_bad_arguments(n, rank):
    with pytest.raises(ValueError, match="n|rank"):
        relu_count_bound(n, rank)


# --------------------------------------------------------------------------- #
# Exact enumeration against oracles
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(("seed", "n", "d"), [(0, 4, 2), (1, 6, 2), (2, 6, 3), (3, 8, 3)])
def test_vertex_and_lp_match_brute_force_on_generic_data(seed, n, d):
    Y = np.random.default_rng(seed).standard_normal((n, d))
    expected = brute_force_patterns(Y)
    vertex = enumerate_relu_patterns(Y, method="vertex")
    lp = enumerate_relu_patterns(Y, method="lp")
    assert as_set(vertex) == expected
    assert as_set(lp) == expected
    assert len(vertex) == len(lp) == vertex.count_bound == relu_count_bound(n, d)
    assert vertex.exact and lp.exact
    assert (vertex.method, lp.method) == ("vertex", "lp-incremental")
    assert_generators_interior(Y, vertex)
    assert_generators_interior(Y, lp)


@pytest.mark.parametrize("n", [3, 11, 30])
def test_vertex_matches_angular_sweep_in_two_dimensions(n):
    Y = np.random.default_rng(n).standard_normal((n, 2))
    patterns = enumerate_relu_patterns(Y)
    assert as_set(patterns) == angular_sweep_patterns(Y)
    assert len(patterns) == 2 * n == patterns.count_bound


def test_vertex_matches_angular_sweep_with_repeated_directions():
    base = np.random.default_rng(4).standard_normal((6, 2))
    Y = np.vstack([base, 2.0 * base[:2], -base[3:5], np.zeros((1, 2))])
    assert as_set(enumerate_relu_patterns(Y)) == angular_sweep_patterns(Y)
    assert len(enumerate_relu_patterns(Y)) == 12


def test_vertex_matches_lp_on_random_12x3():
    Y = np.random.default_rng(12).standard_normal((12, 3))
    vertex, stats = _enumerate(Y, 10_000, "vertex", False)
    lp = enumerate_relu_patterns(Y, method="lp")
    assert as_set(vertex) == as_set(lp)
    assert len(vertex) == relu_count_bound(12, 3) == 134
    assert stats["repaired"] == stats["dropped"] == 0


@pytest.mark.slow
def test_vertex_matches_lp_on_random_20x4():
    Y = np.random.default_rng(20).standard_normal((20, 4))
    vertex = enumerate_relu_patterns(Y)
    lp = enumerate_relu_patterns(Y, method="lp")
    assert as_set(vertex) == as_set(lp)
    assert len(vertex) == relu_count_bound(20, 4) == 2320


def _degenerate_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(99)
    Y = rng.standard_normal((6, 3))
    zero_column = rng.standard_normal((8, 3))
    zero_column[:, 1] = 0.0
    plane = rng.standard_normal((3, 2)) @ rng.standard_normal((2, 3))  # 3 rows, one plane
    rank2_in_4d = rng.standard_normal((8, 2)) @ rng.standard_normal((2, 4))
    bias = np.hstack([rng.integers(-2, 3, size=(9, 2)), np.ones((9, 1))])
    return {
        "duplicated rows": np.vstack([Y, Y[:2], 3.0 * Y[4:5]]),
        "zero row": np.vstack([Y[:3], np.zeros((1, 3)), Y[3:]]),
        "negated rows": np.vstack([Y, -Y[:2], -0.5 * Y[5:6]]),
        "zero column": zero_column,
        "rank 2 in R^4": rank2_in_4d,
        "degenerate vertex": np.vstack([plane, rng.standard_normal((4, 3))]),
        "integer data with bias": bias.astype(float),
        "rank one": np.outer(rng.standard_normal(5), rng.standard_normal(3)),
        "single row": np.array([[0.5, -1.0, 2.0]]),
        "all zero": np.zeros((3, 2)),
        "thin column": Y * np.array([1.0, 1.0, 1e-3]),
    }


@pytest.mark.parametrize("name", list(_degenerate_cases()))
def test_vertex_matches_lp_and_brute_force_on_degenerate_data(name):
    Y = _degenerate_cases()[name]
    vertex, stats = _enumerate(Y, 10_000, "vertex", False)
    lp = enumerate_relu_patterns(Y, method="lp")
    assert as_set(vertex) == as_set(lp) == brute_force_patterns(Y)
    assert len(vertex) <= vertex.count_bound
    assert stats["repaired"] == stats["dropped"] == 0
    assert_generators_interior(Y, vertex)
    assert_generators_interior(Y, lp)


def test_masks_follow_original_row_order_with_duplicates_zeros_and_negations():
    Y = np.random.default_rng(5).standard_normal((5, 3))
    Z = np.vstack([Y, np.zeros((1, 3)), 2.0 * Y[1], -Y[2]])
    patterns = enumerate_relu_patterns(Z)
    masks = patterns.masks
    assert as_set(enumerate_relu_patterns(Y)) == {m[:5].tobytes() for m in masks}
    assert len(patterns) == relu_count_bound(5, 3)
    assert masks[:, 5].all()  # zero row
    np.testing.assert_array_equal(masks[:, 6], masks[:, 1])  # positive multiple
    np.testing.assert_array_equal(masks[:, 7], ~masks[:, 2])  # negative multiple
    assert patterns.count_bound == relu_count_bound(8, 3)


def test_generic_kernel3_signal_reaches_the_bound():
    Y = kernel3_signal(60)
    patterns, stats = _enumerate(Y, 10_000, "vertex", False)
    assert len(patterns) == patterns.count_bound == relu_count_bound(60, 3) == 3542
    assert stats["repaired"] == stats["dropped"] == 0
    assert_generators_interior(Y, patterns)
    assert np.allclose(np.linalg.norm(patterns.generators, axis=1), 1.0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arrays(
        np.int64,
        st.tuples(st.integers(1, 6), st.integers(1, 3)),
        elements=st.integers(-2, 2),
    )
)
def test_counts_never_exceed_bound_on_integer_data(Y):
    Y = Y.astype(np.float64)
    vertex = enumerate_relu_patterns(Y)
    rank = np.linalg.matrix_rank(Y)
    assert len(vertex) <= relu_count_bound(Y.shape[0], rank)
    assert vertex.count_bound == relu_count_bound(Y.shape[0], rank)
    assert_generators_interior(Y, vertex)
    assert as_set(vertex) == as_set(enumerate_relu_patterns(Y, method="lp"))


def test_progress_bar_runs(capsys):
    Y = np.random.default_rng(0).standard_normal((6, 3))
    a = enumerate_relu_patterns(Y, progress=True)
    b = enumerate_relu_patterns(Y, method="lp", progress=True)
    assert as_set(a) == as_set(b)


def test_safety_net_repairs_bad_generators_and_drops_empty_cells():
    Y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    masks = np.array(
        [
            [True, True, True, True],  # a cell, good generator
            [True, False, True, True],  # a cell, wrong generator
            [False, False, True, True],  # empty: u1 < 0, u2 < 0, u1 + u2 > 0
        ]
    )
    gens = np.array([[1.0, 1.0], [1.0, 1.0], [-1.0, -1.0]])
    kept_masks, kept_gens, stats = _verify_and_repair(Y, masks, gens)
    assert stats == {"checked": 3, "repaired": 1, "dropped": 1}
    np.testing.assert_array_equal(kept_masks, masks[:2])
    np.testing.assert_array_equal(kept_masks, (Y @ kept_gens.T >= 0).T)


@pytest.mark.parametrize("method", ["vertex", "lp"])
def test_keyboard_interrupt_propagates(monkeypatch, method):
    import cvxcnn.arrangements as arr

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    target = "_degenerate_ray_cells" if method == "vertex" else "linprog"
    monkeypatch.setattr(arr, target, interrupt)
    Y = np.vstack([np.eye(3), np.ones((1, 3)), [[1.0, 1.0, 0.0]]])  # degenerate ray at e3
    with pytest.raises(KeyboardInterrupt):
        enumerate_relu_patterns(Y, method=method)


# --------------------------------------------------------------------------- #
# Sampling
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("data_directed", [0.0, 0.5, 1.0])
def test_sampled_patterns_are_exact_cells_with_valid_generators(data_directed):
    Y = np.random.default_rng(1).standard_normal((10, 3))
    Y[4] = 0.0
    sampled = sample_relu_patterns(Y, 300, data_directed=data_directed, random_state=0)
    exact = enumerate_relu_patterns(Y)
    assert as_set(sampled) <= as_set(exact)
    assert 0 < len(sampled) <= 300
    assert not sampled.exact
    assert sampled.count_bound == exact.count_bound
    np.testing.assert_array_equal(sampled.masks, (Y @ sampled.generators.T >= 0).T)
    assert sampled.masks[:, 4].all()
    expected = {0.0: "gaussian", 0.5: "mixed", 1.0: "data-directed"}[data_directed]
    assert sampled.method == expected


def test_sampling_deduplicates():
    Y = np.random.default_rng(2).standard_normal((5, 2))
    sampled = sample_relu_patterns(Y, 2000, random_state=1)
    assert len(sampled) == len(as_set(sampled)) == 10  # all 2n cells, once each


def test_sampling_is_reproducible_with_a_seed():
    Y = np.random.default_rng(3).standard_normal((20, 4))
    a = sample_relu_patterns(Y, 200, data_directed=0.3, random_state=7)
    b = sample_relu_patterns(Y, 200, data_directed=0.3, random_state=7)
    c = sample_relu_patterns(Y, 200, data_directed=0.3, random_state=8)
    np.testing.assert_array_equal(a.masks, b.masks)
    np.testing.assert_array_equal(a.generators, b.generators)
    assert not np.array_equal(a.generators, c.generators)
    g = sample_relu_patterns(Y, 200, data_directed=0.3, random_state=np.random.default_rng(7))
    np.testing.assert_array_equal(a.masks, g.masks)


def test_data_directed_generators_are_jittered_patches_or_differences():
    Y = np.random.default_rng(0).standard_normal((12, 3))
    Y[3] = 0.0
    sampled = sample_relu_patterns(Y, 300, data_directed=1.0, random_state=0)
    centres = np.vstack([Y, (Y[:, None, :] - Y[None, :, :]).reshape(-1, 3)])
    dist = np.linalg.norm(sampled.generators[:, None, :] - centres[None], axis=2)
    assert np.all(dist.min(axis=1) <= 0.01 * np.linalg.norm(Y, axis=1).max())
    assert not sampled.exact and len(sampled) <= 300


def test_patterns_from_generators_keeps_first_generator():
    Y = np.random.default_rng(4).standard_normal((6, 3))
    u, w = np.array([1.0, 0.2, -0.3]), np.array([-0.5, 1.0, 0.1])
    patterns = patterns_from_generators(Y, np.stack([u, 3.0 * u, w, u]))
    assert len(patterns) == 2
    np.testing.assert_array_equal(patterns.generators, np.stack([u, w]))
    assert patterns.method == "given" and not patterns.exact


# --------------------------------------------------------------------------- #
# PatternSet
# --------------------------------------------------------------------------- #


def test_subset_and_union():
    Y = np.random.default_rng(6).standard_normal((8, 3))
    exact = enumerate_relu_patterns(Y)
    half = exact.subset(np.arange(len(exact) // 2))
    assert not half.exact and half.n_rows == 8 and len(half) == len(exact) // 2
    assert exact.subset(slice(None)).exact
    assert exact.subset(np.arange(len(exact))[::-1]).exact
    assert not exact.subset(np.zeros(len(exact), dtype=int)).exact
    assert len(exact.subset(0)) == 1
    rest = exact.subset(np.arange(len(exact) // 2, len(exact)))
    both = half.union(rest)
    assert as_set(both) == as_set(exact) and not both.exact
    sampled = sample_relu_patterns(Y, 50, random_state=0)
    merged = sampled.union(exact)
    assert merged.exact and merged.method == "vertex" and len(merged) == len(exact)
    np.testing.assert_array_equal(merged.masks[: len(sampled)], sampled.masks)
    self_union = sampled.union(sampled)
    assert len(self_union) == len(sampled) and self_union.method == "gaussian"


def test_pattern_set_is_read_only_and_validated():
    Y = np.random.default_rng(7).standard_normal((4, 2))
    patterns = enumerate_relu_patterns(Y)
    with pytest.raises(ValueError):
        patterns.masks[0, 0] = False
    with pytest.raises(ValueError, match="masks"):
        PatternSet(np.zeros((2, 3)), np.zeros((2, 2)), False, "given", 4)
    with pytest.raises(ValueError, match="generators"):
        PatternSet(np.zeros((2, 3), bool), np.zeros((3, 2)), False, "given", 4)
    with pytest.raises(ValueError, match="different patch matrices"):
        patterns.union(sample_relu_patterns(np.ones((5, 2)), 3, random_state=0))


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #


def test_too_large_arrangement_is_refused_with_the_bound():
    Y = np.random.default_rng(8).standard_normal((40, 3))
    bound = relu_count_bound(40, 3)
    for method in ("vertex", "lp"):
        with pytest.raises(ArrangementTooLargeError, match=str(bound)) as info:
            enumerate_relu_patterns(Y, max_cells=100, method=method)
        message = str(info.value)
        assert "max_cells=100" in message and "sample" in message
    assert issubclass(ArrangementTooLargeError, ValueError)
    assert len(enumerate_relu_patterns(Y, max_cells=bound)) == bound


def test_duplicated_rows_do_not_count_against_max_cells():
    Y = np.random.default_rng(9).standard_normal((5, 3))
    Z = np.tile(Y, (20, 1))  # 100 rows, 5 distinct hyperplanes
    patterns = enumerate_relu_patterns(Z, max_cells=relu_count_bound(5, 3))
    assert len(patterns) == relu_count_bound(5, 3) == 22
    assert patterns.count_bound == relu_count_bound(100, 3)


@pytest.mark.parametrize(
    ("call", "exc", "pattern"),
    [
        (lambda: enumerate_relu_patterns(np.ones(3)), ValueError, "Y must have 2"),
        (lambda: enumerate_relu_patterns([[1.0, np.nan]]), ValueError, "Y contains"),
        (lambda: sample_relu_patterns([[np.inf, 1.0]], 5), ValueError, "Y contains"),
        (lambda: sample_relu_patterns(np.ones((3, 2)), 0), ValueError, "n_samples"),
        (lambda: sample_relu_patterns(np.ones((3, 2)), 2.5), TypeError, "n_samples"),
        (
            lambda: sample_relu_patterns(np.ones((3, 2)), 5, data_directed=1.5),
            ValueError,
            "data_directed",
        ),
        (
            lambda: sample_relu_patterns(np.ones((3, 2)), 5, data_directed=-0.1),
            ValueError,
            "data_directed",
        ),
        (lambda: enumerate_relu_patterns(np.ones((3, 2)), max_cells=0), ValueError, "max_cells"),
        (
            lambda: enumerate_relu_patterns(np.ones((3, 2)), method="simplex"),
            ValueError,
            "'vertex', 'lp'",
        ),
        (
            lambda: patterns_from_generators(np.ones((3, 2)), np.ones((4, 3))),
            ValueError,
            "U must have d=2",
        ),
        (lambda: sample_relu_patterns(np.ones((3, 2)), 5, random_state="x"), TypeError, "random"),
    ],
)
def test_bad_inputs_name_the_argument(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
