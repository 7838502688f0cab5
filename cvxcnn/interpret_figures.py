"""Figures of :mod:`cvxcnn.interpret`: clusters on the image (Fig. 5), dual filters (Fig. 4).

Compact PNGs (matplotlib, Agg backend, 80 dpi). Two-dimensional images are
drawn as images; signals as lines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cvxcnn.interpret import Explanation
from cvxcnn.patches import PatchGeometry

DPI = 80


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def plot_cluster_rows(
    path: str | Path,
    images: list[tuple[str, np.ndarray]],
    rows: list[tuple[str, np.ndarray]],
    geometry: PatchGeometry,
    *,
    n_show: int = 6,
    title: str = "",
) -> None:
    """Rows of images, then one row of cluster maps per entry of ``rows``.

    Parameters
    ----------
    path : str or Path
        The PNG to write.
    images : list of (str, ndarray of shape (N, *spatial))
        A label and images per row (e.g. the noisy inputs and the clean images).
    rows : list of (str, ndarray of shape (N * positions,))
        A label and the cluster label of every output pixel (e.g. one row per
        block of a deep network, Fig. 5b).
    geometry : PatchGeometry
        Output shape per image.
    n_show : int
        Images drawn (at most N).
    title : str
    """
    plt = _pyplot()
    n_show = min(n_show, images[0][1].shape[0])
    n_rows = len(images) + len(rows)
    fig, axes = plt.subplots(n_rows, n_show, figsize=(1.2 * n_show, 1.25 * n_rows), squeeze=False)
    shape = geometry.output_shape
    for c in range(n_show):
        for r, (_, values) in enumerate(images):
            _draw_signal(axes[r, c], values[c], cmap="gray")
        for r, (_, labels) in enumerate(rows, start=len(images)):
            grid = labels.reshape(-1, *shape)[c]
            _draw_signal(axes[r, c], grid, cmap="tab20", vmin=0, vmax=19)
    for r, (name, _) in enumerate([*images, *rows]):
        axes[r, 0].set_ylabel(name, fontsize=7)
    for ax in axes.flat:
        _bare(ax)
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def _draw_signal(ax, values: np.ndarray, **kw) -> None:
    values = np.asarray(values)
    if values.ndim == 3:  # channels first: draw the first channel
        values = values[0]
    if values.ndim == 2:
        ax.imshow(values, interpolation="nearest", **kw)
    elif kw.get("cmap") == "tab20":
        ax.scatter(np.arange(values.size), values, c=values, cmap="tab20", vmin=0, vmax=19, s=4)
    else:
        ax.plot(values, lw=0.8)


def plot_clusters(
    path: str | Path,
    explanation: Explanation,
    images: list[tuple[str, np.ndarray]],
    geometry: PatchGeometry,
    *,
    n_show: int = 6,
) -> None:
    """Fig. 5a: the k-means clusters of ``d(p)`` drawn under each image (rows of ``images``)."""
    title = f"k-means (k={explanation.n_clusters}) of d(p) over {explanation.groups} patterns"
    rows = [("clusters", explanation.labels)]
    plot_cluster_rows(path, images, rows, geometry, n_show=n_show, title=title)


def plot_filters(
    path: str | Path,
    explanation: Explanation,
    geometry: PatchGeometry,
    *,
    n_show: int = 16,
) -> None:
    """Fig. 4: the largest dual filters (first channel) and their ``|FFT|``, two rows each.

    Parameters
    ----------
    path : str or Path
    explanation : Explanation
    geometry : PatchGeometry
        Kernel shape and channels of the filters.
    n_show : int
        Filters drawn, the largest norms first.
    """
    plt = _pyplot()
    filters = explanation.filters
    order = np.argsort(-np.linalg.norm(filters, axis=1), kind="stable")[:n_show]
    n = max(len(order), 1)
    cols = min(n, 8)
    blocks = -(-n // cols)
    fig, axes = plt.subplots(2 * blocks, cols, figsize=(0.9 * cols, 1.0 * 2 * blocks))
    axes = np.atleast_2d(axes).reshape(2 * blocks, cols)
    k = filters.shape[1] - int(geometry.bias)
    for slot, g in enumerate(order):
        r, c = 2 * (slot // cols), slot % cols
        kernel = filters[g, :k].reshape(geometry.in_channels, *geometry.kernel_size)
        scale = np.max(np.abs(kernel)) or 1.0
        _draw_signal(axes[r, c], kernel, cmap="RdBu_r", vmin=-scale, vmax=scale)
        _draw_signal(axes[r + 1, c], explanation.responses[g], cmap="magma")
    for ax in axes.flat:
        _bare(ax)
    for r in range(blocks):
        axes[2 * r, 0].set_ylabel("filter", fontsize=6)
        axes[2 * r + 1, 0].set_ylabel("|FFT|", fontsize=6)
    what = "dual filters w-z" if explanation.source == "dual blocks" else "neuron filters u v"
    fig.suptitle(f"{len(order)} largest of {explanation.groups} {what} and |FFT|", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
