"""Tests for cvxcnn.data and cvxcnn.metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvxcnn.data import (
    DATASETS,
    NOISE_TYPES,
    PAPER_EXPONENTIAL_SCALE,
    DenoisingData,
    add_noise,
    load_camera,
    load_dataset,
    load_digits,
    load_npz,
    load_phantom,
    synthetic_1d,
)
from cvxcnn.metrics import mse, psnr

LOADERS = {
    "digits": lambda **kw: load_digits(3, **kw),
    "phantom": lambda **kw: load_phantom(3, size=16, **kw),
    "camera": lambda **kw: load_camera(3, size=16, **kw),
    "synthetic1d": lambda **kw: synthetic_1d(3, length=32, **kw),
}
SHAPES = {
    "digits": (3, 8, 8),
    "phantom": (3, 16, 16),
    "camera": (3, 16, 16),
    "synthetic1d": (3, 32),
}


# --------------------------------------------------------------------------- #
# Built-in loaders
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", DATASETS)
def test_loader_shapes_dtypes_ranges(name: str) -> None:
    data = LOADERS[name](noise=0.1)
    assert isinstance(data, DenoisingData)
    assert data.name == name
    assert data.noisy.shape == data.clean.shape == SHAPES[name]
    assert data.noisy.dtype == data.clean.dtype == np.float64
    assert data.n_images == 3
    assert data.spatial_dims == (1 if name == "synthetic1d" else 2)
    assert data.noise == 0.1 and data.noise_type == "gaussian"
    assert data.clean.min() >= 0.0 and data.clean.max() <= 1.0
    assert data.clean.max() > data.clean.min()
    assert not np.allclose(data.noisy, data.clean)


@pytest.mark.parametrize("name", DATASETS)
def test_loader_seeding(name: str) -> None:
    a = LOADERS[name](random_state=1)
    b = LOADERS[name](random_state=1)
    c = LOADERS[name](random_state=2)
    np.testing.assert_array_equal(a.noisy, b.noisy)
    np.testing.assert_array_equal(a.clean, b.clean)
    assert not np.array_equal(a.noisy, c.noisy)


@pytest.mark.parametrize("name", DATASETS)
def test_loader_accepts_generator(name: str) -> None:
    data = LOADERS[name](random_state=np.random.default_rng(5))
    assert data.noisy.shape == SHAPES[name]


@pytest.mark.parametrize("name", DATASETS)
def test_zero_noise_is_recorded_as_none(name: str) -> None:
    data = LOADERS[name](noise=0.0, noise_type="exponential")
    np.testing.assert_array_equal(data.noisy, data.clean)
    assert data.noise == 0.0 and data.noise_type == "none"


@pytest.mark.parametrize("name", DATASETS)
def test_offset_indexes_one_sequence(name: str) -> None:
    """Image j does not depend on how many images are asked for or from where."""
    full = load_dataset(name, n_images=5, size=None if name == "digits" else 16)
    tail = load_dataset(name, n_images=3, offset=2, size=None if name == "digits" else 16)
    np.testing.assert_array_equal(full.clean[2:], tail.clean)
    np.testing.assert_array_equal(full.noisy[2:], tail.noisy)


def test_digits_offset_gives_disjoint_images() -> None:
    train = load_digits(300, random_state=3)
    test = load_digits(300, random_state=3, offset=300)
    train_rows = {row.tobytes() for row in train.clean.reshape(300, -1)}
    test_rows = {row.tobytes() for row in test.clean.reshape(300, -1)}
    assert len(train_rows) == len(test_rows) == 300
    assert not train_rows & test_rows
    # the seed permutes the images: another seed gives another selection
    other = load_digits(300, random_state=4)
    assert train_rows != {row.tobytes() for row in other.clean.reshape(300, -1)}


def test_digits_values_are_sixteenths() -> None:
    data = load_digits(50, noise=0.0)
    np.testing.assert_allclose(data.clean * 16, np.round(data.clean * 16))


def test_digits_too_many_images() -> None:
    assert load_digits(1797, noise=0.0).n_images == 1797
    with pytest.raises(ValueError, match="1797"):
        load_digits(1798)
    with pytest.raises(ValueError, match="1797"):
        load_digits(10, offset=1790)


def test_phantom_flips_then_repeats() -> None:
    data = load_phantom(9, size=16)
    flat = data.clean.reshape(9, -1)
    assert len({row.tobytes() for row in flat[:8]}) == 8
    np.testing.assert_array_equal(data.clean[8], data.clean[0])
    assert not np.array_equal(data.noisy[8], data.noisy[0])


def test_camera_crops_distinct_and_first_is_whole_picture() -> None:
    data = load_camera(20, size=16, noise=0.0)
    assert len({img.tobytes() for img in data.clean}) == 20
    whole = load_camera(1, size=16, noise=0.0, random_state=99)
    np.testing.assert_array_equal(whole.clean[0], data.clean[0])
    with pytest.raises(ValueError, match="distinct images"):
        load_camera(2, size=512)


def test_synthetic_signals_differ() -> None:
    data = synthetic_1d(10, length=64, noise=0.0)
    assert len({row.tobytes() for row in data.clean}) == 10
    np.testing.assert_allclose(data.clean.min(axis=1), 0.0)
    np.testing.assert_allclose(data.clean.max(axis=1), 1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_images": 0}, "n_images"),
        ({"noise": -0.1}, "noise"),
        ({"noise": float("nan")}, "noise"),
        ({"noise_type": "poisson"}, "gaussian.*exponential"),
        ({"offset": -1}, "offset"),
        ({"random_state": -3}, "random_state"),
    ],
)
def test_loader_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_dataset("phantom", **{"size": 8, **kwargs})


def test_size_validation() -> None:
    for loader in (load_phantom, load_camera):
        with pytest.raises(ValueError, match="size"):
            loader(1, size=3)
    with pytest.raises(ValueError, match="length"):
        synthetic_1d(1, length=3)
    with pytest.raises(TypeError, match="random_state"):
        load_digits(1, random_state="seed")


# --------------------------------------------------------------------------- #
# Noise
# --------------------------------------------------------------------------- #
def test_gaussian_noise_statistics() -> None:
    clean = np.full((400, 500), 0.3)
    noise = add_noise(clean, 0.5, random_state=0) - clean
    assert abs(noise.mean()) < 0.01
    assert noise.std() == pytest.approx(0.5, rel=0.01)
    assert noise.min() < 0 < noise.max()


def test_exponential_noise_statistics() -> None:
    scale = PAPER_EXPONENTIAL_SCALE
    assert scale == pytest.approx(1 / 1.15)
    clean = np.zeros((400, 500))
    noise = add_noise(clean, scale, kind="exponential", random_state=0)
    assert noise.min() >= 0.0
    # exponential with scale b: mean b, std b, median b ln 2; heavier tail than gaussian
    assert noise.mean() == pytest.approx(scale, rel=0.01)
    assert noise.std() == pytest.approx(scale, rel=0.02)
    assert np.median(noise) == pytest.approx(scale * np.log(2), rel=0.02)
    assert noise.var() > 0.75**2


def test_loader_noise_statistics() -> None:
    data = load_digits(1797, noise=0.25, random_state=0)
    resid = data.noisy - data.clean
    assert abs(resid.mean()) < 0.005
    assert resid.std() == pytest.approx(0.25, rel=0.02)
    expo = load_digits(1797, noise=0.4, noise_type="exponential", random_state=0)
    resid = expo.noisy - expo.clean
    assert resid.min() >= 0
    assert resid.mean() == pytest.approx(0.4, rel=0.02)
    assert expo.noise_type == "exponential"


def test_add_noise_contract() -> None:
    clean = np.arange(12.0).reshape(3, 4)
    out = add_noise(clean, 0.0, random_state=0)
    np.testing.assert_array_equal(out, clean)
    assert out is not clean
    np.testing.assert_array_equal(
        add_noise(clean, 0.2, random_state=7), add_noise(clean, 0.2, random_state=7)
    )
    with pytest.raises(ValueError, match="gaussian"):
        add_noise(clean, 0.1, kind="laplace")
    with pytest.raises(ValueError, match="level"):
        add_noise(clean, -1.0)
    assert set(NOISE_TYPES) == {"gaussian", "exponential"}


# --------------------------------------------------------------------------- #
# DenoisingData
# --------------------------------------------------------------------------- #
def test_subset() -> None:
    data = load_digits(6, random_state=0)
    one = data.subset(2)
    assert one.noisy.shape == (1, 8, 8)
    np.testing.assert_array_equal(one.clean[0], data.clean[2])
    mask = np.array([True, False, True, False, False, True])
    picked = data.subset(mask)
    np.testing.assert_array_equal(picked.noisy, data.noisy[[0, 2, 5]])
    assert picked.name == data.name and picked.noise == data.noise
    assert data.subset(slice(1, 4)).n_images == 3
    with pytest.raises(ValueError, match="no image"):
        data.subset(slice(0, 0))


def test_container_validation() -> None:
    x = np.zeros((2, 4, 4))
    with pytest.raises(ValueError, match="clean"):
        DenoisingData(x, np.zeros((2, 4, 5)), "x", 2, 0.0, "none")
    with pytest.raises(ValueError, match="spatial_dims"):
        DenoisingData(x, x, "x", 1, 0.0, "none")
    with pytest.raises(ValueError, match="noise_type"):
        DenoisingData(x, x, "x", 2, 0.0, "salt")
    with pytest.raises(ValueError, match="noisy"):
        DenoisingData(np.full((2, 4, 4), np.nan), x, "x", 2, 0.0, "none")
    with pytest.raises(AttributeError):
        DenoisingData(x, x, "x", 2, 0.0, "none").name = "y"  # type: ignore[misc]
    multi = DenoisingData(np.zeros((2, 3, 4, 4)), x, "x", 2, 0.0, "unknown")
    assert multi.clean.shape == (2, 4, 4)


# --------------------------------------------------------------------------- #
# npz
# --------------------------------------------------------------------------- #
def _save(tmp_path: Path, name: str = "pairs.npz", **arrays: object) -> Path:
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("noisy_shape", "clean_shape", "spatial_dims"),
    [
        ((5, 20), (5, 20), 1),
        ((5, 6, 7), (5, 6, 7), 2),
        ((5, 3, 6, 7), (5, 3, 6, 7), 2),
        ((5, 3, 6, 7), (5, 6, 7), 2),
        ((5, 3, 6, 7), (5, 1, 6, 7), 2),
    ],
)
def test_npz_round_trip(
    tmp_path: Path, noisy_shape: tuple, clean_shape: tuple, spatial_dims: int
) -> None:
    rng = np.random.default_rng(0)
    noisy = rng.normal(size=noisy_shape)
    clean = rng.normal(size=clean_shape).astype(np.float32)
    path = _save(tmp_path, noisy=noisy, clean=clean, extra=np.arange(3))
    data = load_npz(path)
    np.testing.assert_array_equal(data.noisy, noisy)
    np.testing.assert_allclose(data.clean, clean)
    assert data.clean.dtype == data.noisy.dtype == np.float64
    assert data.spatial_dims == spatial_dims
    assert data.name == "pairs"
    assert data.noise == 0.0 and data.noise_type == "unknown"
    assert load_npz(str(path)).n_images == 5


def test_npz_integer_arrays_accepted(tmp_path: Path) -> None:
    img = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    data = load_npz(_save(tmp_path, noisy=img, clean=img))
    assert data.noisy.dtype == np.float64
    np.testing.assert_array_equal(data.clean, img)


GOOD = np.zeros((2, 4, 4))


@pytest.mark.parametrize(
    ("arrays", "error", "match"),
    [
        ({"noisy": GOOD}, ValueError, r"missing array 'clean'.*\['noisy'\]"),
        ({"clean": GOOD, "x": GOOD}, ValueError, r"missing array 'noisy'.*\['clean', 'x'\]"),
        ({"noisy": GOOD, "clean": np.zeros((2, 4, 5))}, ValueError, r"'clean'.*\(2, 4, 5\)"),
        ({"noisy": GOOD, "clean": np.zeros((3, 4, 4))}, ValueError, r"\(2, 4, 4\)"),
        ({"noisy": np.zeros(4), "clean": np.zeros(4)}, ValueError, "'noisy'.*1-D"),
        ({"noisy": GOOD, "clean": np.zeros((1, 2, 1, 4, 4))}, ValueError, "'clean'.*5-D"),
        ({"noisy": np.zeros((2, 3, 4)), "clean": np.zeros((2, 4))}, ValueError, "'clean'"),
        (
            {"noisy": np.where(np.eye(4) > 0, np.nan, 0.0)[None], "clean": np.zeros((1, 4, 4))},
            ValueError,
            "'noisy' contains 4 NaN",
        ),
        ({"noisy": GOOD, "clean": np.full((2, 4, 4), np.inf)}, ValueError, "'clean'.*infinite"),
        (
            {"noisy": np.zeros((0, 4, 4)), "clean": np.zeros((0, 4, 4))},
            ValueError,
            "'noisy'.*empty",
        ),
        ({"noisy": np.full((2, 4, 4), "a"), "clean": GOOD}, TypeError, "'noisy'.*numeric"),
        ({"noisy": GOOD, "clean": GOOD.astype(complex)}, TypeError, "'clean'.*real"),
        (
            {"noisy": GOOD, "clean": np.empty((2, 4, 4), dtype=object)},
            TypeError,
            "'clean'.*object",
        ),
    ],
)
def test_npz_validation_errors(
    tmp_path: Path, arrays: dict, error: type[Exception], match: str
) -> None:
    path = _save(tmp_path, **arrays)
    with pytest.raises(error, match=match) as info:
        load_npz(path)
    assert "pairs.npz" in str(info.value)


def test_npz_bad_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_npz(tmp_path / "missing.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_text("not an archive")
    with pytest.raises(ValueError, match="garbage.npz"):
        load_npz(garbage)
    single = tmp_path / "single.npz"
    with single.open("wb") as fh:
        np.save(fh, GOOD)
    with pytest.raises(ValueError, match="single array"):
        load_npz(single)


# --------------------------------------------------------------------------- #
# Dispatcher
# --------------------------------------------------------------------------- #
def test_load_dataset_dispatch() -> None:
    assert load_dataset("digits", n_images=2).noisy.shape == (2, 8, 8)
    assert load_dataset("DIGITS", n_images=2, size=8).name == "digits"
    assert load_dataset("phantom", n_images=2, size=12).noisy.shape == (2, 12, 12)
    assert load_dataset("camera", n_images=2).noisy.shape == (2, 32, 32)
    assert load_dataset("synthetic1d", n_images=2).noisy.shape == (2, 64)
    assert load_dataset("synthetic1d", n_images=None, size=40).noisy.shape == (1, 40)
    assert load_dataset("digits", n_images=None).n_images == 4
    data = load_dataset("phantom", n_images=1, size=8, noise=0.3, noise_type="exponential")
    assert (data.noise, data.noise_type) == (0.3, "exponential")
    np.testing.assert_array_equal(
        load_dataset("digits", n_images=3, random_state=4, offset=5).noisy,
        load_digits(3, random_state=4, offset=5).noisy,
    )


def test_load_dataset_unknown_and_bad_arguments() -> None:
    with pytest.raises(ValueError, match="digits, phantom, camera, synthetic1d") as info:
        load_dataset("mnist")
    assert ".npz" in str(info.value)
    with pytest.raises(ValueError, match="8x8"):
        load_dataset("digits", size=16)
    with pytest.raises(TypeError, match="name"):
        load_dataset(3)  # type: ignore[arg-type]


def test_load_dataset_npz(tmp_path: Path) -> None:
    noisy = np.arange(6 * 10, dtype=float).reshape(6, 10)
    path = _save(tmp_path, "mine.npz", noisy=noisy, clean=noisy + 1)
    assert load_dataset(str(path), n_images=None).n_images == 6
    block = load_dataset(path, n_images=2, offset=3)
    np.testing.assert_array_equal(block.noisy, noisy[3:5])
    assert block.name == "mine" and block.spatial_dims == 1
    with pytest.raises(ValueError, match="6 images"):
        load_dataset(path, n_images=4, offset=3)
    with pytest.raises(ValueError, match="size"):
        load_dataset(path, size=8)


# --------------------------------------------------------------------------- #
# Metrics
# --------------------------------------------------------------------------- #
def test_psnr_identical_is_inf() -> None:
    x = np.random.default_rng(0).random((3, 5, 5))
    assert psnr(x, x) == np.inf
    assert mse(x, x) == 0.0


def test_psnr_known_values() -> None:
    ref = np.array([[0.0, 1.0], [1.0, 0.0]])
    est = ref + 0.1
    assert mse(est, ref) == pytest.approx(0.01)
    assert psnr(est, ref) == pytest.approx(20.0)
    assert psnr(est, ref, data_range=2.0) == pytest.approx(20.0 + 20 * np.log10(2))
    assert psnr(ref * 255 + 25.5, ref * 255) == pytest.approx(20.0)
    constant = np.full(4, 3.0)  # zero range: data_range falls back to 1
    assert psnr(constant + 0.1, constant) == pytest.approx(20.0)


def test_metric_validation() -> None:
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        psnr(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"\(4,\).*\(5,\)"):
        mse(np.zeros(4), np.zeros(5))
    with pytest.raises(ValueError, match="data_range"):
        psnr(np.zeros(4), np.ones(4), data_range=0.0)
    with pytest.raises(ValueError, match="estimate"):
        psnr(np.array([np.nan]), np.zeros(1))


@settings(max_examples=30, deadline=None)
@given(
    shift=st.floats(1e-3, 10.0),
    data_range=st.floats(1e-2, 100.0),
    n=st.integers(1, 20),
)
def test_psnr_constant_shift(shift: float, data_range: float, n: int) -> None:
    ref = np.linspace(0.0, 1.0, n)
    value = psnr(ref + shift, ref, data_range=data_range)
    assert value == pytest.approx(20 * np.log10(data_range / shift), abs=1e-6)
    assert mse(ref - shift, ref) == pytest.approx(shift**2)
