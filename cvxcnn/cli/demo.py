"""``cvxcnn demo``: the small digits run the README leads with (:func:`cvxcnn.demo.run_demo`).

The run writes into a hidden staging folder next to ``--out``; its files
(``demo.json`` with ``"config"`` and ``"warnings"`` added, ``demo.png``,
``demo_curves.png``) are moved into ``--out`` only when it finishes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cvxcnn.cli.common import RunContext, add_common_flags, int_arg
from cvxcnn.cli.output import check_output_dir, json_text

DEFAULTS = {"out": Path("cvxcnn-demo"), "images": 4, "patterns": 500, "seed": 0}


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``cvxcnn demo``."""
    p = sub.add_parser("demo", help="small digits denoising run with a side-by-side table")
    p.add_argument("--out", type=Path, help="output folder (default cvxcnn-demo)")
    p.add_argument("--images", type=int_arg(1), help="training images (default 4)")
    p.add_argument("--patterns", type=int_arg(1), help="sampled patterns (default 500)")
    p.add_argument("--seed", type=int_arg(0), help="seed of every random choice (default 0)")
    add_common_flags(p)
    return p


def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Run the demo into a staging folder; returns its exit status."""
    from cvxcnn.demo import run_demo

    check_output_dir(args.out, "--out")
    staging = ctx.outputs.stage_dir(args.out)
    status = run_demo(staging, n_images=args.images, n_patterns=args.patterns, seed=args.seed)
    summary_path = staging / "demo.json"
    if summary_path.exists():
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        summary_path.write_text(json_text(ctx.finish(summary)), encoding="utf-8")
    print(f"output folder: {args.out}")
    return status
