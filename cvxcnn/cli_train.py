"""The ``cvxcnn train`` subcommand: the PyTorch primal baseline from the command line.

Registered by :mod:`cvxcnn.cli` through :func:`add_train_parser` and
:func:`run_train`. This module imports without torch; ``run_train`` reports a
missing torch as an error (exit status 2) with the install command.

Example::

    cvxcnn train --data digits --images 16 --kernel 3 --neurons 512 \\
        --optimizer adam --lr 1e-3 --epochs 200 --dtype float32 \\
        --out net.npz --log train.json
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 1

OPTIMIZER_CHOICES = ("adam", "sgd", "sgdm", "adagrad", "rmsprop", "asgd", "lbfgs")


def add_train_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``train`` subcommand to ``subparsers`` and return its parser.

    Parameters
    ----------
    subparsers : the object returned by ``ArgumentParser.add_subparsers``

    Returns
    -------
    argparse.ArgumentParser
        With ``handler=run_train`` set as a default.
    """
    p = subparsers.add_parser(
        "train",
        help="train the two-layer CNN by gradient descent (PyTorch), write weights and a log",
        description=(
            "Train conv -> ReLU/soft-threshold -> 1x1 conv on P(U, v) = 1/2 ||R f(Y) - x||^2 "
            "+ beta/2 sum_j (||u_j||^2 + v_j^2) with a torch optimizer; the final objective is "
            "re-evaluated in float64 by the shared evaluator. Needs torch."
        ),
    )
    from cvxcnn.cli import _add_data_args, _padding_arg  # cli imports this module lazily

    _add_data_args(p)
    g = p.add_argument_group("model")
    g.add_argument("--kernel", type=int, default=3, help="kernel size (default 3)")
    g.add_argument("--stride", type=int, default=1, help="stride (default 1)")
    g.add_argument("--padding", type=_padding_arg, default="same", help="same|valid|INT")
    g.add_argument("--bias", action="store_true", help="first-layer bias")
    g.add_argument("--residual", action="store_true", help="learn clean - noisy (Cor. 1.1)")
    g.add_argument(
        "--activation", default="relu", choices=("relu", "st"), help="relu or soft-threshold"
    )
    g.add_argument(
        "--threshold",
        type=float,
        default=0.1,
        help="soft-threshold lambda (fixed, or the start of --learn-threshold; default 0.1)",
    )
    g.add_argument(
        "--learn-threshold", action="store_true", help="learnable per-neuron thresholds (st)"
    )
    g.add_argument("--neurons", type=int, default=512, help="hidden channels m (default 512)")
    g.add_argument("--beta", type=float, default=1e-3, help="weight decay beta (default 1e-3)")
    g.add_argument(
        "--loss", default="squared", choices=("squared", "absolute", "huber", "logistic")
    )
    g.add_argument("--huber-delta", type=float, default=1.0, help="Huber transition point")

    g = p.add_argument_group("training")
    g.add_argument("--optimizer", default="adam", choices=OPTIMIZER_CHOICES)
    g.add_argument(
        "--lr", type=float, default=1e-3, help="learning rate (default 1e-3; use 1 for lbfgs)"
    )
    g.add_argument("--epochs", type=int, default=200, help="passes over the data (default 200)")
    g.add_argument(
        "--batch-size", type=int, default=0, help="images per mini-batch, 0 = full batch (default)"
    )
    g.add_argument("--init", default="kaiming_uniform", choices=("kaiming_uniform", "normal"))
    g.add_argument(
        "--init-std", type=float, default=1e-3, help="std of --init normal (default 1e-3)"
    )
    g.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    g.add_argument("--device", default="auto", help="auto (CUDA if available), cpu or cuda")
    g.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    g.add_argument(
        "--target",
        type=float,
        default=None,
        help="stop once the objective is within --rtol of this value (e.g. the convex optimum)",
    )
    g.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance of --target")

    g = p.add_argument_group("output")
    g.add_argument("--out", type=Path, default=None, help="weights file (.npz)")
    g.add_argument("--log", type=Path, default=None, help="JSON log: curve, objective, settings")
    g.add_argument("--quiet", action="store_true", help="no progress bar, no summary line")
    p.set_defaults(handler=run_train)
    return p


def _check_args(args: argparse.Namespace) -> None:
    if args.batch_size < 0:
        raise ValueError(f"--batch-size must be >= 0 (0 = full batch); got {args.batch_size}")
    if args.epochs < 0:
        raise ValueError(f"--epochs must be >= 0; got {args.epochs}")
    for name in ("lr", "beta", "rtol"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"--{name} must be finite and > 0; got {value}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1; got {args.threads}")


def run_train(args: argparse.Namespace) -> int:
    """Run ``cvxcnn train``; returns the exit status.

    Bad input raises ``ValueError`` (the main CLI turns it into status 2). A
    missing torch prints the install command and returns 2; a diverged run
    (NaN objective) prints the reason and returns 1.
    """
    try:
        from cvxcnn.primal import TrainingDivergedError, train_primal
    except ImportError as exc:
        print(f"cvxcnn: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from cvxcnn.cli import load_data_from_args, loss_from_args, write_json
    from cvxcnn.metrics import psnr
    from cvxcnn.networks import predict
    from cvxcnn.problem import predictions_to_images

    _check_args(args)
    data = load_data_from_args(args)
    loss = loss_from_args(args)
    try:
        result = train_primal(
            data.noisy,
            data.clean,
            spatial_dims=data.spatial_dims,
            kernel_size=args.kernel,
            stride=args.stride,
            padding=args.padding,
            bias=args.bias,
            residual=args.residual,
            activation=args.activation,
            threshold=args.threshold,
            learn_threshold=args.learn_threshold,
            neurons=args.neurons,
            beta=args.beta,
            loss=loss,
            optimizer=args.optimizer,
            lr=args.lr,
            epochs=args.epochs,
            batch_size=args.batch_size,
            init=args.init,
            init_std=args.init_std,
            dtype=args.dtype,
            device=args.device,
            seed=args.seed,
            target=args.target,
            rtol=args.rtol,
            threads=args.threads,
            verbose=not args.quiet,
        )
    except TrainingDivergedError as exc:
        print(f"cvxcnn: error: {exc}", file=sys.stderr)
        return EXIT_DIVERGED
    payload = result.to_dict()
    payload.update(
        {
            "data": str(args.data),
            "images": data.n_images,
            "noise": data.noise,
            "noise_type": data.noise_type,
            "weights": None if args.out is None else str(args.out),
        }
    )
    problem = result.problem
    values = predict(result.network, problem)
    if problem.offset is not None:
        values = values + problem.offset
    prediction = predictions_to_images(values, problem)
    if prediction.size == data.clean.size:  # output grid == input grid
        if data.noisy.shape == data.clean.shape:
            payload["psnr_noisy"] = psnr(data.noisy, data.clean)
        payload["psnr_trained"] = psnr(prediction, data.clean.reshape(prediction.shape))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        result.save(args.out)
    if args.log is not None:
        write_json(args.log, payload)
    if not args.quiet:
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
        print(line)
    return 0
