"""``cvxcnn demo``: a small digits denoising run, end to end, in about a minute.

Trains the two-layer ReLU CNN denoiser on a few noisy 8x8 digits by solving
its convex program, reconstructs the network, evaluates it on held-out
digits, prints a side-by-side table and saves a JSON summary and (with
matplotlib) a PNG of noisy / convex / clean test images.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from cvxcnn.data import load_digits
from cvxcnn.estimator import ConvexReLUCNN
from cvxcnn.metrics import psnr

DEMO_BETA = 1e-3
DEMO_NOISE = 0.25
DEMO_KERNEL = 3


def _plot(path: Path, rows: list[tuple[str, np.ndarray]], n_show: int) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(
        len(rows), n_show, figsize=(1.3 * n_show, 1.4 * len(rows)), squeeze=False
    )
    for r, (label, images) in enumerate(rows):
        for c in range(n_show):
            ax = axes[r, c]
            ax.imshow(images[c], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle("cvxcnn demo: held-out digits", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True


def run_demo(
    out: str | Path = "cvxcnn-demo", *, n_images: int = 4, n_patterns: int = 500, seed: int = 0
) -> int:
    """Run the demo; returns a process exit status (0 on success).

    Parameters
    ----------
    out : path
        Folder for ``demo.json`` and ``demo.png``.
    n_images : int
        Training digits (as many held-out digits are used for testing).
    n_patterns : int
        Sampled sign patterns.
    seed : int
        Seeds the digit choice, the noise and the pattern sampling.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train = load_digits(n_images, noise=DEMO_NOISE, random_state=seed)
    test = load_digits(n_images, noise=DEMO_NOISE, random_state=seed, offset=n_images)
    print(
        f"cvxcnn demo: {n_images} noisy 8x8 digits (sigma={DEMO_NOISE}), {DEMO_KERNEL}x"
        f"{DEMO_KERNEL} kernel, beta={DEMO_BETA}, {n_patterns} sampled sign patterns"
    )
    start = time.perf_counter()
    model = ConvexReLUCNN(
        DEMO_KERNEL, beta=DEMO_BETA, patterns=n_patterns, data_directed=0.1, random_state=seed
    )
    model.fit(train.noisy, train.clean)
    res = model.result_
    rows = [
        ("noisy input", psnr(train.noisy, train.clean), psnr(test.noisy, test.clean), None),
        (
            "convex (reconstructed)",
            psnr(model.predict(train.noisy), train.clean),
            psnr(model.predict(test.noisy), test.clean),
            res.primal_objective,
        ),
    ]
    print(f"\n{'model':<24}{'train PSNR':>12}{'test PSNR':>12}{'objective':>14}")
    for name, tr, te, obj in rows:
        obj_text = f"{obj:14.6g}" if obj is not None else f"{'':>14}"
        print(f"{name:<24}{tr:12.2f}{te:12.2f}{obj_text}")
    print(
        f"\nconvex program: status {res.status}, optimum {res.objective:.6g} "
        f"(an upper bound: patterns are sampled), {res.neurons} neurons, "
        f"{res.active_patterns}/{res.n_patterns} active patterns, compile "
        f"{res.solve.compile_seconds:.2f} s, solve {res.solve.solve_seconds:.2f} s"
    )
    summary = {
        "convex": res.to_dict(),
        "table": [
            {"model": name, "train_psnr": tr, "test_psnr": te, "objective": obj}
            for name, tr, te, obj in rows
        ],
        "seconds": time.perf_counter() - start,
    }
    (out / "demo.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    n_show = min(n_images, 6)
    if _plot(
        out / "demo.png",
        [
            ("noisy", test.noisy),
            ("convex", model.predict(test.noisy)),
            ("clean", test.clean),
        ],
        n_show,
    ):
        print(f"wrote {out / 'demo.json'} and {out / 'demo.png'}")
    else:
        print(f"wrote {out / 'demo.json'} (install matplotlib for demo.png)")
    return 0 if res.success else 1
