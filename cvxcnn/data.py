"""Denoising datasets: clean/noisy pairs for 1-D signals and 2-D images.

Every loader returns a :class:`DenoisingData` with float64 arrays ``noisy`` and
``clean``.  Nothing is downloaded: the images come from files shipped inside
scikit-learn (8x8 digits) and scikit-image (Shepp-Logan phantom, cameraman), or
are generated.

Noise models
------------
The noise is additive and i.i.d. per pixel, ``noisy = clean + E``, following
Sahiner et al., "Convex Regularization behind Neural Reconstruction" (ICLR 2021):

``"gaussian"``
    ``E ~ N(0, level**2)``: zero-mean, standard deviation ``level`` (Sec. 5.1
    uses sigma in {0.25, 0.5, 0.75} on MNIST).
``"exponential"``
    ``E ~ Exponential`` with *scale* ``level`` (density
    ``exp(-e / level) / level`` for ``e >= 0``), so the noise is non-negative,
    **not centred**, with mean ``level`` and standard deviation ``level``.
    App. B.1 of the paper uses "i.i.d. exponentially distributed noise, with
    lambda = 1.15" as a heavy-tailed, higher-variance alternative to zero-mean
    Gaussian noise with sigma = 0.75.  We read lambda as the *rate* (the usual
    ``Exp(lambda)`` convention, and PyTorch's ``Tensor.exponential_(lambd)``),
    i.e. scale ``1 / 1.15 ~= 0.87`` (:data:`PAPER_EXPONENTIAL_SCALE`); its
    variance ``1 / 1.15**2 ~= 0.76`` is indeed larger than ``0.75**2``.  The
    paper describes only the Gaussian noise as zero-mean, so the exponential
    noise is added without subtracting its mean.

Seeding
-------
Every random choice is drawn from ``random_state``.  For an int seed (or
``None``) the loaders treat a dataset as an indexed sequence of images: the
clean image and the noise of image ``j`` depend only on ``(random_state, j)``.
A call with ``offset=k`` returns images ``k, ..., k + n_images - 1`` of that
sequence, so ``offset=0`` and ``offset=n_train`` with the same int seed give
disjoint train/test sets (and a test image never reuses a training image's noise
draw).  A ``numpy.random.Generator`` is also accepted; it is consumed once to
derive a seed, so two calls with the same Generator object give unrelated
sequences and ``offset`` then does not guarantee disjointness -- pass an int
for train/test splits.

Loader arguments
----------------
Every built-in loader (:func:`load_digits`, :func:`load_phantom`,
:func:`load_camera`, :func:`synthetic_1d`) takes, besides its count and size:

``noise`` : float
    Noise level ``>= 0`` (see :func:`add_noise`); 0 gives ``noisy == clean``
    and ``noise_type="none"`` in the result.
``noise_type`` : {"gaussian", "exponential"}
    Noise model (see :func:`add_noise`).
``random_state`` : int, numpy.random.Generator or None
    Seeds every random choice of the loader (see *Seeding*).
``offset`` : int
    Index ``>= 0`` of the first image of the sequence (see *Seeding*).
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cvxcnn.validation import (
    check_choice,
    check_finite_array,
    check_positive,
    check_positive_int,
    check_random_state,
)

__all__ = [
    "DATASETS",
    "NOISE_TYPES",
    "PAPER_EXPONENTIAL_SCALE",
    "DenoisingData",
    "add_noise",
    "load_camera",
    "load_dataset",
    "load_digits",
    "load_npz",
    "load_phantom",
    "synthetic_1d",
]

#: Names of the built-in datasets accepted by :func:`load_dataset`.
DATASETS: tuple[str, ...] = ("digits", "phantom", "camera", "synthetic1d")

#: Noise models accepted by :func:`add_noise` and the loaders.
NOISE_TYPES: tuple[str, ...] = ("gaussian", "exponential")

#: Scale of the exponential noise of Sahiner et al. (2021), App. B.1 (rate 1.15).
PAPER_EXPONENTIAL_SCALE: float = 1.0 / 1.15

_RECORDED_NOISE_TYPES = ("gaussian", "exponential", "none", "unknown")
_N_DIGITS = 1797
_MIN_SIZE = 4

# Keys of the independent random streams derived from one seed.
_STREAM_SELECT = 0  # which images / crops
_STREAM_NOISE = 1  # noise of image j
_STREAM_SIGNAL = 2  # synthetic clean signal j


# --------------------------------------------------------------------------- #
# Container
# --------------------------------------------------------------------------- #
def _pair_compatible(noisy_shape: tuple[int, ...], clean_shape: tuple[int, ...]) -> bool:
    """Whether ``clean`` may serve as the target of ``noisy``."""
    if clean_shape == noisy_shape:
        return True
    if len(noisy_shape) == 4:
        n, _, h, w = noisy_shape
        return clean_shape in ((n, h, w), (n, 1, h, w))
    return False


@dataclass(frozen=True, eq=False)
class DenoisingData:
    """Clean/noisy pairs for training or evaluating a denoiser.

    Parameters
    ----------
    noisy : ndarray of float64
        Network inputs: shape ``(N, L)`` for 1-D signals, ``(N, H, W)`` for
        single-channel 2-D images or ``(N, C, H, W)`` for 2-D images with
        ``C`` channels.
    clean : ndarray of float64
        Targets, same shape as ``noisy``; when ``noisy`` is ``(N, C, H, W)``
        a single-channel target of shape ``(N, H, W)`` or ``(N, 1, H, W)`` is
        also accepted.
    name : str
        Dataset name (or file stem for user data).
    spatial_dims : int
        1 for signals ``(N, L)``, 2 for images.
    noise : float
        Noise level: standard deviation for ``"gaussian"``, scale (= mean =
        standard deviation) for ``"exponential"``; 0 when there is no noise or
        it is unknown.
    noise_type : str
        One of ``"gaussian"``, ``"exponential"``, ``"none"`` (``noise == 0``)
        or ``"unknown"`` (user data).

    Notes
    -----
    Arrays are converted to float64 and validated (finite, non-empty,
    compatible shapes) on construction.
    """

    noisy: np.ndarray = field(repr=False)
    clean: np.ndarray = field(repr=False)
    name: str
    spatial_dims: int
    noise: float
    noise_type: str

    def __post_init__(self) -> None:
        noisy = check_finite_array(self.noisy, "noisy", ndim=(2, 3, 4))
        clean = check_finite_array(self.clean, "clean", ndim=(2, 3, 4))
        if not _pair_compatible(noisy.shape, clean.shape):
            raise ValueError(
                f"clean has shape {clean.shape}, incompatible with noisy {noisy.shape}; "
                "clean must have the same shape as noisy (or (N, H, W) / (N, 1, H, W) "
                "when noisy is (N, C, H, W))"
            )
        expected_dims = 1 if noisy.ndim == 2 else 2
        if self.spatial_dims != expected_dims:
            raise ValueError(
                f"spatial_dims={self.spatial_dims!r} does not match noisy of shape "
                f"{noisy.shape}; use {expected_dims} ((N, L) is 1-D, (N, H, W) and "
                "(N, C, H, W) are 2-D)"
            )
        check_choice(self.noise_type, "noise_type", _RECORDED_NOISE_TYPES)
        object.__setattr__(self, "noisy", noisy)
        object.__setattr__(self, "clean", clean)
        object.__setattr__(self, "noise", check_positive(self.noise, "noise", allow_zero=True))
        object.__setattr__(self, "name", str(self.name))

    @property
    def n_images(self) -> int:
        """Number of images (or signals) ``N``."""
        return int(self.noisy.shape[0])

    def subset(self, index: int | slice | Sequence[int] | np.ndarray) -> DenoisingData:
        """Return a copy holding only the selected images.

        Parameters
        ----------
        index : int, slice, sequence of int or ndarray of int or bool
            Images to keep, as for ``noisy[index]``; an int keeps the image
            axis (the result has ``N = 1``).

        Returns
        -------
        DenoisingData
            Same metadata, arrays of shape ``(len(selection), ...)``.
        """
        selected = np.atleast_1d(np.arange(self.n_images)[index])
        if selected.size == 0:
            raise ValueError(f"index {index!r} selects no image out of {self.n_images}")
        return replace(self, noisy=self.noisy[selected], clean=self.clean[selected])


# --------------------------------------------------------------------------- #
# Noise and seeding
# --------------------------------------------------------------------------- #
def add_noise(
    clean: np.ndarray,
    level: float,
    *,
    kind: str = "gaussian",
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Return ``clean`` plus i.i.d. additive noise.

    Parameters
    ----------
    clean : array_like, any shape
        Clean data.
    level : float
        Noise level, ``>= 0``: standard deviation for ``kind="gaussian"``,
        scale (= mean = standard deviation) for ``kind="exponential"``.
    kind : {"gaussian", "exponential"}
        ``"gaussian"``: ``N(0, level**2)``.  ``"exponential"``: exponential
        with scale ``level`` (rate ``1 / level``), non-negative and *not*
        centred, as in Sahiner et al. (2021), App. B.1 (rate 1.15, i.e.
        ``level = PAPER_EXPONENTIAL_SCALE``).
    random_state : int, numpy.random.Generator or None
        Seed or generator for the noise draw.

    Returns
    -------
    ndarray of float64, same shape as ``clean``
        ``clean + noise``; a copy of ``clean`` when ``level == 0``.
    """
    x = check_finite_array(clean, "clean")
    level = check_positive(level, "level", allow_zero=True)
    kind = str(check_choice(kind, "noise_type", NOISE_TYPES))
    rng = check_random_state(random_state)
    if level == 0:
        return x.copy()
    if kind == "gaussian":
        return x + rng.normal(0.0, level, size=x.shape)
    return x + rng.exponential(level, size=x.shape)


def _root_seed(random_state: object) -> np.random.SeedSequence:
    """Root seed sequence; ``None`` draws fresh OS entropy."""
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(2**63)))
    if isinstance(random_state, numbers.Integral) and int(random_state) < 0:
        raise ValueError(f"random_state must be a non-negative int seed; got {random_state!r}")
    check_random_state(random_state)  # type check: None or int
    return np.random.SeedSequence(None if random_state is None else int(random_state))


def _stream(root: np.random.SeedSequence, *key: int) -> np.random.Generator:
    """Independent generator for ``key`` (e.g. ``(_STREAM_NOISE, j)``) under ``root``."""
    return np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=key))


def _make_noisy(
    clean: np.ndarray,
    indices: Sequence[int] | np.ndarray,
    noise: float,
    noise_type: str,
    root: np.random.SeedSequence,
) -> np.ndarray:
    """Add noise to ``clean[i]`` from the stream of global image index ``indices[i]``."""
    noisy = np.empty_like(clean)
    for i, j in enumerate(indices):
        noisy[i] = add_noise(
            clean[i], noise, kind=noise_type, random_state=_stream(root, _STREAM_NOISE, int(j))
        )
    return noisy


@dataclass(frozen=True)
class _Draw:
    """One validated loader call: which images of a dataset's sequence, and their noise.

    Built by :func:`_draw`; a loader makes the clean images of :attr:`indices`
    (drawing any randomness from :meth:`stream`) and hands them to :meth:`finish`.
    """

    name: str
    spatial_dims: int
    indices: np.ndarray
    noise: float
    noise_type: str
    root: np.random.SeedSequence
    extent: int | None

    def stream(self, *key: int) -> np.random.Generator:
        """Independent generator for ``key`` under this call's root seed (see :func:`_stream`)."""
        return _stream(self.root, *key)

    def finish(self, clean: np.ndarray) -> DenoisingData:
        """``clean`` with the noise of its global image indices added, as a DenoisingData."""
        noisy = _make_noisy(clean, self.indices, self.noise, self.noise_type, self.root)
        return DenoisingData(
            noisy=noisy,
            clean=clean,
            name=self.name,
            spatial_dims=self.spatial_dims,
            noise=self.noise,
            noise_type=self.noise_type if self.noise > 0 else "none",
        )


def _draw(
    name: str,
    spatial_dims: int,
    n_images: object,
    noise: object,
    noise_type: object,
    random_state: object,
    offset: object,
    extent: tuple[str, object] | None = None,
    *,
    capacity: int | None = None,
) -> _Draw:
    """Validate the arguments every built-in loader shares; derive the root seed.

    Parameters
    ----------
    name : str
        Dataset name recorded in the result.
    spatial_dims : int
        1 for signals, 2 for images.
    n_images, noise, noise_type, random_state, offset
        The loader's arguments (see *Loader arguments* in the module docstring).
    extent : (str, int), optional
        The loader's size argument, ``(argument name, value)``; must be ``>= 4``.
    capacity : int, optional
        Number of images the dataset holds; ``offset + n_images`` must not exceed it.

    Returns
    -------
    _Draw
    """
    n_images = check_positive_int(n_images, "n_images")
    noise = check_positive(noise, "noise", allow_zero=True)
    noise_type = str(check_choice(noise_type, "noise_type", NOISE_TYPES))
    offset = check_positive_int(offset, "offset", minimum=0)
    if capacity is not None and offset + n_images > capacity:
        raise ValueError(
            f"{name} has {capacity} images; offset + n_images = {offset} + {n_images} = "
            f"{offset + n_images} exceeds it. Ask for fewer images or a smaller offset"
        )
    size = None
    if extent is not None:
        size = check_positive_int(extent[1], extent[0], minimum=_MIN_SIZE)
    return _Draw(
        name=name,
        spatial_dims=spatial_dims,
        indices=np.arange(offset, offset + n_images),
        noise=noise,
        noise_type=noise_type,
        root=_root_seed(random_state),
        extent=size,
    )


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    """Anti-aliased resize of a 2-D image in [0, 1] to ``(size, size)``, clipped to [0, 1]."""
    from skimage.transform import resize

    if image.shape == (size, size):
        return image.astype(np.float64, copy=True)
    out = resize(image, (size, size), order=1, mode="reflect", anti_aliasing=True)
    return np.clip(out, 0.0, 1.0)


# --------------------------------------------------------------------------- #
# Built-in datasets
# --------------------------------------------------------------------------- #
def load_digits(
    n_images: int = 4,
    *,
    noise: float = 0.25,
    noise_type: str = "gaussian",
    random_state: int | np.random.Generator | None = 0,
    offset: int = 0,
) -> DenoisingData:
    """Noisy 8x8 handwritten digits (scikit-learn's copy of the UCI digits).

    A small stand-in for the MNIST denoising experiments of Sahiner et al.
    (2021), Sec. 5.1; unlike the paper (which standardises pixels by the
    dataset mean and standard deviation), intensities are scaled from
    ``0..16`` to ``[0, 1]``.

    Parameters
    ----------
    n_images : int
        Number of images, ``1 <= offset + n_images <= 1797``.
    noise, noise_type, random_state, offset
        See *Loader arguments* in :mod:`cvxcnn.data`.  ``random_state`` seeds
        a permutation of the 1797 images and the noise draws; ``offset`` skips
        the first images of that permutation, so with the same int seed
        ``offset=n_train`` gives images disjoint from ``offset=0,
        n_images=n_train``.

    Returns
    -------
    DenoisingData
        ``noisy`` and ``clean`` of shape ``(n_images, 8, 8)``, ``clean`` in
        ``[0, 1]``; ``spatial_dims=2``.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    draw = _draw("digits", 2, n_images, noise, noise_type, random_state, offset, capacity=_N_DIGITS)
    images = _sk_load_digits().images.astype(np.float64) / 16.0
    order = draw.stream(_STREAM_SELECT).permutation(_N_DIGITS)
    return draw.finish(images[order[draw.indices]])


_DIHEDRAL: tuple[Callable[[np.ndarray], np.ndarray], ...] = (
    lambda a: a,
    lambda a: a[:, ::-1],
    lambda a: a[::-1, :],
    lambda a: a[::-1, ::-1],
    lambda a: a.T,
    lambda a: np.rot90(a, 1),
    lambda a: np.rot90(a, -1),
    lambda a: a[::-1, ::-1].T,
)


def _square_image_loader(name: str, clean_images: Callable[[_Draw], np.ndarray]) -> Callable:
    """The loader ``load_<name>`` of square images: arguments checked once, noise added once.

    ``clean_images(draw)`` returns the clean images of ``draw.indices``, shape
    ``(len(draw.indices), draw.extent, draw.extent)``; its docstring is the loader's.
    """

    def load(
        n_images: int = 1,
        *,
        size: int = 32,
        noise: float = 0.1,
        noise_type: str = "gaussian",
        random_state: int | np.random.Generator | None = 0,
        offset: int = 0,
    ) -> DenoisingData:
        draw = _draw(name, 2, n_images, noise, noise_type, random_state, offset, ("size", size))
        return draw.finish(clean_images(draw))

    load.__name__ = load.__qualname__ = f"load_{name}"
    load.__doc__ = clean_images.__doc__
    return load


def _phantom_images(draw: _Draw) -> np.ndarray:
    """Noisy Shepp-Logan phantom (``skimage.data.shepp_logan_phantom``).

    The 400x400 phantom (values in ``[0, 1]``) is resized with anti-aliasing
    to ``size x size``.  Image ``j`` (counting from ``offset``) is the
    ``j mod 8``-th of the eight flips/rotations of the square (identity,
    left-right flip, up-down flip, 180 degree rotation, transpose, 90 and
    270 degree rotations, anti-transpose), so up to 8 images have distinct
    clean targets; beyond that the clean images repeat and only the noise
    draws differ.  Image 0 is the phantom in its usual orientation.

    Parameters
    ----------
    n_images : int
        Number of images ``>= 1``.
    size : int
        Side length ``>= 4``.
    noise, noise_type, random_state, offset
        See *Loader arguments* in :mod:`cvxcnn.data`; ``random_state`` seeds
        only the noise (the clean images are deterministic).

    Returns
    -------
    DenoisingData
        ``noisy`` and ``clean`` of shape ``(n_images, size, size)``, ``clean``
        in ``[0, 1]``; ``spatial_dims=2``.
    """
    from skimage.data import shepp_logan_phantom

    base = _resize(np.asarray(shepp_logan_phantom(), dtype=np.float64), draw.extent)
    return np.stack([_DIHEDRAL[j % len(_DIHEDRAL)](base) for j in draw.indices]).copy()


def _camera_images(draw: _Draw) -> np.ndarray:
    """Noisy views of the cameraman image (``skimage.data.camera``).

    The 512x512 uint8 image is scaled to ``[0, 1]``.  Image 0 of the
    sequence is the whole picture resized (anti-aliased) to ``size x size``.
    Images ``1, 2, ...`` are distinct ``size x size`` crops, at seeded random
    positions without repetition, of the picture resized to
    ``R x R`` with ``R = min(2 * size, 512)`` (a 2x zoom while ``size <= 256``);
    there are ``(R - size + 1)**2`` such crops (none when ``size >= 512``).

    Parameters
    ----------
    n_images : int
        Number of images, ``1 <= offset + n_images <= 1 + (R - size + 1)**2``.
    size : int
        Side length ``>= 4``.
    noise, noise_type, random_state, offset
        See *Loader arguments* in :mod:`cvxcnn.data`.  ``random_state`` seeds
        the crop positions and the noise; ``offset >= 1`` skips the
        whole-picture view, and the same int seed with disjoint index ranges
        gives distinct crops.

    Returns
    -------
    DenoisingData
        ``noisy`` and ``clean`` of shape ``(n_images, size, size)``, ``clean``
        in ``[0, 1]``; ``spatial_dims=2``.
    """
    from skimage.data import camera

    size, indices = draw.extent, draw.indices
    stop = int(indices[-1]) + 1  # offset + n_images
    picture = np.asarray(camera(), dtype=np.float64) / 255.0
    zoom = min(2 * size, picture.shape[0])
    span = zoom - size + 1 if zoom > size else 0
    available = 1 + span * span
    if stop > available:
        raise ValueError(
            f"camera at size={size} has {available} distinct images (the whole picture plus "
            f"{span * span} crops); offset + n_images = {stop} exceeds it. "
            "Ask for fewer images or a smaller size"
        )
    clean = np.empty((indices.size, size, size))
    if span:
        zoomed = _resize(picture, zoom)
        order = draw.stream(_STREAM_SELECT).permutation(span * span)
    for i, j in enumerate(indices):
        if j == 0:
            clean[i] = _resize(picture, size)
        else:
            r, c = divmod(int(order[j - 1]), span)
            clean[i] = zoomed[r : r + size, c : c + size]
    return clean


load_phantom = _square_image_loader("phantom", _phantom_images)
load_camera = _square_image_loader("camera", _camera_images)


def _synthetic_signal(rng: np.random.Generator, length: int) -> np.ndarray:
    """One clean signal: piecewise constant + two sinusoids, min-max scaled to [0, 1]."""
    t = np.arange(length)
    n_jumps = int(rng.integers(1, max(2, length // 16) + 1))
    jumps = np.sort(rng.choice(np.arange(1, length), size=min(n_jumps, length - 1), replace=False))
    levels = rng.uniform(0.0, 1.0, size=jumps.size + 1)
    piecewise = levels[np.searchsorted(jumps, t, side="right")]
    cycles = rng.uniform(0.5, 3.0, size=2)
    phases = rng.uniform(0.0, 2 * np.pi, size=2)
    amplitudes = rng.uniform(0.1, 0.3, size=2)
    smooth = (
        amplitudes[:, None] * np.sin(2 * np.pi * cycles[:, None] * t / length + phases[:, None])
    ).sum(0)
    x = piecewise + smooth
    spread = np.ptp(x)
    return (x - x.min()) / spread if spread > 0 else np.zeros(length)


def synthetic_1d(
    n_signals: int = 1,
    *,
    length: int = 64,
    noise: float = 0.1,
    noise_type: str = "gaussian",
    random_state: int | np.random.Generator | None = 0,
    offset: int = 0,
) -> DenoisingData:
    """Noisy synthetic 1-D signals: piecewise-constant plus smooth parts.

    Each clean signal is a step function with ``1 .. max(1, length // 16)``
    jumps at random positions and levels uniform in ``[0, 1]``, plus two
    sinusoids (0.5 to 3 cycles over the signal, amplitude 0.1 to 0.3, random
    phase); the sum is min-max scaled to ``[0, 1]``.

    Parameters
    ----------
    n_signals : int
        Number of signals ``>= 1`` (named ``n_images`` in error messages and
        by :func:`load_dataset`).
    length : int
        Signal length ``>= 4``.
    noise, noise_type, random_state, offset
        See *Loader arguments* in :mod:`cvxcnn.data`; signal ``j`` depends
        only on ``(random_state, j)``, so disjoint index ranges give
        different signals.

    Returns
    -------
    DenoisingData
        ``noisy`` and ``clean`` of shape ``(n_signals, length)``, ``clean`` in
        ``[0, 1]``; ``spatial_dims=1``.
    """
    draw = _draw(
        "synthetic1d", 1, n_signals, noise, noise_type, random_state, offset, ("length", length)
    )
    signals = [
        _synthetic_signal(draw.stream(_STREAM_SIGNAL, int(j)), draw.extent) for j in draw.indices
    ]
    return draw.finish(np.stack(signals))


# --------------------------------------------------------------------------- #
# User data
# --------------------------------------------------------------------------- #
_NPZ_HOW = "save it with numpy.savez(path, noisy=noisy, clean=clean)"


def _read_npz_array(archive: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    if key not in archive.files:
        raise ValueError(
            f"{path}: missing array {key!r}; the file holds {sorted(archive.files)}. "
            f"It needs arrays 'noisy' and 'clean'; {_NPZ_HOW}"
        )
    try:
        arr = archive[key]
    except ValueError as exc:  # object arrays refused with allow_pickle=False
        raise TypeError(
            f"{path}: array {key!r} is an object (non-numeric) array; store a real-valued "
            f"numeric array instead (e.g. numpy.asarray(x, dtype=float))"
        ) from exc
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or np.iscomplexobj(arr):
        raise TypeError(
            f"{path}: array {key!r} has dtype {arr.dtype}, which is not real-valued numeric; "
            "store it as float or integer (e.g. numpy.asarray(x, dtype=float))"
        )
    if arr.ndim not in (2, 3, 4):
        raise ValueError(
            f"{path}: array {key!r} has shape {arr.shape} ({arr.ndim}-D); expected (N, L) "
            "for 1-D signals, (N, H, W) for images or (N, C, H, W) for images with channels. "
            "Add a leading axis of length 1 for a single signal or image"
        )
    if arr.size == 0:
        raise ValueError(
            f"{path}: array {key!r} is empty (shape {arr.shape}); store at least one "
            "non-empty signal or image"
        )
    arr = arr.astype(np.float64)
    n_bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
    if n_bad:
        raise ValueError(
            f"{path}: array {key!r} contains {n_bad} NaN or infinite value(s); "
            "clean or impute them before saving"
        )
    return arr


def load_npz(path: str | os.PathLike[str]) -> DenoisingData:
    """Load a user's denoising pairs from a ``.npz`` file.

    Parameters
    ----------
    path : str or path-like
        A file written by ``numpy.savez(path, noisy=noisy, clean=clean)``
        (other arrays in the file are ignored).  Accepted shapes of
        ``noisy``: ``(N, L)`` 1-D signals, ``(N, H, W)`` single-channel images,
        ``(N, C, H, W)`` images with ``C`` channels.  ``clean`` must have the
        same shape, or be single-channel ``(N, H, W)`` / ``(N, 1, H, W)``
        when ``noisy`` is ``(N, C, H, W)``.  Multi-channel 1-D data
        ``(N, C, L)`` is **not** accepted: a 3-D array is always read as
        ``(N, H, W)`` images.  Integer and boolean arrays are converted to
        float64; object, string and complex arrays are refused.

    Returns
    -------
    DenoisingData
        ``name`` is the file stem, ``noise=0.0`` and ``noise_type="unknown"``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not an ``.npz`` archive, an array is missing, has the
        wrong number of dimensions, is empty or holds NaN/inf, or the shapes
        of ``noisy`` and ``clean`` do not match.
    TypeError
        If an array is not real-valued numeric.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"{p}: no such file; pass the path of a .npz file with arrays 'noisy' and "
            f"'clean' ({_NPZ_HOW})"
        )
    try:
        loaded = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{p}: could not be read as a .npz archive ({exc}); {_NPZ_HOW}") from exc
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(
            f"{p}: holds a single array, not a .npz archive with 'noisy' and 'clean'; {_NPZ_HOW}"
        )
    with loaded as archive:
        noisy = _read_npz_array(archive, "noisy", p)
        clean = _read_npz_array(archive, "clean", p)
    if not _pair_compatible(noisy.shape, clean.shape):
        raise ValueError(
            f"{p}: array 'clean' has shape {clean.shape} but 'noisy' has shape {noisy.shape}; "
            "they must match (clean may be (N, H, W) or (N, 1, H, W) when noisy is "
            "(N, C, H, W)). Store one clean target per noisy input"
        )
    return DenoisingData(
        noisy=noisy,
        clean=clean,
        name=p.stem,
        spatial_dims=1 if noisy.ndim == 2 else 2,
        noise=0.0,
        noise_type="unknown",
    )


# --------------------------------------------------------------------------- #
# Dispatcher
# --------------------------------------------------------------------------- #
_DEFAULT_COUNTS = {"digits": 4, "phantom": 1, "camera": 1, "synthetic1d": 1}


def load_dataset(
    name: str | os.PathLike[str],
    *,
    n_images: int | None = 4,
    noise: float = 0.25,
    noise_type: str = "gaussian",
    random_state: int | np.random.Generator | None = 0,
    size: int | None = None,
    offset: int = 0,
) -> DenoisingData:
    """Load a built-in dataset by name, or a user's ``.npz`` file.

    Parameters
    ----------
    name : str or path-like
        One of :data:`DATASETS` (``"digits"``, ``"phantom"``, ``"camera"``,
        ``"synthetic1d"``; case-insensitive) or a path ending in ``.npz``
        (see :func:`load_npz`).
    n_images : int or None
        Number of images (signals for ``"synthetic1d"``).  ``None`` means the
        loader's default for built-in datasets and all images from ``offset``
        on for a ``.npz`` file.
    noise, noise_type, random_state : see :func:`add_noise`
        Used by the built-in datasets; ignored for a ``.npz`` file, whose
        noisy inputs are given.
    size : int or None
        Image side for ``"phantom"`` / ``"camera"`` (default 32), signal
        length for ``"synthetic1d"`` (default 64); must be ``None`` or 8 for
        ``"digits"`` and ``None`` for a ``.npz`` file.
    offset : int
        Index of the first image (see the loaders); for a ``.npz`` file the
        images ``offset : offset + n_images`` in file order.

    Returns
    -------
    DenoisingData
    """
    is_path = isinstance(name, os.PathLike)
    if not is_path and not isinstance(name, str):
        raise TypeError(f"name must be a dataset name or a path; got {name!r}")
    if is_path or str(name).lower().endswith(".npz"):
        return _load_npz_block(name, n_images=n_images, size=size, offset=offset)

    key = str(name).strip().lower()
    if key not in DATASETS:
        raise ValueError(
            f"unknown dataset {name!r}; valid names are {', '.join(DATASETS)}, "
            "or a path to a .npz file with arrays 'noisy' and 'clean'"
        )
    count = _DEFAULT_COUNTS[key] if n_images is None else n_images
    common = dict(noise=noise, noise_type=noise_type, random_state=random_state, offset=offset)
    if key == "digits":
        if size is not None and size != 8:
            raise ValueError(f"digits images are 8x8; size must be None or 8, got {size!r}")
        return load_digits(count, **common)
    if key == "synthetic1d":
        return synthetic_1d(count, length=64 if size is None else size, **common)
    loader = load_phantom if key == "phantom" else load_camera
    return loader(count, size=32 if size is None else size, **common)


def _load_npz_block(
    path: str | os.PathLike[str], *, n_images: int | None, size: int | None, offset: int
) -> DenoisingData:
    if size is not None:
        raise ValueError(
            f"size={size!r} cannot be applied to a .npz file ({path}); resize the arrays "
            "before saving, or pass size=None"
        )
    offset = check_positive_int(offset, "offset", minimum=0)
    data = load_npz(path)
    stop = data.n_images if n_images is None else offset + check_positive_int(n_images, "n_images")
    if offset >= data.n_images or stop > data.n_images:
        raise ValueError(
            f"{path} has {data.n_images} images; offset={offset} with n_images={n_images} "
            "asks for more. Ask for fewer images or pass n_images=None for all of them"
        )
    if offset == 0 and stop == data.n_images:
        return data
    return data.subset(slice(offset, stop))
