"""Colour images shipped with scikit-image, as (L, ab) pairs for colorization.

Nothing is downloaded: only images whose files are bundled inside
scikit-image 0.26 are used (:data:`BUNDLED_IMAGES`; ``skin``, ``lily`` and
``kidney`` need a download and are not offered).

Pipeline of one image (every random choice seeded):

1. ``skimage.data.<name>()`` (uint8 RGB) scaled to ``[0, 1]``;
2. resized (anti-aliased) so that its SHORTER side is ``side`` pixels
   (:data:`DEFAULT_SIDE`; a strong downsampling, so a small crop still shows
   objects, not texture);
3. converted with ``skimage.color.rgb2lab``;
4. ``size x size`` crops at seeded random positions, without repetition,
   inside a band of columns (``columns``): the default split takes training
   crops from the left :data:`TRAIN_COLUMNS` of every image and test crops
   from the right :data:`TEST_COLUMNS`, so no test pixel was seen in training.

Scaling (documented once, used everywhere):

- network input ``L / 50 - 1`` (:data:`L_SCALE`, :data:`L_SHIFT`): lightness
  ``[0, 100]`` mapped to ``[-1, 1]``, so patches are centred and the ReLU
  arrangement is not confined to the positive orthant;
- targets ``ab / 100`` (:data:`AB_SCALE`): the a and b channels (about
  ``[-110, 110]``, natural images mostly ``[-40, 60]``) mapped to about
  ``[-1, 1]``. Objectives are in these scaled units; RMSE(ab) and chroma are
  reported in Lab units (times :data:`AB_SCALE`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from cvxcnn.validation import check_positive_int, check_random_state

#: Colour images bundled with scikit-image 0.26 (no pooch download needed).
BUNDLED_IMAGES: tuple[str, ...] = (
    "chelsea",
    "coffee",
    "astronaut",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "retina",
    "colorwheel",
)
#: Images of the default training and test crops.
TRAIN_IMAGES: tuple[str, ...] = ("chelsea", "coffee", "rocket", "astronaut")
TEST_IMAGES: tuple[str, ...] = TRAIN_IMAGES
#: Column bands (fractions of the width) of training and test crops: disjoint.
TRAIN_COLUMNS: tuple[float, float] = (0.0, 0.6)
TEST_COLUMNS: tuple[float, float] = (0.6, 1.0)
DEFAULT_SIDE = 64
AB_SCALE = 100.0
L_SCALE = 50.0
L_SHIFT = 1.0


@dataclass(frozen=True)
class ColorData:
    """Crops of colour images as network inputs (scaled L) and targets (scaled ab).

    Attributes
    ----------
    L : ndarray of shape (N, H, W)
        Network input ``L / 50 - 1`` (lightness ``[0, 100]`` -> ``[-1, 1]``).
    ab : ndarray of shape (N, 2, H, W)
        Targets ``ab / 100``.
    rgb : ndarray of shape (N, H, W, 3)
        The crops in RGB, ``[0, 1]`` (the reference of the RGB PSNR).
    sources : tuple of str
        The image each crop was cut from.
    positions : ndarray of shape (N, 2), int
        Top-left corner of each crop in the resized image.
    side, size : int
        Shorter side of the resized images; crop side.
    """

    L: np.ndarray = field(repr=False)
    ab: np.ndarray = field(repr=False)
    rgb: np.ndarray = field(repr=False)
    sources: tuple[str, ...]
    positions: np.ndarray = field(repr=False)
    side: int
    size: int

    @property
    def n_images(self) -> int:
        return int(self.L.shape[0])

    def lab(self) -> np.ndarray:
        """The true Lab crops, ``(N, H, W, 3)`` in Lab units."""
        return to_lab(self.L, self.ab)


def to_lab(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Undo the scaling: ``(N, H, W)`` network input and ``(N, 2, H, W)`` scaled ab
    -> Lab images ``(N, H, W, 3)``."""
    lightness = (np.asarray(L, dtype=np.float64) + L_SHIFT) * L_SCALE
    chroma = np.moveaxis(np.asarray(ab, dtype=np.float64), 1, -1) * AB_SCALE
    return np.concatenate([lightness[..., None], chroma], axis=-1)


def to_rgb(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """``lab2rgb`` of scaled L and ab: RGB images ``(N, H, W, 3)`` in ``[0, 1]``
    (out-of-gamut colours clipped by scikit-image)."""
    from skimage.color import lab2rgb

    with warnings.catch_warnings():  # out-of-gamut predictions: clipped, as documented
        warnings.simplefilter("ignore", UserWarning)
        return np.clip(lab2rgb(to_lab(L, ab)), 0.0, 1.0)


def load_color_image(name: str, side: int = DEFAULT_SIDE) -> np.ndarray:
    """One bundled colour image, RGB in ``[0, 1]``, resized to shorter side ``side``.

    Parameters
    ----------
    name : str
        One of :data:`BUNDLED_IMAGES`.
    side : int
        Shorter side after the anti-aliased resize (>= 4).

    Returns
    -------
    ndarray of shape (H, W, 3)
    """
    from skimage import data as skdata
    from skimage.transform import resize

    if name not in BUNDLED_IMAGES:
        raise ValueError(
            f"image {name!r} is not a bundled colour image; choose from {', '.join(BUNDLED_IMAGES)}"
        )
    side = check_positive_int(side, "side", minimum=4)
    rgb = np.asarray(getattr(skdata, name)(), dtype=np.float64)[..., :3] / 255.0
    h, w = rgb.shape[:2]
    scale = side / min(h, w)
    shape = (max(side, round(h * scale)), max(side, round(w * scale)))
    return np.clip(resize(rgb, shape, order=1, mode="reflect", anti_aliasing=True), 0.0, 1.0)


def load_color_crops(
    images: tuple[str, ...] = TRAIN_IMAGES,
    *,
    crops_per_image: int = 2,
    size: int = 16,
    side: int = DEFAULT_SIDE,
    columns: tuple[float, float] = (0.0, 1.0),
    random_state: int | np.random.Generator | None = 0,
) -> ColorData:
    """Seeded ``size x size`` crops of downsampled bundled colour images.

    Parameters
    ----------
    images : tuple of str
        Names from :data:`BUNDLED_IMAGES`.
    crops_per_image : int
        Distinct crops per image (>= 1).
    size : int
        Crop side (>= 4, at most ``side``).
    side : int
        Shorter side of the resized images.
    columns : (float, float)
        Crops lie entirely inside the columns ``[lo * W, hi * W)`` of each
        resized image (``0 <= lo < hi <= 1``); disjoint bands give disjoint
        train and test pixels.
    random_state : int, Generator or None
        Seeds the crop positions (image ``k`` of ``images`` uses its own stream).

    Returns
    -------
    ColorData
    """
    from skimage.color import rgb2lab

    crops_per_image = check_positive_int(crops_per_image, "crops_per_image")
    size = check_positive_int(size, "size", minimum=4)
    if size > side:
        raise ValueError(f"size={size} exceeds the resized images' shorter side {side}; lower it")
    if isinstance(images, str) or len(images) == 0:
        raise ValueError(f"images must be a non-empty tuple of names; got {images!r}")
    lo, hi = (float(f) for f in columns)
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"columns must satisfy 0 <= lo < hi <= 1; got {columns!r}")
    seed = check_random_state(random_state).integers(2**63)
    rgbs, sources, positions = [], [], []
    for k, name in enumerate(images):
        picture = load_color_image(name, side)
        first, stop = round(lo * picture.shape[1]), round(hi * picture.shape[1])
        h, w = picture.shape[0] - size + 1, stop - first - size + 1
        if w < 1 or crops_per_image > h * w:
            raise ValueError(
                f"{name} has {max(h * w, 0)} distinct crops of side {size} in columns "
                f"{first}:{stop}; ask for fewer or smaller crops, or a larger side"
            )
        rng = np.random.default_rng([int(seed), k])
        for flat in rng.choice(h * w, size=crops_per_image, replace=False):
            r, c = divmod(int(flat), w)
            c += first
            rgbs.append(picture[r : r + size, c : c + size])
            sources.append(name)
            positions.append((r, c))
    rgb = np.stack(rgbs)
    lab = rgb2lab(rgb)
    return ColorData(
        L=lab[..., 0] / L_SCALE - L_SHIFT,
        ab=np.moveaxis(lab[..., 1:], -1, 1) / AB_SCALE,
        rgb=rgb,
        sources=tuple(sources),
        positions=np.asarray(positions, dtype=np.int64),
        side=int(side),
        size=int(size),
    )
