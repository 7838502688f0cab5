"""The ``cvxcnn`` command line.

Subcommands: ``solve`` (one convex solve, JSON result; ``--certify``,
``--method colgen``, ``--activation st``), ``certify`` (bounds and gap of a
given network), ``train`` (the PyTorch baseline, :mod:`cvxcnn.cli_train`) and
``demo`` (the small digits run the README leads with). Bad input exits with status 2 and a
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
    g.add_argument(
        "--facets",
        choices=("auto", "off", "adjacency", "hull", "lp"),
        default="auto",
        help="keep only each cone's facet rows (default auto: adjacency for exact sets, "
        "Qhull for sampled ones when d <= 10); 'off' keeps every sign row",
    )
    g.add_argument(
        "--jobs",
        type=int,
        default=-1,
        help="processes for the facet reduction (default -1: every CPU)",
    )
    g.add_argument(
        "--backend",
        choices=("cvxpy", "direct"),
        default="cvxpy",
        help="'direct': build Clarabel's standard form with scipy.sparse, skipping CVXPY",
    )


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
    g = solve.add_argument_group("certificates and activations")
    g.add_argument(
        "--certify",
        choices=("exact", "sampled"),
        default=None,
        help="also bound the global optimum from below: 'exact' searches every cell "
        "(certified), 'sampled' only --certify-patterns sampled cells (an estimate)",
    )
    g.add_argument(
        "--certify-patterns",
        type=int,
        default=5000,
        help="sampled cells for --certify sampled (default 5000)",
    )
    g.add_argument(
        "--method",
        choices=("direct", "colgen"),
        default="direct",
        help="'colgen': certified solve by column generation over every cell",
    )
    g.add_argument(
        "--initial-patterns", type=int, default=10, help="colgen starting patterns (default 10)"
    )
    g.add_argument("--activation", choices=("relu", "st"), default="relu")
    g.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="soft-threshold lambda (fixed); omit for learnable thresholds",
    )
    g.add_argument("--st-form", choices=("exact", "paper"), default="exact")
    g.add_argument("--st-restarts", type=int, default=0, help="fixed-lambda L-BFGS restarts")
    solve.add_argument("--out", type=Path, default=None, help="JSON result file")
    solve.add_argument("--save-weights", type=Path, default=None, help="write network .npz")
    solve.add_argument("--quiet", action="store_true", help="print nothing but errors")

    cert = sub.add_parser(
        "certify", help="upper bound, lower bound and gap of a given network (.npz weights)"
    )
    cert.add_argument("--weights", type=Path, required=True, help="network .npz (U, v)")
    _add_data_args(cert)
    g = cert.add_argument_group("model (defaults: the metadata stored in the weights file)")
    g.add_argument("--kernel", type=int, default=None)
    g.add_argument("--stride", type=int, default=None)
    g.add_argument("--padding", type=_padding_arg, default=None)
    g.add_argument("--bias", action="store_true", default=None)
    g.add_argument("--residual", action="store_true", default=None)
    g.add_argument("--beta", type=float, default=None)
    g.add_argument(
        "--loss", default="squared", choices=("squared", "absolute", "huber", "logistic")
    )
    g.add_argument("--huber-delta", type=float, default=1.0)
    g = cert.add_argument_group("oracle")
    g.add_argument(
        "--certify",
        choices=("auto", "exact", "sampled"),
        default="auto",
        help="exact: every cell (certified); sampled: --patterns cells (estimated); auto "
        "(default): exact when the cell-count bound is at most --max-cells, else sampled",
    )
    g.add_argument("--patterns", type=int, default=5000, help="sampled cells (default 5000)")
    g.add_argument("--data-directed", type=float, default=0.0)
    g.add_argument("--max-cells", type=int, default=200_000)
    cert.add_argument("--out", type=Path, default=None, help="JSON certificate file")
    cert.add_argument("--quiet", action="store_true")

    from cvxcnn.bench.cli_bench import add_bench_parser
    from cvxcnn.cli_path import add_path_parser
    from cvxcnn.cli_train import add_train_parser

    add_train_parser(sub)
    add_path_parser(sub)
    add_bench_parser(sub)

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


def load_data_from_args(args: argparse.Namespace):
    """The data set the ``--data/--images/--noise/--noise-type/--size/--seed`` flags select."""
    from cvxcnn.data import load_dataset

    return load_dataset(
        args.data,
        n_images=args.images,
        noise=args.noise,
        noise_type=args.noise_type,
        random_state=args.seed,
        size=args.size,
    )


def loss_from_args(args: argparse.Namespace):
    """The loss named by ``--loss`` (with ``--huber-delta`` for Huber)."""
    from cvxcnn.losses import get_loss

    if args.loss == "huber":
        return get_loss("huber", delta=args.huber_delta)
    return get_loss(args.loss)


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_ready(payload), indent=2) + "\n")


def _oracle_cells(Y: np.ndarray, mode: str, n_samples: int, max_cells: int, seed: int, extra=None):
    """Every cell (``exact``) or a seeded sample (``sampled``) for the certificate oracle."""
    from cvxcnn.arrangements import (
        ArrangementTooLargeError,
        enumerate_relu_patterns,
        sample_relu_patterns,
    )

    if mode == "auto":
        try:
            return enumerate_relu_patterns(Y, max_cells=max_cells)
        except ArrangementTooLargeError as exc:
            print(f"note: {exc}; searching {n_samples} sampled cells instead (an ESTIMATE)")
            mode = "sampled"
    if mode == "exact":
        return enumerate_relu_patterns(Y, max_cells=max_cells)
    cells = sample_relu_patterns(Y, n_samples, data_directed=0.1, random_state=seed)
    return cells.union(extra) if extra is not None else cells


def _print_certificate(cert) -> None:
    label = (
        "CERTIFIED lower bound (every cell searched)"
        if cert.certified
        else "ESTIMATED lower bound (sampled cells only: not a certificate)"
    )
    print(
        f"{label}: {cert.lower_bound:.10g}; upper bound {cert.upper_bound:.10g}; "
        f"gap {cert.gap:.3g} (relative {cert.relative_gap:.3g}); oracle {cert.oracle} over "
        f"{cert.oracle_cells} cells"
    )
    if cert.gap < 0:
        print(
            "note: the estimate exceeds the network's own objective, which a true lower bound "
            "never does: the sampled cells missed where M(r) is largest"
        )


def run_solve(args: argparse.Namespace) -> int:
    if args.activation == "st":
        return _run_st_solve(args)
    if args.method == "colgen":
        return _run_colgen(args)
    from cvxcnn.estimator import ConvexReLUCNN
    from cvxcnn.metrics import psnr
    from cvxcnn.networks import save_network

    data = load_data_from_args(args)
    loss = loss_from_args(args)
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
        facets=args.facets,
        backend=args.backend,
        n_jobs=args.jobs,
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
    if result.network is not None and args.certify is not None:
        from cvxcnn.certify import certify_relu

        cells = _oracle_cells(
            model.problem_.Y,
            args.certify,
            args.certify_patterns,
            args.max_cells,
            args.seed,
            extra=model.patterns_ if hasattr(model.patterns_, "union") else None,
        )
        cert = certify_relu(result.network, model.problem_, cells, beta=args.beta, loss=loss)
        payload.update(cert.to_dict())
        if not args.quiet:
            _print_certificate(cert)
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
        if result.facets:
            f = result.facets
            print(
                f"sign rows {result.constraint_rows} of {2 * result.n * result.n_patterns} "
                f"(facets: {f.get('method')}, {f.get('seconds', 0.0):.2f} s, "
                f"{f.get('rounds', 0)} re-solve(s) for violated dropped rows)"
            )
    if not result.success:
        print(f"cvxcnn: warning: {result.message}", file=sys.stderr)
        return EXIT_NOT_OPTIMAL
    return 0


def _finish_payload(args: argparse.Namespace, payload: dict) -> int:
    if args.out is not None:
        write_json(args.out, payload)
    if payload.get("status") != "optimal":
        print(f"cvxcnn: warning: {payload.get('message', payload.get('status'))}", file=sys.stderr)
        return EXIT_NOT_OPTIMAL
    return 0


def _run_st_solve(args: argparse.Namespace) -> int:
    from cvxcnn.cli_st import run_st_solve

    if args.method == "colgen" or args.certify is not None:
        raise ValueError(
            "--method colgen and --certify are implemented for --activation relu; for soft "
            "thresholds use cvxcnn.certify.certify from Python"
        )
    payload = run_st_solve(args)
    if not args.quiet:
        line = f"{payload['status']}: soft-threshold ({payload['st_form']}) objective "
        line += f"{payload['objective']:.6g}, network {payload['primal_objective']:.6g}"
        if payload.get("bracket_lower") is not None:
            line += (
                f"; fixed-lambda bracket [{payload['bracket_lower']:.6g}, "
                f"{payload['bracket_upper']:.6g}]"
            )
        print(line)
    return _finish_payload(args, payload)


def _run_colgen(args: argparse.Namespace) -> int:
    from cvxcnn.arrangements import enumerate_relu_patterns
    from cvxcnn.colgen import solve_colgen
    from cvxcnn.networks import save_network
    from cvxcnn.problem import make_problem

    if args.certify == "sampled":
        raise ValueError(
            "--method colgen certifies over every cell; use --certify exact or omit it"
        )
    data = load_data_from_args(args)
    problem = make_problem(
        data.noisy,
        data.clean,
        kernel_size=args.kernel,
        spatial_dims=data.spatial_dims,
        stride=args.stride,
        padding=args.padding,
        bias=args.bias,
        residual=args.residual,
    )
    loss = loss_from_args(args)
    start = time.perf_counter()
    cells = enumerate_relu_patterns(problem.Y, max_cells=args.max_cells)
    enumeration_seconds = time.perf_counter() - start
    options = _parse_solver_options(args.solver_option) or None
    result = solve_colgen(
        problem,
        cells,
        beta=args.beta,
        loss=loss,
        initial=args.initial_patterns,
        solver=args.solver,
        solver_options=options,
        random_state=args.seed,
        progress=not args.quiet,
    )
    payload = result.to_dict()
    payload.update(
        {
            "data": args.data,
            "images": data.n_images,
            "kernel": args.kernel,
            "seed": args.seed,
            "enumeration_seconds": enumeration_seconds,
            "total_seconds": time.perf_counter() - start,
        }
    )
    if args.save_weights is not None:
        save_network(args.save_weights, result.fit.network, beta=args.beta, kernel=args.kernel)
    if not args.quiet:
        print(
            f"column generation: {len(result.iterations)} rounds, {result.patterns_used} of "
            f"{result.total_cells} cells entered the program"
        )
        _print_certificate(result.certificate)
    return _finish_payload(args, payload)


def _weights_metadata(path: Path) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"weights file {path} does not exist")
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files if k not in ("U", "v")}


def run_certify(args: argparse.Namespace) -> int:
    from cvxcnn.certify import certify_relu
    from cvxcnn.networks import load_network
    from cvxcnn.problem import make_problem

    network = load_network(args.weights)
    meta = _weights_metadata(args.weights)

    def pick(value, key, default):
        if value is not None:
            return value
        if key in meta:
            item = meta[key]
            return item.item() if item.ndim == 0 else tuple(int(x) for x in item.reshape(-1))
        return default

    kernel = pick(args.kernel, "kernel_size", None)
    kernel = pick(kernel, "kernel", 3)
    padding = pick(args.padding, "padding", "same")
    if isinstance(padding, tuple):  # stored as (before, after) pairs
        if any(a != b for a, b in zip(padding[::2], padding[1::2], strict=True)):
            padding = "same"
        else:
            padding = padding[::2]
    beta = pick(args.beta, "beta", None)
    if beta is None:
        raise ValueError("--beta is required: the weights file does not record it")
    data = load_data_from_args(args)
    problem = make_problem(
        data.noisy,
        data.clean,
        kernel_size=kernel,
        spatial_dims=data.spatial_dims,
        stride=pick(args.stride, "stride", 1),
        padding=padding,
        bias=bool(pick(args.bias, "bias", False)),
        residual=bool(pick(args.residual, "residual", False)),
    )
    loss = loss_from_args(args)
    start = time.perf_counter()
    cells = _oracle_cells(problem.Y, args.certify, args.patterns, args.max_cells, args.seed)
    cert = certify_relu(network, problem, cells, beta=float(beta), loss=loss)
    payload = cert.to_dict()
    payload.update(
        {
            "weights": str(args.weights),
            "neurons": network.n_neurons,
            "data": args.data,
            "images": data.n_images,
            "n": problem.n,
            "d": problem.d,
            "cells_seconds": time.perf_counter() - start - cert.oracle_seconds,
        }
    )
    if args.out is not None:
        write_json(args.out, payload)
    if not args.quiet:
        _print_certificate(cert)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from cvxcnn.demo import run_demo as demo

    return demo(out=args.out, n_images=args.images, n_patterns=args.patterns, seed=args.seed)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cvxcnn`` command; returns the exit status."""
    from cvxcnn.arrangements import ArrangementTooLargeError

    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"solve": run_solve, "demo": run_demo, "certify": run_certify}
    try:
        return handlers.get(args.command, getattr(args, "handler", None))(args)
    except (ValueError, TypeError, FileNotFoundError, ArrangementTooLargeError) as exc:
        print(f"cvxcnn: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
