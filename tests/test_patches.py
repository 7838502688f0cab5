"""Patch matrices against an independent reference convolution (scipy.signal)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.signal import correlate

from cvxcnn.patches import Readout, centre_values, extract_patches
from cvxcnn.problem import make_problem, problem_from_matrix


def reference_network(images, U, v, kernel, stride, padding, bias):
    """conv (cross-correlation, zero padding) -> ReLU -> 1x1 conv, via scipy.signal.correlate."""
    batch = images if images.ndim == 2 + len(kernel) else images[:, None]
    pads = ((0, 0),) + tuple(padding)
    out = 0.0
    for u, vj in zip(U, v, strict=True):
        filt = u[: batch.shape[1] * int(np.prod(kernel))].reshape(batch.shape[1], *kernel)
        b = u[-1] if bias else 0.0
        maps = []
        for img in batch:
            padded = np.pad(img, pads)
            full = correlate(padded, filt, mode="valid")[0]  # channels summed by 'valid'
            maps.append(full[tuple(slice(None, None, s) for s in stride)] + b)
        out = out + np.maximum(np.stack(maps), 0.0) * vj
    return out


def same_pads(kernel):
    return tuple(((k - 1) // 2, k - 1 - (k - 1) // 2) for k in kernel)


CASES_2D = [
    # (channels, H, W, kernel, stride, padding, bias)
    (1, 6, 7, (3, 3), (1, 1), "same", False),
    (1, 6, 7, (3, 3), (1, 1), "same", True),
    (3, 5, 6, (2, 3), (1, 1), "same", True),
    (2, 8, 8, (3, 3), (2, 2), "valid", False),
    (1, 7, 9, (4, 2), (2, 3), 1, True),
    (2, 5, 5, (5, 5), (1, 1), "same", False),
]


@pytest.mark.parametrize(("C", "H", "W", "kernel", "stride", "padding", "bias"), CASES_2D)
def test_2d_network_matches_scipy_convolution(C, H, W, kernel, stride, padding, bias, rng):
    images = rng.standard_normal((3, C, H, W)) if C > 1 else rng.standard_normal((3, H, W))
    p = extract_patches(images, kernel, stride=stride, padding=padding, bias=bias)
    U = rng.standard_normal((4, p.d))
    v = rng.standard_normal(4)
    ours = (np.maximum(p.Y @ U.T, 0) @ v).reshape(3, *p.geometry.output_shape)
    pads = (
        same_pads(kernel)
        if padding == "same"
        else ((0, 0), (0, 0))
        if padding == "valid"
        else ((padding, padding),) * 2
    )
    ref = reference_network(images, U, v, kernel, stride, pads, bias)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-12)


@pytest.mark.parametrize(("kernel", "stride", "bias"), [(3, 1, False), (4, 1, True), (5, 2, True)])
def test_1d_network_matches_scipy_convolution(kernel, stride, bias, rng):
    signals = rng.standard_normal((2, 11))
    p = extract_patches(signals, kernel, stride=stride, bias=bias)
    assert p.geometry.spatial_dims == 1
    U = rng.standard_normal((3, p.d))
    v = rng.standard_normal(3)
    ours = (np.maximum(p.Y @ U.T, 0) @ v).reshape(2, -1)
    ref = reference_network(signals, U, v, (kernel,), (stride,), same_pads((kernel,)), bias)
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_multichannel_1d_needs_explicit_spatial_dims(rng):
    signals = rng.standard_normal((2, 3, 10))
    p = extract_patches(signals, 3, spatial_dims=1)
    assert p.Y.shape == (20, 9)
    U, v = rng.standard_normal((2, 9)), rng.standard_normal(2)
    ref = reference_network(signals, U, v, (3,), (1,), same_pads((3,)), False)
    np.testing.assert_allclose((np.maximum(p.Y @ U.T, 0) @ v).reshape(2, -1), ref, atol=1e-12)


def test_torch_conv_agrees_when_installed(rng):
    torch = pytest.importorskip("torch")
    images = rng.standard_normal((2, 2, 6, 6))
    p = extract_patches(images, 3, bias=True)
    U, v = rng.standard_normal((5, p.d)), rng.standard_normal(5)
    conv = torch.nn.functional.conv2d(
        torch.tensor(images),
        torch.tensor(U[:, :-1].reshape(5, 2, 3, 3)),
        torch.tensor(U[:, -1]),
        padding="same",
    )
    ref = (torch.relu(conv) * torch.tensor(v)[None, :, None, None]).sum(1).numpy()
    ours = (np.maximum(p.Y @ U.T, 0) @ v).reshape(2, 6, 6)
    np.testing.assert_allclose(ours, ref, atol=1e-10)


def test_centre_values_same_padding_is_the_image(rng):
    images = rng.standard_normal((2, 5, 6))
    for k in (1, 2, 3, 4):
        p = extract_patches(images, k)
        np.testing.assert_array_equal(centre_values(images, p.geometry), images.reshape(-1))


def test_centre_values_agree_with_patch_centre_column(rng):
    images = rng.standard_normal((2, 7, 7))
    for stride, padding in itertools.product((1, 2), ("same", "valid", 2)):
        p = extract_patches(images, 3, stride=stride, padding=padding)
        # with a 3x3 single-channel kernel the centre pixel is column 4 of Y
        np.testing.assert_array_equal(centre_values(images, p.geometry), p.Y[:, 4])


def test_readouts_match_their_sparse_matrix(rng):
    for kind in ("identity", "sum", "mean"):
        ro = Readout(kind, n_images=3, positions=4)
        values = rng.standard_normal(12)
        np.testing.assert_allclose(ro.apply(values), ro.matrix @ values)
        out = rng.standard_normal(ro.n_out)
        np.testing.assert_allclose(ro.adjoint(out), ro.matrix.T @ out)
        assert ro.matrix.shape == (ro.n_out, 12)


def test_residual_target_and_offset(rng):
    clean = rng.random((2, 4, 4))
    noisy = clean + 0.1 * rng.standard_normal(clean.shape)
    pb = make_problem(noisy, clean, kernel_size=3, residual=True)
    np.testing.assert_allclose(pb.target + pb.offset, clean.reshape(-1))
    np.testing.assert_allclose(pb.offset, noisy.reshape(-1))


def test_sum_readout_problem_takes_one_target_per_image(rng):
    images = rng.random((3, 4, 4))
    pb = make_problem(images, np.array([1.0, -1.0, 1.0]), kernel_size=3, readout="sum")
    assert pb.readout.n_out == 3 and pb.target.shape == (3,)
    with pytest.raises(ValueError, match="one value per image"):
        make_problem(images, images, kernel_size=3, readout="mean")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda x: extract_patches(x, 9), "kernel_size 9 is larger"),
        (lambda x: extract_patches(x, 0), "kernel_size must be >= 1"),
        (lambda x: extract_patches(x, 3, padding="full"), "padding must be"),
        (lambda x: extract_patches(x, (3, 3, 3)), "tuple of 2"),
        (lambda x: extract_patches(x[:, 0], 3, spatial_dims=3), "spatial_dims must be 1 or 2"),
        (lambda x: extract_patches(np.where(x > 0, np.nan, x), 3), "NaN"),
        (lambda x: make_problem(x, x[:1], kernel_size=3), "targets has 1 images"),
        (lambda x: make_problem(x, x, kernel_size=3, readout="max"), "readout must be one of"),
        (lambda x: make_problem(x, x, kernel_size=3, readout="sum", residual=True), "residual"),
        (lambda x: problem_from_matrix(np.ones((4, 2)), np.ones(3)), "target has length 3"),
    ],
)
def test_bad_input_raises_clear_errors(call, match, rng):
    with pytest.raises((ValueError, TypeError), match=match):
        call(rng.standard_normal((2, 4, 4)))


def test_readout_kind_checked_on_construction():
    with pytest.raises(ValueError, match=r"readout must be one of \('identity', 'sum', 'mean'\)"):
        Readout("max", 1, 4)


def test_shape_properties_read_the_patch_matrix(rng):
    images = rng.random((2, 5, 5))
    patches = extract_patches(images, 3, bias=True)
    problem = make_problem(images, images, kernel_size=3, bias=True)
    assert (patches.n, patches.d) == (problem.n, problem.d) == (50, 10)
    assert isinstance(type(problem).n, property) and type(problem).d.__doc__
