"""Shared fixtures: tiny problems that solve in well under a second.

The plain functions here (:func:`noisy_problem`, :func:`facets_by_brute_lp`)
are imported by test modules that need them outside a fixture (cached
problems, hypothesis examples).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings
from scipy.optimize import linprog

from cvxcnn.problem import make_problem

# Property tests draw the same examples on every run (CI included), so a
# failure is reproducible; HYPOTHESIS_PROFILE=explore draws fresh ones.
settings.register_profile("reproducible", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "reproducible"))


@pytest.fixture
def one_torch_thread():
    """Tiny problems run fastest (and steadiest on a busy machine) on one torch thread."""
    torch = pytest.importorskip("torch")
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def noisy_problem(seed: int, shape: tuple[int, ...], noise: float, kernel_size: int):
    """``make_problem`` of random clean signals/images plus Gaussian noise of std ``noise``."""
    rng = np.random.default_rng(seed)
    clean = rng.random(shape)
    noisy = clean + noise * rng.standard_normal(clean.shape)
    return make_problem(noisy, clean, kernel_size=kernel_size)


def facets_by_brute_lp(Yt: np.ndarray, signs: np.ndarray) -> set[int]:
    """Facet rows of ``{x : s_k Yt_k . x >= 0, s_k != 0}``, one LP per row.

    A row is a facet iff minimizing it over the other rows (in a box) goes
    negative; rows on the same oriented hyperplane are one constraint, and
    the first of them stands for it.
    """
    present = np.flatnonzero(signs)
    A = signs[present, None] * Yt[present]
    unit = A / np.linalg.norm(A, axis=1)[:, None]
    facets = set()
    for j in range(len(A)):
        same = np.flatnonzero(np.all(np.isclose(unit, unit[j], atol=1e-9), axis=1))
        others = np.delete(A, same, axis=0)
        res = linprog(A[j], A_ub=-others, b_ub=np.zeros(len(others)), bounds=[(-1, 1)] * A.shape[1])
        assert res.status == 0
        if res.fun < -1e-9:
            facets.add(int(present[same.min()]))
    return facets


@pytest.fixture
def tiny_1d_problem():
    """Two noisy 1-D signals of length 5, kernel 2 ("same" padding): n = 10, d = 2."""
    return noisy_problem(7, (2, 5), 0.3, kernel_size=2)


@pytest.fixture(scope="module")
def tiny_1d_st():
    """``tiny_1d_problem`` and every soft-threshold triple of its patch matrix."""
    from cvxcnn.soft_threshold import enumerate_st_triples

    problem = noisy_problem(7, (2, 5), 0.3, kernel_size=2)
    return problem, enumerate_st_triples(problem.Y)


@pytest.fixture
def small_2d_problem():
    """Two noisy 5x5 images, 3x3 kernel: n = 50, d = 9."""
    return noisy_problem(3, (2, 5, 5), 0.2, kernel_size=3)


@pytest.fixture
def searched_matches_enumerated():
    """Check that a certificate over searched cells (MIP) equals the one over enumerated cells."""

    def check(network, problem, enumerated, searched, beta: float) -> None:
        from cvxcnn import certify

        by_cells = certify(network, problem, enumerated, beta=beta)
        by_mip = certify(network, problem, searched, beta=beta)
        assert by_mip.certificate == "certified" and by_mip.oracle.startswith("exact/mip")
        assert by_mip.oracle_converged
        assert by_mip.oracle_upper == pytest.approx(by_cells.oracle_upper, rel=1e-6)
        assert by_mip.lower_bound == pytest.approx(by_cells.lower_bound, rel=1e-6)

    return check
