"""Shared fixtures: tiny problems that solve in well under a second."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

from cvxcnn.problem import make_problem

# Property tests draw the same examples on every run (CI included), so a
# failure is reproducible; HYPOTHESIS_PROFILE=explore draws fresh ones.
settings.register_profile("reproducible", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "reproducible"))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def tiny_1d_problem():
    """Two noisy 1-D signals of length 5, kernel 2 ("same" padding): n = 10, d = 2."""
    rng = np.random.default_rng(7)
    clean = rng.random((2, 5))
    noisy = clean + 0.3 * rng.standard_normal(clean.shape)
    return make_problem(noisy, clean, kernel_size=2)


@pytest.fixture
def small_2d_problem():
    """Two noisy 5x5 images, 3x3 kernel: n = 50, d = 9."""
    rng = np.random.default_rng(3)
    clean = rng.random((2, 5, 5))
    noisy = clean + 0.2 * rng.standard_normal(clean.shape)
    return make_problem(noisy, clean, kernel_size=3)
