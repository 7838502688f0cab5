"""The colorization system: predict the ab channels of CIE Lab from the lightness L.

- :mod:`cvxcnn.colorization.data`: crops of colour images bundled with
  scikit-image, scaled L inputs and ab targets (no download);
- :mod:`cvxcnn.colorization.convex`: :func:`fit_convex_colorizer`, the convex
  step (today the separable upper bound of the vector-output problem);
- :mod:`cvxcnn.colorization.system`: convex vs PyTorch primal vs primal with
  the chroma loss (eq. 2), metrics and the figure (``cvxcnn colorize``).

See ``docs/colorization.md``. Importing this package imports neither torch nor
matplotlib.
"""

from cvxcnn.colorization.convex import SeparableVectorFit, fit_convex_colorizer
from cvxcnn.colorization.data import BUNDLED_IMAGES, ColorData, load_color_crops, to_rgb

__all__ = [
    "BUNDLED_IMAGES",
    "ColorData",
    "SeparableVectorFit",
    "fit_convex_colorizer",
    "load_color_crops",
    "to_rgb",
]
