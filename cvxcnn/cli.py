"""The ``cvxcnn`` command line.

Subcommands: ``solve`` (one convex solve, JSON result) and ``demo`` (the
small digits run the README leads with). Bad input exits with status 2 and a
one-line message; a solver that does not reach ``optimal`` exits with 1
after writing its JSON, so scripts cannot mistake it for a success.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from cvxcnn import __version__

EXIT_BAD_INPUT = 2
EXIT_NOT_OPTIMAL = 1


def _patterns_arg(text: str) -> int | str:
    if text == "exact":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--patterns must be a positive integer or 'exact'; got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"--patterns must be >= 1; got {value}")
    return value


def _padding_arg(text: str) -> str | int:
    if text in ("same", "valid"):
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--padding must be 'same', 'valid' or an integer; got {text!r}"
        ) from None


def _add_data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        default="digits",
        help="digits, phantom, camera, synthetic1d, or PATH.npz with arrays 'noisy' and 'clean' "
        "(default: digits)",
    )
    g.add_argument(
        "--images",
        type=int,
        default=None,
        help="number of images (default: 4 digits, 1 phantom/camera/signal, all of a .npz)",
    )
    g.add_argument("--noise", type=float, default=0.25, help="noise level (default 0.25)")
    g.add_argument(
        "--noise-type", default="gaussian", choices=("gaussian", "exponential"), help="noise model"
    )
    g.add_argument("--size", type=int, default=None, help="image size / signal length")
    g.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")


def _add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--kernel", type=int, default=3, help="kernel size (default 3)")
    g.add_argument("--stride", type=int, default=1, help="stride (default 1)")
    g.add_argument("--padding", type=_padding_arg, default="same", help="same|valid|INT")
    g.add_argument("--bias", action="store_true", help="first-layer bias")
    g.add_argument("--residual", action="store_true", help="learn clean - noisy (Cor. 1.1)")
    g.add_argument("--beta", type=float, default=1e-3, help="weight decay beta (default 1e-3)")
    g.add_argument(
        "--loss", default="squared", choices=("squared", "absolute", "huber", "logistic")
    )
    g.add_argument("--huber-delta", type=float, default=1.0, help="Huber transition point")


def _add_solver_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("patterns and solver")
    g.add_argument(
        "--patterns",
        type=_patterns_arg,
        default=500,
        help="number of sampled sign patterns, or 'exact' for every cell (default 500)",
    )
    g.add_argument(
        "--data-directed",
        type=float,
        default=0.0,
        help="fraction of sampled generators taken from the data (default 0)",
    )
    g.add_argument(
        "--max-cells",
        type=int,
        default=200_000,
        help="refuse --patterns exact when the cell-count bound exceeds this (default 200000)",
    )
    g.add_argument("--solver", default="clarabel", help="any installed CVXPY solver")
    g.add_argument(
        "--solver-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="solver option, repeatable (e.g. --solver-option tol_gap_rel=1e-10)",
    )
    g.add_argument("--canon-backend", default=None, choices=("CPP", "SCIPY", "COO"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cvxcnn",
        description="Two-layer CNNs trained to certified global optimality by convex programs.",
    )
    parser.add_argument("--version", action="version", version=f"cvxcnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    solve = sub.add_parser("solve", help="solve the convex program on a data set, write JSON")
    _add_data_args(solve)
    _add_model_args(solve)
    _add_solver_args(solve)
    solve.add_argument("--out", type=Path, default=None, help="JSON result file")
    solve.add_argument("--save-weights", type=Path, default=None, help="write network .npz")
    solve.add_argument("--quiet", action="store_true", help="print nothing but errors")

    demo = sub.add_parser("demo", help="small digits denoising run with a side-by-side table")
    demo.add_argument("--out", type=Path, default=Path("cvxcnn-demo"), help="output folder")
    demo.add_argument("--images", type=int, default=4, help="training images (default 4)")
    demo.add_argument("--patterns", type=int, default=500, help="sampled patterns (default 500)")
    demo.add_argument("--seed", type=int, default=0)
    return parser


def _parse_solver_options(items: list[str]) -> dict:
    options = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--solver-option must look like KEY=VALUE; got {item!r}")
        try:
            value: object = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        options[key] = value
    return options


def _json_ready(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_ready(payload), indent=2) + "\n")


def run_solve(args: argparse.Namespace) -> int:
    from cvxcnn.data import load_dataset
    from cvxcnn.estimator import ConvexReLUCNN
    from cvxcnn.losses import get_loss
    from cvxcnn.metrics import psnr
    from cvxcnn.networks import save_network

    data = load_dataset(
        args.data,
        n_images=args.images,
        noise=args.noise,
        noise_type=args.noise_type,
        random_state=args.seed,
        size=args.size,
    )
    loss = get_loss(args.loss, delta=args.huber_delta) if args.loss == "huber" else args.loss
    model = ConvexReLUCNN(
        args.kernel,
        beta=args.beta,
        patterns=args.patterns,
        data_directed=args.data_directed,
        loss=loss,
        residual=args.residual,
        bias=args.bias,
        stride=args.stride,
        padding=args.padding,
        solver=args.solver,
        solver_options=_parse_solver_options(args.solver_option),
        max_cells=args.max_cells,
        random_state=args.seed,
    )
    start = time.perf_counter()
    try:
        model.fit(data.noisy, data.clean, spatial_dims=data.spatial_dims)
    except RuntimeError:
        pass  # the result object below says what failed
    result = model.result_
    payload = result.to_dict()
    payload.update(
        {
            "data": args.data,
            "images": data.n_images,
            "noise": data.noise,
            "noise_type": data.noise_type,
            "kernel": args.kernel,
            "seed": args.seed,
            "pattern_method": getattr(model.patterns_, "method", "given"),
            "pattern_seconds": model.pattern_seconds_,
            "total_seconds": time.perf_counter() - start,
        }
    )
    if result.network is not None:
        prediction = model.predict(data.noisy)
        if prediction.size == data.clean.size:  # output grid == input grid
            payload["psnr_noisy"] = psnr(data.noisy, data.clean)
            payload["psnr_convex"] = psnr(prediction, data.clean.reshape(prediction.shape))
        if args.save_weights is not None:
            save_network(args.save_weights, result.network, beta=args.beta, kernel=args.kernel)
    if args.out is not None:
        write_json(args.out, payload)
    if not args.quiet:
        kind = "global optimum (every cell)" if result.exact_arrangement else "upper bound"
        print(
            f"{result.status}: objective {result.objective:.6g} ({kind}), reconstructed "
            f"network {result.primal_objective:.6g}, {result.neurons} neurons from "
            f"{result.active_patterns}/{result.n_patterns} patterns; compile "
            f"{result.solve.compile_seconds:.2f} s, solve {result.solve.solve_seconds:.2f} s"
        )
    if not result.success:
        print(f"cvxcnn: warning: {result.message}", file=sys.stderr)
        return EXIT_NOT_OPTIMAL
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from cvxcnn.demo import run_demo as demo

    return demo(out=args.out, n_images=args.images, n_patterns=args.patterns, seed=args.seed)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cvxcnn`` command; returns the exit status."""
    from cvxcnn.arrangements import ArrangementTooLargeError

    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"solve": run_solve, "demo": run_demo}
    try:
        return handlers[args.command](args)
    except (ValueError, TypeError, FileNotFoundError, ArrangementTooLargeError) as exc:
        print(f"cvxcnn: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
