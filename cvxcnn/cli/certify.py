"""``cvxcnn certify``: upper bound, lower bound and gap of a given network (ReLU or ST).

The problem (kernel, stride, padding, bias, residual, readout, loss, beta)
is the one stored in the weights file (:class:`cvxcnn.problem.ProblemSpec`);
a flag that contradicts it is an error (exit 2), never a silent override.
Files of the first format (only some metadata) take the missing settings
from flags, then defaults, and still refuse a flag that contradicts what
they record. The oracle
searches every cell (``--certify exact``: certified; enumerated, streamed or
the mixed-integer oracle, as :func:`cvxcnn.routing.choose_oracle` decides
from the size and memory), ``--patterns`` sampled
cells (``sampled``: an estimate), or decides by the count bound (``auto``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from cvxcnn.cli.common import (
    DATA_DEFAULTS,
    GEOMETRY_DEFAULTS,
    GEOMETRY_KEYWORDS,
    INPUT_ERRORS,
    RunContext,
    add_data_args,
    add_geometry_args,
    add_loss_args,
    add_oracle_time_limit,
    add_output_args,
    build_problem,
    cell_set,
    certificate_lines,
    certify_over,
    data_summary,
    float_arg,
    int_arg,
    load_data,
    make_loss,
    oracle_line,
    print_lines,
    problem_spec,
    refuse,
    searched_cells,
    write_result,
)
from cvxcnn.cli.errors import UsageError, one_line
from cvxcnn.cli.output import check_output_file
from cvxcnn.executor import check_executor
from cvxcnn.network_io import LoadedNetwork, load_network

#: Used when neither a flag nor the weights file gives a value.
DEFAULTS = {**DATA_DEFAULTS, "loss": "squared", "huber_delta": 1.0, "certify": "auto"}
DEFAULTS |= {"patterns": 5000, "data_directed": 0.1, "max_cells": 200_000}
DEFAULTS |= {"oracle_time_limit": 60.0, "max_memory": None}
GEOMETRY = {**GEOMETRY_DEFAULTS, "beta": None}


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``cvxcnn certify``."""
    p = sub.add_parser(
        "certify", help="upper bound, lower bound and gap of a given network (.npz weights)"
    )
    p.add_argument("--weights", type=Path, required=True, help="network .npz (ReLU or ST)")
    add_data_args(p)
    g = p.add_argument_group("model (defaults: the metadata stored in the weights file)")
    add_geometry_args(g)
    add_loss_args(g)
    g = p.add_argument_group("oracle")
    g.add_argument(
        "--certify",
        choices=("auto", "exact", "sampled"),
        help="exact: every cell (certified: enumerated up to --max-cells, else streamed in "
        "chunks when the patches have rank <= 5, else searched by the mixed-integer oracle; "
        "the JSON's oracle_choice says which); sampled: --patterns cells (estimated); "
        "auto (default): enumerated when the cell-count bound is at most --max-cells, else sampled",
    )
    g.add_argument("--patterns", type=int_arg(1), help="sampled cells (default 5000)")
    g.add_argument(
        "--data-directed",
        type=float_arg(0.0, inclusive=True, maximum=1.0),
        help="fraction of sampled cells from data-directed generators (default 0.1)",
    )
    g.add_argument("--max-cells", type=int_arg(1), help="bound for exact (default 200000)")
    add_oracle_time_limit(g)
    g.add_argument(
        "--dask",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run the oracle's per-cell NNLS chunks on Dask: a LocalCluster, or the scheduler "
        'at ADDRESS (tcp://host:8786); ReLU networks; needs pip install "dask[distributed]"',
    )
    g.add_argument(
        "--max-memory",
        type=float_arg(0.0),
        metavar="GIB",
        help="memory a stream of every cell may hold with --certify exact (default: half the "
        "machine's RAM); beyond it the mixed-integer oracle searches the cells",
    )
    add_output_args(p, {"--out": "JSON certificate file"}, title=None)
    return p


def load_weights(path: Path) -> LoadedNetwork:
    """The network, problem definition and metadata of ``--weights`` (exit 2 on a bad file)."""
    if not path.is_file():
        raise UsageError("--weights", f"{path}: no such file; pass a .npz weights file")
    try:
        return load_network(path)
    except INPUT_ERRORS as exc:
        raise UsageError("--weights", f"cannot read {path}: {one_line(exc)}") from exc


def given_flags(args: argparse.Namespace, explicit: set[str]) -> dict:
    """The problem settings the user stated, under :class:`ProblemSpec` names."""
    names = {**GEOMETRY_KEYWORDS, "beta": "beta", "loss": "loss"}
    given = {spec: getattr(args, flag) for flag, spec in names.items() if flag in explicit}
    if "huber_delta" in explicit:
        given["loss_params"] = {"delta": args.huber_delta}
    return given


def spec_from_file(args: argparse.Namespace, explicit: set[str], loaded: LoadedNetwork):
    """The file's problem definition; a flag that contradicts it is an error (exit 2)."""
    try:
        loaded.spec.check_agrees(given_flags(args, explicit))
    except ValueError as exc:
        raise UsageError("--weights", one_line(exc)) from exc
    return loaded.spec


def spec_from_old_file(args, explicit, loaded: LoadedNetwork, data) -> tuple:
    """Format-1 files: recorded metadata, then flags, then defaults; contradictions refused."""
    fields = loaded.recorded_fields
    stored = {**GEOMETRY_KEYWORDS, "beta": "beta"}
    for flag, default in GEOMETRY.items():
        if flag in explicit:
            continue
        value = fields.get(stored[flag], default)
        if isinstance(value, (tuple, list)) and len(set(value)) == 1:
            value = value[0]
        setattr(args, flag, value)
    if args.beta is None:
        raise UsageError("--beta", "the weights file does not record beta; pass --beta B")
    loss = make_loss(args, explicit)
    problem = build_problem(args, data)
    spec = problem_spec(args, problem, loss, activation=loaded.network.activation)
    try:
        spec.check_agrees(fields, source="the command line")
    except ValueError as exc:
        raise UsageError("--weights", one_line(exc)) from exc
    return spec, problem


def problem_of(args, explicit, loaded: LoadedNetwork, data) -> tuple:
    """``(spec, problem)``: exactly the problem the weights were made for."""
    if loaded.spec is None:
        return spec_from_old_file(args, explicit, loaded, data)
    spec = spec_from_file(args, explicit, loaded)
    try:
        return spec, spec.build_problem(data.noisy, data.clean)
    except (ValueError, TypeError) as exc:
        raise UsageError(
            "--data", f"the weights' problem cannot be built: {one_line(exc)}"
        ) from exc


def run(args: argparse.Namespace, ctx: RunContext) -> int:
    """Run ``cvxcnn certify``; returns the exit status."""
    check_output_file(args.out, "--out")
    if args.certify == "exact":
        refuse(ctx.explicit, ("patterns", "data_directed"), "--certify exact samples nothing")
    else:
        refuse(ctx.explicit, ("oracle_time_limit", "max_memory"), "it applies to --certify exact")
    ctx.explicit |= {name for name in GEOMETRY if getattr(args, name) is not None}
    loaded = load_weights(args.weights)
    network = loaded.network
    data = load_data(args, ctx.explicit)
    spec, problem = problem_of(args, ctx.explicit, loaded, data)
    ctx.config.update({"problem": spec.to_dict()})
    if network.d != problem.d:
        raise UsageError(
            "--weights",
            f"the network has inputs of size {network.d} but the patches have {problem.d}; "
            "pass the --kernel/--bias the network was trained with",
        )
    start = time.perf_counter()
    choice = {}
    if args.certify == "exact":  # enumerated, streamed or the MIP: choose_oracle decides
        cells, chosen = searched_cells(args, problem.Y, activation=network.activation)
        print_lines(args, [oracle_line(chosen)])
        choice = chosen.to_dict()
    else:
        cells = cell_set(
            args, problem.Y, args.certify, samples=args.patterns, activation=network.activation
        )
    if args.certify == "auto" and not cells.exact:
        print_lines(args, [f"note: too many cells; searching {len(cells)} sampled (ESTIMATE)"])
    options = dask_oracle_options(args.dask, network, cells)
    cert = certify_over(network, problem, cells, beta=spec.beta, loss=spec.make_loss(), **options)
    payload = {**cert.to_dict(), **choice, **data_summary(args, data)}
    payload["weights"] = str(args.weights)
    payload |= {"neurons": network.n_neurons, "n": problem.n, "d": problem.d}
    payload |= {"weights_format": loaded.format_version, "problem": spec.to_dict()}
    payload["cells_seconds"] = time.perf_counter() - start - cert.oracle_seconds
    print_lines(args, certificate_lines(cert))
    return write_result(args, ctx, payload, cert.certificate != "failed")


def dask_oracle_options(address: str | None, network: object, cells: object) -> dict:
    """``--dask``: the oracle's executor (:mod:`cvxcnn.executor`), or refused with the reason."""
    if address is None:
        return {}
    if getattr(network, "activation", None) != "relu" or not hasattr(cells, "masks"):
        raise UsageError("--dask", "applies to ReLU networks over listed cells (the NNLS oracle)")
    try:
        executor = check_executor(address, "--dask")
    except (ValueError, ImportError) as exc:
        raise UsageError("--dask", one_line(exc)) from None
    return {"oracle_options": {"executor": executor}}
