"""Losses: CVXPY expression == float64 value, gradients, conjugates."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from cvxcnn.losses import AbsoluteLoss, HuberLoss, LogisticLoss, SquaredLoss, get_loss

LOSSES = [SquaredLoss(), AbsoluteLoss(), HuberLoss(0.3), LogisticLoss()]


def _target(loss, rng, n):
    return rng.choice([-1.0, 1.0], n) if loss.name == "logistic" else rng.standard_normal(n)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda lo: lo.name)
def test_expression_value_matches_float64_value(loss, rng):
    x = _target(loss, rng, 7)
    p = rng.standard_normal(7) * 2
    expr = loss.expression(cp.Constant(p), x)
    assert expr.is_convex()
    assert expr.value == pytest.approx(loss.value(p, x), rel=1e-12)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda lo: lo.name)
def test_gradient_matches_finite_differences(loss, rng):
    x = _target(loss, rng, 5)
    p = rng.standard_normal(5) * 2 + 0.01  # avoid kinks
    g = loss.gradient(p, x)
    h = 1e-6
    fd = [(loss.value(p + h * e, x) - loss.value(p - h * e, x)) / (2 * h) for e in np.eye(5)]
    np.testing.assert_allclose(g, fd, atol=1e-5)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda lo: lo.name)
def test_conjugate_is_the_supremum(loss, rng):
    """L*(z) computed coordinate-wise by 1-D maximization (all losses are separable)."""
    x = _target(loss, rng, 3)
    if loss.name == "logistic":
        z = -x * rng.uniform(0.05, 0.95, 3)
    elif loss.name == "absolute":
        z = rng.uniform(-0.9, 0.9, 3)
    elif loss.name == "huber":
        z = rng.uniform(-0.25, 0.25, 3)
    else:
        z = rng.standard_normal(3)
    total = 0.0
    for i in range(3):

        def neg(p, i=i):
            return -(z[i] * p - loss.value(np.array([p]), x[i : i + 1]))

        total += -minimize_scalar(neg, bounds=(-60, 60), method="bounded").fun
    assert loss.conjugate(z, x) == pytest.approx(total, abs=1e-5)


def test_conjugate_outside_domain_is_infinite():
    x = np.array([1.0, -1.0])
    assert AbsoluteLoss().conjugate(np.array([2.0, 0.0]), x) == np.inf
    assert HuberLoss(0.5).conjugate(np.array([0.6, 0.0]), x) == np.inf
    assert LogisticLoss().conjugate(np.array([1.0, 0.0]), x) == np.inf


def test_get_loss_and_errors():
    assert isinstance(get_loss("huber", delta=2.0), HuberLoss)
    with pytest.raises(ValueError, match="loss must be one of"):
        get_loss("hinge")
    with pytest.raises(ValueError, match="delta"):
        HuberLoss(0.0)
    with pytest.raises(ValueError, match=r"\{-1, \+1\}"):
        LogisticLoss().validate_target(np.array([0.0, 1.0]))
