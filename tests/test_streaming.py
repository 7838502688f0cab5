"""Streamed exact enumeration, the streamed oracle and column generation over a stream.

References: the in-memory vertex enumeration (itself checked against the LP
method in test_arrangements) and the in-memory oracle over its cells.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvxcnn.arrangements import (
    KeySet,
    enumerate_relu_patterns,
    packed_keys,
    stream_relu_patterns,
)
from cvxcnn.certificates import CERTIFIED, ESTIMATED, certify
from cvxcnn.colgen import ColgenSettings, solve_colgen
from cvxcnn.colgen_stream import solve_colgen_streamed
from cvxcnn.networks import ReluNetwork
from cvxcnn.oracle import relu_oracle
from cvxcnn.streaming import (
    STREAMED,
    CellBounds,
    certify_streamed,
    stream_exhaustive,
    streamed_relu_oracle,
)
from tests.conftest import noisy_problem

BETA = 0.01


def _degenerate(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Random rows with a zero row, an anti-parallel pair and a duplicate."""
    Y = rng.standard_normal((n, d))
    Y[3] = 0.0
    Y[5] = -2.0 * Y[4]
    Y[7] = Y[6]
    return Y


def _stream_keys(stream) -> np.ndarray:
    return np.concatenate([packed_keys(chunk.masks) for chunk in stream])


@pytest.mark.parametrize("n,d,chunk", [(12, 3, 7), (20, 4, 100), (40, 3, 64), (25, 5, 1000)])
def test_stream_yields_exactly_the_cells_of_the_enumeration(n, d, chunk):
    Y = _degenerate(np.random.default_rng(n + d), n, d)
    ref = enumerate_relu_patterns(Y)
    stream = stream_relu_patterns(Y, chunk_size=chunk)
    keys = _stream_keys(stream)
    assert stream.complete and stream.n_cells == len(ref) == keys.size
    assert np.unique(keys).size == keys.size  # each cell once
    assert set(keys.tolist()) == set(packed_keys(ref.masks).tolist())
    assert stream.n_chunks >= -(-len(ref) // chunk)
    for cells in stream:  # generators are strictly inside their own cells
        assert len(cells) <= chunk
        vals = Y @ cells.generators.T
        nonzero = np.any(Y != 0, axis=1)
        assert np.all((vals[nonzero] > 0) == cells.masks.T[nonzero])


def test_stream_counts_generic_data_and_trivial_cases():
    Y = np.random.default_rng(0).standard_normal((30, 4))
    stream = stream_relu_patterns(Y, chunk_size=500)
    assert _stream_keys(stream).size == stream.count_bound == 8180  # DESIGN.md: n=30, d=4
    zero = stream_relu_patterns(np.zeros((4, 2)))
    assert [c.masks.tolist() for c in zero] == [[[True] * 4]]
    line = stream_relu_patterns(np.array([[1.0, 2.0], [-2.0, -4.0], [0.0, 0.0]]))
    assert set(_stream_keys(line).tolist()) == set(
        packed_keys(enumerate_relu_patterns(line.Y).masks).tolist()
    )


def test_stream_cache_replays_the_same_cells():
    Y = _degenerate(np.random.default_rng(1), 20, 3)
    stream = stream_relu_patterns(Y, chunk_size=50, cache=True)
    first, second = _stream_keys(stream), _stream_keys(stream)
    assert np.array_equal(first, second) and stream.complete


def test_keyset_is_exact():
    rng = np.random.default_rng(2)
    masks = rng.random((300, 70)) < 0.5
    keys = packed_keys(masks)
    seen = KeySet()
    new = seen.add_new(keys[:200])
    assert new.size == 200 and len(seen) == 200
    ids = np.concatenate([np.arange(150, 250), np.arange(240, 260)])  # 240..249 twice
    again = seen.add_new(keys[ids])
    assert np.array_equal(ids[again], np.arange(200, 260))  # first copies of unseen keys
    assert seen.contains(keys[:260]).all() and not seen.contains(keys[260:]).any()
    flipped = masks.copy()
    flipped[:, 69] ^= True  # differs in the last bit only
    assert not seen.contains(packed_keys(flipped)).any()


@pytest.mark.parametrize("n,d", [(12, 3), (20, 4), (40, 3), (25, 5)])
def test_streamed_oracle_equals_the_in_memory_oracle(n, d):
    rng = np.random.default_rng(10 * n + d)
    Y = _degenerate(rng, n, d)
    g = rng.standard_normal(n)
    cells = enumerate_relu_patterns(Y)
    ref = relu_oracle(Y, g, cells.masks)
    for chunk in (13, 400):
        res = streamed_relu_oracle(Y, g, chunk_size=chunk)
        assert res.complete and res.n_cells == len(cells) and res.method == STREAMED
        assert res.upper == pytest.approx(ref.upper, abs=1e-9)
        assert res.lower == pytest.approx(ref.lower, abs=1e-9)
        assert res.lower <= res.upper + 1e-12
    threshold = 0.7 * ref.lower
    every = relu_oracle(Y, g, cells.masks, threshold=threshold)
    top = streamed_relu_oracle(Y, g, chunk_size=50, threshold=threshold, keep=6)
    want = np.sort(every.cell_lower[every.cell_lower > threshold])[::-1][:6]
    assert np.allclose(top.cell_lower[: want.size], want, atol=1e-9)  # keep is per sign
    assert len(top.cells) <= 12
    assert top.upper == pytest.approx(every.upper, abs=1e-9)


def test_streamed_oracle_excludes_cells_but_still_bounds_them():
    rng = np.random.default_rng(5)
    Y = rng.standard_normal((18, 3))
    g = rng.standard_normal(18)
    full = streamed_relu_oracle(Y, g, keep=4)
    res = streamed_relu_oracle(Y, g, keep=4, exclude=full.cells)
    assert not set(packed_keys(res.cells.masks).tolist()) & set(
        packed_keys(full.cells.masks).tolist()
    )
    assert res.upper == pytest.approx(full.upper, abs=1e-12)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), d=st.integers(2, 4), chunk=st.integers(1, 200))
def test_streamed_bracket_contains_points_of_the_ball(seed, d, chunk):
    """lower <= upper, and no random unit vector beats the upper end."""
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((10, d))
    g = rng.standard_normal(10)
    res = streamed_relu_oracle(Y, g, chunk_size=chunk)
    U = rng.standard_normal((2000, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    values = np.abs(np.maximum(U @ Y.T, 0.0) @ g)
    assert res.lower <= res.upper + 1e-12
    assert values.max() <= res.upper + 1e-9


def test_certify_streamed_equals_certify_over_the_exact_set():
    problem = noisy_problem(4, (1, 24), 0.3, kernel_size=3)
    rng = np.random.default_rng(4)
    net = ReluNetwork(rng.standard_normal((3, problem.d)), rng.standard_normal(3))
    ref = certify(net, problem, enumerate_relu_patterns(problem.Y), beta=BETA)
    cert = certify_streamed(net, problem, beta=BETA, chunk_size=100)
    assert cert.certificate == CERTIFIED == ref.certificate
    assert cert.oracle == f"streamed/{STREAMED}"
    assert cert.lower_bound == pytest.approx(ref.lower_bound, abs=1e-9)
    assert cert.upper_bound == ref.upper_bound
    assert cert.oracle_cells == ref.oracle_cells


def test_incomplete_or_foreign_stream_is_only_an_estimate():
    problem = noisy_problem(4, (1, 16), 0.3, kernel_size=3)
    res = streamed_relu_oracle(problem.Y, np.ones(problem.n))
    assert stream_exhaustive(res, problem.Y) == (True, "")
    res.complete = False
    assert not stream_exhaustive(res, problem.Y)[0]
    res.complete = True
    assert not stream_exhaustive(res, problem.Y + 1.0)[0]
    res.n_cells = res.count_bound + 1  # more cells than any arrangement of Y has
    assert not stream_exhaustive(res, problem.Y)[0]
    other = noisy_problem(5, (1, 16), 0.3, kernel_size=3)
    with pytest.raises(ValueError, match="same Y"):
        streamed_relu_oracle(problem.Y, np.ones(problem.n), stream=stream_relu_patterns(other.Y))


class _StoppingStream:
    """A stream that stops after its first chunk (as an interrupted run would)."""

    def __init__(self, Y):
        self.inner = stream_relu_patterns(Y, chunk_size=20)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __iter__(self):
        for chunk in self.inner:
            yield chunk
            return


def test_certificate_of_an_interrupted_stream_is_estimated():
    problem = noisy_problem(6, (1, 20), 0.3, kernel_size=3)
    net = ReluNetwork(np.ones((1, problem.d)), np.ones(1))
    cert = certify_streamed(net, problem, beta=BETA, stream=_StoppingStream(problem.Y))
    assert cert.certificate == ESTIMATED and "stopped" in cert.message


def test_streamed_colgen_certifies_the_in_memory_optimum():
    problem = noisy_problem(1, (1, 30), 0.3, kernel_size=3)
    cells = enumerate_relu_patterns(problem.Y)
    ref = solve_colgen(problem, cells, beta=BETA)
    res = solve_colgen_streamed(problem, ColgenSettings(beta=BETA, initial=5), chunk_size=300)
    assert res.certificate.certificate == CERTIFIED and res.converged
    # the same settings as keywords give the same run
    again = solve_colgen_streamed(problem, beta=BETA, initial=5, chunk_size=300)
    assert again.certificate.upper_bound == res.certificate.upper_bound
    with pytest.raises(TypeError, match="not both"):
        solve_colgen_streamed(problem, ColgenSettings(beta=BETA), beta=BETA)
    with pytest.raises(TypeError, match="drop_inactive"):  # solve_colgen's, not the stream's
        solve_colgen_streamed(problem, beta=BETA, drop_inactive=False)
    assert res.certificate.oracle == f"streamed/{STREAMED}"
    assert res.certificate.relative_gap <= 1e-6
    assert res.total_cells == len(cells) and res.patterns_used < len(cells)
    assert res.certificate.upper_bound == pytest.approx(ref.certificate.upper_bound, rel=1e-6)


def _every_cell_decided(seed: int):
    """Random ``Y`` (30, 3) and ``g``, every cell's mask, and the oracle deciding each cell.

    ``relu_oracle`` with ``threshold=0`` decides every (cell, sign) pair
    exactly (closed form or NNLS): the reference for the top-k (``keep``) and
    ``budget`` passes, which leave pairs unsolved.
    """
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((30, 3))
    g = rng.standard_normal(30)
    masks = enumerate_relu_patterns(Y).masks
    return Y, g, masks, relu_oracle(Y, g, masks, threshold=0.0)


def test_relu_oracle_keep_finds_the_top_cells_per_sign_with_fewer_solves():
    Y, g, masks, every = _every_cell_decided(11)
    top = relu_oracle(Y, g, masks, threshold=0.0, keep=3)
    for s in (0, 1):
        want = np.sort(every.sign_lower[:, s])[::-1][:3]
        assert np.allclose(np.sort(top.sign_lower[:, s])[::-1][:3], want, atol=1e-9)
    assert top.n_solved <= every.n_solved
    assert top.upper == pytest.approx(every.upper, abs=1e-9)  # unsolved pairs keep their bound


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**16), step=st.sampled_from([1e-4, 1e-2, 1.0]))
def test_carried_bounds_skip_cells_but_never_the_maximum(seed, step):
    """A pass with bounds carried from another g: same top cells, upper end still >= M."""
    rng = np.random.default_rng(seed)
    Y = _degenerate(rng, 24, 3)
    masks = enumerate_relu_patterns(Y).masks
    stream = stream_relu_patterns(Y, chunk_size=40, cache=True)
    bounds = CellBounds(Y)
    g = rng.standard_normal(24)
    streamed_relu_oracle(Y, g, stream=stream, bounds=bounds, threshold=0.5, keep=4)
    assert bounds.ready(stream)
    g2 = g + step * rng.standard_normal(24)
    exact = relu_oracle(Y, g2, masks)
    every = relu_oracle(Y, g2, masks, threshold=0.0)
    for threshold in (None, 0.8 * exact.upper):
        res = streamed_relu_oracle(Y, g2, stream=stream, bounds=bounds, threshold=threshold, keep=4)
        assert res.complete and res.n_cells == len(masks)
        assert res.upper >= exact.upper - 1e-9 and res.lower <= exact.upper + 1e-9
        for u in bounds.upper:  # every carried bound is still an upper bound at g2
            assert u.size
        carried = np.concatenate(bounds.upper)
        assert carried.max() >= exact.upper - 1e-9
        if threshold is None:
            assert res.lower == pytest.approx(exact.lower, abs=1e-9)
        else:
            want = np.sort(every.cell_lower[every.cell_lower > threshold])[::-1][:4]
            assert np.allclose(res.cell_lower[: want.size], want, atol=1e-9)


def test_carried_bounds_skip_most_cells_for_a_nearby_residual():
    rng = np.random.default_rng(7)
    Y = rng.standard_normal((40, 3))
    stream = stream_relu_patterns(Y, chunk_size=100, cache=True)
    bounds = CellBounds(Y)
    g = rng.standard_normal(40)
    t = 0.9 * relu_oracle(Y, g, enumerate_relu_patterns(Y).masks).upper  # few violators
    first = streamed_relu_oracle(Y, g, stream=stream, bounds=bounds, threshold=t, keep=5)
    again = streamed_relu_oracle(Y, g + 1e-6, stream=stream, bounds=bounds, threshold=t, keep=5)
    assert bounds.skipped > 0.5 * stream.n_cells
    assert bounds.skipped + bounds.examined == stream.n_cells
    assert np.allclose(again.cell_lower, first.cell_lower, atol=1e-4)
    assert again.upper >= first.upper - 1e-4


def test_budget_returns_genuine_violators_and_misses_none_when_few():
    Y, g, masks, every = _every_cell_decided(21)
    many = 0.2 * every.upper  # many violators: the budget caps the solves
    capped = relu_oracle(Y, g, masks, threshold=many, keep=3, budget=2)
    full = relu_oracle(Y, g, masks, threshold=many, keep=3)
    assert capped.n_solved < full.n_solved
    assert capped.upper == pytest.approx(every.upper, abs=1e-9)  # still a bound on every cell
    hit = capped.cell_lower > many
    assert hit.sum() >= 3 and np.all(capped.cell_lower[hit] <= every.cell_upper[hit] + 1e-9)
    few = np.sort(every.cell_lower)[-3]  # two violators only: every one is found
    res = relu_oracle(Y, g, masks, threshold=few, keep=3, budget=1)
    assert set(np.flatnonzero(res.cell_lower > few)) == set(np.flatnonzero(every.cell_lower > few))
