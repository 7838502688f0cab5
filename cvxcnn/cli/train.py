"""``cvxcnn train``: the PyTorch primal baseline from the command line.

Imports without torch; ``run`` reports a missing torch as exit status 2 with
the install command. A diverged run (NaN objective) writes its ``--log``
and exits with 1. Example::

    cvxcnn train --data digits --images 16 --kernel 3 --neurons 512 \\
        --optimizer adam --lr 1e-3 --epochs 200 --dtype float32 \\
        --out net.npz --log train.json
"""

from __future__ import annotations

import argparse
import sys

from cvxcnn.cli.common import (
    DATA_DEFAULTS,
    GEOMETRY_DEFAULTS,
    RunContext,
    add_data_args,
    add_geometry_args,
    add_loss_args,
    add_output_args,
    build_problem,
    data_summary,
    float_arg,
    geometry_keywords,
    int_arg,
    load_data,
    make_loss,
    predict_images,
    print_lines,
    psnr_summary,
    refuse,
    report_failure,
)
from cvxcnn.cli.errors import EXIT_OK, EXIT_USAGE, UsageError, one_line
from cvxcnn.cli.output import (
    JSON_SUFFIXES,
    WEIGHTS_SUFFIXES,
    check_distinct,
    check_output_file,
)

OPTIMIZER_CHOICES = ("adam", "sgd", "sgdm", "adagrad", "rmsprop", "asgd", "lbfgs")
DEFAULTS = {**DATA_DEFAULTS, **GEOMETRY_DEFAULTS}
DEFAULTS |= {"activation": "relu", "threshold": 0.1}
DEFAULTS |= {"neurons": 512, "beta": 1e-3, "loss": "squared", "huber_delta": 1.0}
DEFAULTS |= {"optimizer": "adam", "lr": 1e-3, "epochs": 200, "batch_size": 0}
DEFAULTS |= {"init": "kaiming_uniform", "init_std": 1e-3, "dtype": "float64"}
DEFAULTS |= {"device": "auto", "threads": None, "target": None, "rtol": 1e-3}


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``cvxcnn train``."""
    p = sub.add_parser(
        "train",
        help="train the two-layer CNN by gradient descent (PyTorch), write weights and a log",
        description="Train conv -> ReLU/soft-threshold -> 1x1 conv on P(U, v) with a torch "
        "optimizer; the final objective is re-evaluated in float64. Needs torch.",
    )
    add_data_args(p)
    g = p.add_argument_group("model")
    add_geometry_args(g)
    g.add_argument("--activation", choices=("relu", "st"), help="relu (default) or st")
    g.add_argument(
        "--threshold", type=float_arg(0.0), help="st lambda (or the start of --learn-threshold)"
    )
    g.add_argument("--learn-threshold", action="store_true", help="learnable thresholds (st)")
    g.add_argument("--neurons", type=int_arg(1), help="hidden channels m (default 512)")
    add_loss_args(g)
    g = p.add_argument_group("training")
    g.add_argument("--optimizer", choices=OPTIMIZER_CHOICES, help="torch optimizer (adam)")
    g.add_argument("--lr", type=float_arg(0.0), help="learning rate (1e-3; use 1 for lbfgs)")
    g.add_argument("--epochs", type=int_arg(0), help="passes over the data (default 200)")
    g.add_argument("--batch-size", type=int_arg(0), help="images per batch, 0 = full (0)")
    g.add_argument("--init", choices=("kaiming_uniform", "normal"), help="initialization")
    g.add_argument("--init-std", type=float_arg(0.0), help="std of --init normal (1e-3)")
    g.add_argument("--dtype", choices=("float32", "float64"), help="torch dtype (float64)")
    g.add_argument("--device", help="auto (CUDA if available, default), cpu or cuda")
    g.add_argument("--threads", type=int_arg(1), help="torch CPU threads (torch's choice)")
    g.add_argument("--target", type=float, help="stop within --rtol of this objective value")
    g.add_argument("--rtol", type=float_arg(0.0), help="relative tolerance of --target (1e-3)")
    files = {
        "--out": "weights file (.npz)",
        "--log": "JSON log (.json): curve, objective, settings",
    }
    add_output_args(p, files, quiet="no progress bar, no summary line")
    return p


def check(args: argparse.Namespace, explicit: set[str]) -> None:
    """Outputs and flag applicability, before torch is even imported."""
    check_output_file(args.out, "--out", WEIGHTS_SUFFIXES)
    check_output_file(args.log, "--log", JSON_SUFFIXES)
    check_distinct({"--out": args.out, "--log": args.log})
    if args.activation != "st":
        refuse(explicit, ("threshold",), "it applies to --activation st")
        if args.learn_threshold:
            raise UsageError("--learn-threshold", "applies to --activation st; drop it")
    if args.init != "normal":
        refuse(explicit, ("init_std",), "it applies to --init normal")
    if args.target is None:
        refuse(explicit, ("rtol",), "it applies with --target")


def train_keywords(args: argparse.Namespace, loss: object, data: object) -> dict:
    """Every keyword of :func:`cvxcnn.primal.train_primal` the flags set (geometry included)."""
    names = ("activation", "threshold", "learn_threshold", "neurons")
    names += ("beta", "optimizer", "lr", "epochs", "batch_size", "init", "init_std", "dtype")
    names += ("device", "seed", "target", "rtol", "threads")
    kw = {name: getattr(args, name) for name in names}
    kw |= {"loss": loss, "verbose": not args.quiet}
    return kw | geometry_keywords(args, data)


def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Run ``cvxcnn train``; returns the exit status."""
    check(args, ctx.explicit)
    try:
        from cvxcnn.primal import TrainingDivergedError, resolve_device, train_primal
    except ImportError as exc:
        print(f"cvxcnn: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        resolve_device(args.device)
    except ValueError as exc:
        raise UsageError("--device", one_line(exc)) from exc
    loss = make_loss(args, ctx.explicit)
    data = load_data(args, ctx.explicit)
    build_problem(args, data)  # geometry errors now, not inside torch
    try:
        result = train_primal(data.noisy, data.clean, **train_keywords(args, loss, data))
    except TrainingDivergedError as exc:
        payload = {"status": "diverged", "success": False, "message": one_line(exc)}
        if args.log is not None:
            ctx.outputs.write_json(args.log, ctx.finish({**payload, **data_summary(args, data)}))
        return report_failure(str(exc))
    payload = {**result.to_dict(), **data_summary(args, data)}
    payload["weights"] = None if args.out is None else str(args.out)
    payload.update(
        psnr_summary(data, predict_images(result.network, result.problem), "psnr_trained")
    )
    if args.out is not None:
        ctx.outputs.write(args.out, result.save)
    if args.log is not None:
        ctx.outputs.write_json(args.log, ctx.finish(payload))
    print_lines(args, [summary_line(result)])
    return EXIT_OK


def summary_line(result: object) -> str:
    """Objective, epochs, time and the target's verdict."""
    line = (
        f"trained objective {result.final_objective:.6g} (float64 evaluator) after "
        f"{result.epochs_run} epochs, {result.seconds[-1]:.2f} s on {result.device} "
        f"({result.seconds_per_epoch * 1e3:.3g} ms/epoch)"
    )
    if result.target is not None:
        line += (
            f"; target {result.target:.6g} reached at epoch {result.epochs_to_target}"
            if result.reached_target
            else f"; target {result.target:.6g} not reached (rtol {result.rtol:g})"
        )
    return line
