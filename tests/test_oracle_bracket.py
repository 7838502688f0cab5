"""Every oracle keeps the one bracket contract of :class:`cvxcnn.oracle.OracleBracket`.

``lower <= M <= upper`` with ``lower`` a value at ``direction`` (a point of
the ball): checked for each oracle of both activations and the vector one
against the values at many random points of the sphere (each a lower bound on
``M``, so ``upper`` must be above all of them).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvxcnn.arrangements import enumerate_relu_patterns
from cvxcnn.mip_oracle import MipOracleResult, relu_mip_oracle
from cvxcnn.oracle import OracleBracket, OracleResult, bracket_closed, objective_at, relu_oracle
from cvxcnn.soft_threshold.mip_oracle import best_threshold, st_mip_oracle
from cvxcnn.soft_threshold.oracle import st_oracle
from cvxcnn.soft_threshold.triples import enumerate_st_triples
from cvxcnn.streaming import StreamedOracleResult, streamed_relu_oracle
from cvxcnn.vector.oracle import VectorOracleResult, vector_oracle


def _st_value(Y: np.ndarray, g: np.ndarray, U: np.ndarray) -> np.ndarray:
    """``max_{t >= 0} |g^T tau_t(Y u)|`` per row of ``U`` (both signs of ``g``)."""
    return np.maximum(best_threshold(Y, g, U)[0], best_threshold(Y, -g, U)[0])


def _oracles(Y: np.ndarray, g: np.ndarray, G: np.ndarray) -> dict:
    """name -> (result, value function of unit rows U (k, d)) for every oracle."""
    masks = enumerate_relu_patterns(Y).masks

    def relu(U: np.ndarray) -> np.ndarray:
        return objective_at(Y, g, U)

    def soft(U: np.ndarray) -> np.ndarray:
        return _st_value(Y, g, U)

    def vector(U: np.ndarray) -> np.ndarray:
        return np.linalg.norm(np.maximum(U @ Y.T, 0.0) @ G, axis=1)

    return {
        "relu": (relu_oracle(Y, g, masks), relu),
        "streamed": (streamed_relu_oracle(Y, g, chunk_size=7), relu),
        "relu-mip": (relu_mip_oracle(Y, g, time_limit=20), relu),
        "st": (st_oracle(Y, g, enumerate_st_triples(Y)), soft),
        "st-mip": (st_mip_oracle(Y, g, time_limit=20), soft),
        "vector": (vector_oracle(Y, G, masks), vector),
    }


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(5, 9), d=st.integers(2, 3))
def test_every_oracle_brackets_the_sampled_maximum(seed, n, d):
    rng = np.random.default_rng(seed)
    Y, g, G = rng.standard_normal((n, d)), rng.standard_normal(n), rng.standard_normal((n, 2))
    U = rng.standard_normal((3000, d))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    for name, (res, value) in _oracles(Y, g, G).items():
        sampled = float(value(U).max())
        tol = 1e-7 * max(sampled, 1.0)
        assert isinstance(res, OracleBracket), name
        assert res.lower <= res.upper, name
        assert res.upper >= sampled - tol, name  # M is at least every sampled value
        assert np.linalg.norm(res.direction) <= 1 + 1e-9, name
        assert value(res.direction[None])[0] >= res.lower - tol, name
        if res.converged:  # closed: the value itself, within the oracles' tolerances
            assert res.upper <= res.lower * (1 + 1e-6) + tol, name
        assert res.gap == pytest.approx(res.upper - res.lower), name


def test_results_are_json_ready_without_arrays():
    rng = np.random.default_rng(3)
    Y, g, G = rng.standard_normal((7, 2)), rng.standard_normal(7), rng.standard_normal((7, 2))
    kinds = {
        "relu": OracleResult,
        "streamed": StreamedOracleResult,
        "relu-mip": MipOracleResult,
        "st": OracleResult,
        "st-mip": MipOracleResult,
        "vector": VectorOracleResult,
    }
    for name, (res, _) in _oracles(Y, g, G).items():
        assert isinstance(res, kinds[name]), name
        out = json.loads(json.dumps(res.to_dict()))
        assert out["upper"] == res.upper and out["lower"] == res.lower, name
        assert out["converged"] is res.converged, name
        assert "direction" not in out, name
        # arrays are left out (the MIP's per-sign brackets are pairs of floats)
        assert not any(isinstance(v, list) and len(v) > 2 for v in out.values()), name


def test_bracket_closed_is_relative_with_an_absolute_floor():
    assert bracket_closed(1.0 + 1e-8, 1.0, 1e-7)
    assert not bracket_closed(1.0 + 1e-6, 1.0, 1e-7)
    assert not bracket_closed(1e-13, 0.0, 1e-7)  # a zero lower end needs the floor
    assert bracket_closed(1e-13, 0.0, 1e-7, atol=1e-12)


def test_results_are_keyword_only():
    with pytest.raises(TypeError):
        VectorOracleResult(1.0, 0.5, np.zeros(2), True, 0.0, np.zeros(2), 1, "scalar")
