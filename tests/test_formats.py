"""Weights files written by one part of cvxcnn are read by the others."""

from __future__ import annotations

import numpy as np
import pytest

from cvxcnn.networks import ReluNetwork, load_network, save_network
from cvxcnn.soft_threshold.network import STNetwork, load_st_network, save_st_network


def test_trainer_style_st_file_is_read_by_the_st_loader(tmp_path, rng):
    path = tmp_path / "st.npz"
    U, v, t = rng.standard_normal((3, 4)), rng.standard_normal(3), np.array([0.1, 0.2, 0.0])
    np.savez(path, U=U, v=v, t=t, activation=np.array("st"))
    net = load_st_network(path)
    np.testing.assert_array_equal(net.thresholds, t)
    np.testing.assert_array_equal(net.U, U)


def test_st_file_is_refused_by_the_relu_loader_with_a_pointer(tmp_path, rng):
    path = tmp_path / "st.npz"
    save_st_network(
        path, STNetwork(U=rng.standard_normal((2, 3)), thresholds=np.zeros(2), v=np.ones(2))
    )
    with pytest.raises(ValueError, match="load_st_network"):
        load_network(path)


def test_relu_round_trip_with_metadata(tmp_path, rng):
    path = tmp_path / "relu.npz"
    net = ReluNetwork(rng.standard_normal((2, 5)), rng.standard_normal(2))
    save_network(path, net, beta=0.1, kernel_size=np.array([3]))
    back = load_network(path)
    np.testing.assert_array_equal(back.U, net.U)
    np.testing.assert_array_equal(back.v, net.v)
