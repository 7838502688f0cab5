"""``cvxcnn colorize``: the colorization system end to end (:mod:`cvxcnn.colorization`).

Fits the convex network (separable upper bound of the vector problem), the
PyTorch primal network on the same objective and the primal network with the
chroma loss (eq. 2, ``--gamma``) on crops of colour images bundled with
scikit-image, predicts ab from L on held-out crops and writes into ``--out``:
``colorize.json`` (objectives, RMSE(ab), mean chroma, RGB PSNR, seconds,
``"config"`` and ``"warnings"``) and ``colorize.png`` (input L, ground truth,
convex, primal, primal+chroma). Needs torch and matplotlib. Example::

    cvxcnn colorize --out colorize-out --kernel 3 --gamma 1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cvxcnn.cli.common import RunContext, add_common_flags, float_arg, int_arg, print_lines
from cvxcnn.cli.errors import EXIT_USAGE, UsageError, one_line
from cvxcnn.cli.output import check_output_dir, json_text

#: The flags' defaults (those of :class:`cvxcnn.colorization.system.ColorizeConfig`).
DEFAULTS = {"out": Path("cvxcnn-colorize"), "kernel": 3, "crops": 2, "size": 16, "stride": 2}
DEFAULTS |= {"patterns": 40, "beta": 0.01, "gamma": 1.0, "neurons": 64, "epochs": 1500}
DEFAULTS |= {"lr": 1e-2, "seed": 0}
#: Flag -> ColorizeConfig field.
FIELDS = {"kernel": "kernel", "crops": "crops_per_image", "size": "size", "stride": "stride"}
FIELDS |= {"patterns": "patterns", "beta": "beta", "gamma": "gamma", "neurons": "neurons"}
FIELDS |= {"epochs": "epochs", "lr": "lr", "seed": "seed"}
MAX_SIZE = 32


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``cvxcnn colorize``."""
    p = sub.add_parser(
        "colorize",
        help="colorization L -> ab: convex vs primal vs primal+chroma, JSON and a figure",
        description="Predict the ab channels of CIE Lab from L with two-layer CNNs on crops of "
        "scikit-image's colour images: the convex network (separable upper bound of the "
        "vector problem, sampled cells), the PyTorch network on the same objective and the "
        "PyTorch network on the chroma-augmented loss (eq. 2; not convex). Needs torch.",
    )
    p.add_argument("--out", type=Path, help="output folder (default cvxcnn-colorize)")
    g = p.add_argument_group("data")
    g.add_argument("--crops", type=int_arg(1), help="training crops per image (default 2)")
    g.add_argument("--size", type=int_arg(4), help=f"training crop side, <= {MAX_SIZE} (16)")
    g.add_argument("--stride", type=int_arg(1), help="stride of training positions (2)")
    g.add_argument("--seed", type=int_arg(0), help="seed of every random choice (default 0)")
    g = p.add_argument_group("model")
    g.add_argument("--kernel", type=int_arg(1), help="kernel side (default 3; 5 is slower)")
    g.add_argument("--patterns", type=int_arg(1), help="sampled cell generators (default 40)")
    g.add_argument("--beta", type=float_arg(0.0), help="weight decay beta > 0 (0.01)")
    g.add_argument("--gamma", type=float_arg(0.0, inclusive=True), help="chroma weight (1)")
    g.add_argument("--neurons", type=int_arg(1), help="hidden channels of the primal nets (64)")
    g.add_argument("--epochs", type=int_arg(0), help="Adam epochs, full batch (default 1500)")
    g.add_argument("--lr", type=float_arg(0.0), help="Adam step size (default 0.01)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no table")
    add_common_flags(p)
    return p


def config_from(args: argparse.Namespace) -> object:
    """The :class:`~cvxcnn.colorization.system.ColorizeConfig` the flags describe."""
    from cvxcnn.colorization.system import ColorizeConfig

    if args.size > MAX_SIZE:
        raise UsageError("--size", f"must be <= {MAX_SIZE} (the crops' band); got {args.size}")
    return ColorizeConfig(**{field: getattr(args, flag) for flag, field in FIELDS.items()})


def table_lines(rows: list[dict]) -> list[str]:
    """The side-by-side table printed at the end."""
    head = f"{'model':<15}{'objective':>11}{'RMSE(ab) tr':>12}{'RMSE(ab) te':>12}"
    head += f"{'chroma tr':>10}{'chroma te':>10}{'PSNR te':>9}{'s':>7}"
    lines = [head]
    for r in rows:
        lines.append(
            f"{r['model']:<15}{r['objective']:11.4g}{r['train_rmse_ab']:12.2f}"
            f"{r['test_rmse_ab']:12.2f}{r['train_chroma']:10.2f}{r['test_chroma']:10.2f}"
            f"{r['test_psnr_rgb']:9.2f}{r['seconds']:7.1f}"
        )
    lines.append(
        "objective: 1/2||R f - X||_F^2 + beta/2 sum(||u||^2 + ||w||^2) (scaled units); convex = "
        "separable network over sampled cells, an UPPER bound on the global optimum"
    )
    return lines


def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Run ``cvxcnn colorize`` into a staging folder; returns the exit status."""
    check_output_dir(args.out, "--out")
    cfg = config_from(args)
    try:
        from cvxcnn.colorization.system import plot_colorization, run_colorization
    except ImportError as exc:  # torch or matplotlib missing
        print(f"cvxcnn: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    staging = ctx.outputs.stage_dir(args.out)
    result = run_colorization(cfg, verbose=not args.quiet)
    plot_colorization(result, staging / "colorize.png")
    text = json_text(ctx.finish(result.to_dict()))
    (staging / "colorize.json").write_text(text, encoding="utf-8")
    print_lines(args, [*table_lines(result.rows), f"output folder: {args.out}"])
    return 0 if result.convex.success else 1
