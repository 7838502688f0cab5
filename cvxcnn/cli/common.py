"""Arguments -> data, problem, cells, loss and solver options, in ONE place.

Every subcommand adds its flags with the ``add_*_args`` functions here and
turns them into objects with :func:`load_data`, :func:`build_problem`,
:func:`make_loss`, :func:`training_cells`, :func:`cell_set`
and :func:`check_solver` (:func:`training_setup`: the first four, as every
convex solve starts). Flags whose default matters
for applicability checks have ``None`` as their argparse default; the real
defaults are the ``*_DEFAULTS`` dicts, filled in by :func:`resolve_defaults`,
which also returns the set of flags the user gave explicitly (so a flag that
does not apply to the chosen mode is refused instead of ignored).
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cvxcnn.activations import get_activation
from cvxcnn.arrangements import (
    ArrangementTooLargeError,
    PatternSet,
    PatternStream,
    stream_relu_patterns,
)
from cvxcnn.certificates import Certificate, certify
from cvxcnn.cli.errors import UsageError, one_line
from cvxcnn.cli.output import Outputs
from cvxcnn.data import DenoisingData, load_dataset
from cvxcnn.losses import Loss, get_loss
from cvxcnn.metrics import psnr
from cvxcnn.mip_oracle import DEFAULT_TIME_LIMIT, MipArrangement
from cvxcnn.network_io import save_network
from cvxcnn.problem import PatchProblem, ProblemSpec, make_problem
from cvxcnn.routing import OracleChoice, choose_oracle
from cvxcnn.soft_threshold import TripleSet
from cvxcnn.streaming import certify_streamed

LOSSES = ("squared", "absolute", "huber", "logistic")
DATA_DEFAULTS = {"data": "digits", "images": None, "noise": 0.25, "noise_type": "gaussian"}
DATA_DEFAULTS |= {"size": None, "seed": 0}
#: The geometry flags (:func:`add_geometry_args`) -> :func:`make_problem`'s keywords.
GEOMETRY_KEYWORDS = {"kernel": "kernel_size", "stride": "stride", "padding": "padding"}
GEOMETRY_KEYWORDS |= {"bias": "bias", "residual": "residual"}
#: Their defaults: :func:`make_problem`'s own.
GEOMETRY_DEFAULTS = {
    flag: inspect.signature(make_problem).parameters[keyword].default
    for flag, keyword in GEOMETRY_KEYWORDS.items()
}
MODEL_DEFAULTS = {**GEOMETRY_DEFAULTS, "beta": 1e-3}
MODEL_DEFAULTS |= {"loss": "squared", "huber_delta": 1.0}
PATTERN_DEFAULTS = {"patterns": 500, "data_directed": 0.0, "max_cells": 200_000}
SOLVER_DEFAULTS = {"solver": "clarabel", "solver_option": [], "facets": "auto", "jobs": -1}
SOLVER_DEFAULTS |= {"max_memory": None}
#: Every flag of :func:`add_convex_args` (``cvxcnn solve`` and ``cvxcnn path``).
CONVEX_DEFAULTS = {**DATA_DEFAULTS, **MODEL_DEFAULTS, **PATTERN_DEFAULTS, **SOLVER_DEFAULTS}
#: Errors a user's own input file can raise while it is read.
INPUT_ERRORS = (ValueError, TypeError, OSError, EOFError, KeyError, zipfile.BadZipFile)


# --------------------------------------------------------------------------- #
# argument types
# --------------------------------------------------------------------------- #
def int_arg(minimum: int):
    """An argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}; got {value}")
        return value

    return parse


def float_arg(minimum: float = 0.0, *, inclusive: bool = False, maximum: float = math.inf):
    """An argparse type: a finite float > ``minimum`` (>= with ``inclusive``), <= ``maximum``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
        low_ok = value >= minimum if inclusive else value > minimum
        if not (math.isfinite(value) and low_ok and value <= maximum):
            low = f"{'>=' if inclusive else '>'} {minimum:g}"
            high = "" if math.isinf(maximum) else f" and <= {maximum:g}"
            raise argparse.ArgumentTypeError(f"must be finite, {low}{high}; got {text!r}")
        return value

    return parse


def patterns_arg(text: str) -> int | str:
    """``--patterns``: a positive integer or ``exact``."""
    if text == "exact":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer or 'exact'; got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 or 'exact'; got {value}")
    return value


def padding_arg(text: str) -> str | int:
    """``--padding``: ``same``, ``valid`` or a non-negative integer."""
    if text in ("same", "valid"):
        return text
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"must be 'same', 'valid' or an integer >= 0; got {text!r}"
        )
    return value


def solver_option_arg(text: str) -> tuple[str, object]:
    """``--solver-option KEY=VALUE``; VALUE is read as JSON when it parses."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(
            f"must look like KEY=VALUE (e.g. tol_gap_rel=1e-10); got {text!r}"
        )
    try:
        value: object = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


# --------------------------------------------------------------------------- #
# argument groups
# --------------------------------------------------------------------------- #
def add_data_args(p: argparse.ArgumentParser) -> None:
    """``--data --images --noise --noise-type --size --seed``."""
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        help="digits, phantom, camera, synthetic1d, or PATH.npz with arrays 'noisy' and "
        "'clean' (default: digits)",
    )
    g.add_argument(
        "--images",
        type=int_arg(1),
        help="number of images (default: 4 digits, 1 phantom/camera/signal, all of a .npz)",
    )
    g.add_argument("--noise", type=float_arg(0.0, inclusive=True), help="noise level (0.25)")
    g.add_argument("--noise-type", choices=("gaussian", "exponential"), help="noise model")
    g.add_argument("--size", type=int_arg(1), help="image side / signal length")
    g.add_argument("--seed", type=int_arg(0), help="seed of every random choice (default 0)")


def add_geometry_args(g: argparse._ArgumentGroup) -> None:
    """``--kernel --stride --padding --bias --residual`` (defaults: None)."""
    g.add_argument("--kernel", type=int_arg(1), help="kernel size (default 3)")
    g.add_argument("--stride", type=int_arg(1), help="stride (default 1)")
    g.add_argument("--padding", type=padding_arg, help="same|valid|INT (default same)")
    g.add_argument("--bias", action="store_true", default=None, help="first-layer bias")
    g.add_argument(
        "--residual", action="store_true", default=None, help="learn clean - noisy (Cor. 1.1)"
    )


def add_loss_args(g: argparse._ArgumentGroup, *, beta: bool = True) -> None:
    """``--beta`` (unless ``beta=False``), ``--loss``, ``--huber-delta``."""
    if beta:
        g.add_argument("--beta", type=float_arg(0.0), help="weight decay beta > 0 (1e-3)")
    g.add_argument("--loss", choices=LOSSES, help="loss (default squared)")
    g.add_argument("--huber-delta", type=float_arg(0.0), help="Huber transition point (default 1)")


def add_pattern_args(g: argparse._ArgumentGroup, *, what: str = "sign patterns") -> None:
    """``--patterns --data-directed --max-cells``."""
    g.add_argument(
        "--patterns",
        type=patterns_arg,
        help=f"number of sampled {what}, or 'exact' for every cell (default 500)",
    )
    g.add_argument(
        "--data-directed",
        type=float_arg(0.0, inclusive=True, maximum=1.0),
        help="fraction of sampled generators taken from the data (default 0)",
    )
    g.add_argument(
        "--max-cells",
        type=int_arg(1),
        help="refuse exact enumeration when the cell-count bound exceeds this (200000)",
    )


def add_solver_args(g: argparse._ArgumentGroup) -> None:
    """``--solver --solver-option --facets --jobs``."""
    g.add_argument("--solver", help="a CVXPY conic solver: clarabel (default), scs, ...")
    g.add_argument(
        "--solver-option",
        type=solver_option_arg,
        action="append",
        metavar="KEY=VALUE",
        help="solver option, repeatable (e.g. --solver-option tol_gap_rel=1e-10)",
    )
    g.add_argument(
        "--facets",
        choices=("auto", "off", "adjacency", "hull", "lp"),
        help="keep only each cone's facet rows (default auto); 'off' keeps every sign row",
    )
    g.add_argument(
        "--jobs",
        type=int,
        help="processes for the facet reduction (default -1: every CPU; 0 is refused)",
    )
    g.add_argument(
        "--max-memory",
        type=float_arg(0.0),
        metavar="GIB",
        help="refuse programs estimated above this many GiB (default: half the machine's RAM)",
    )


def add_convex_args(p: argparse.ArgumentParser, *, beta: bool = True) -> argparse._ArgumentGroup:
    """Data, model (``--beta`` unless ``beta=False``), pattern and solver flags of a convex solve.

    Returns
    -------
    argparse._ArgumentGroup
        The "patterns and solver" group, for the subcommand's own solver flags.
    """
    add_data_args(p)
    g = p.add_argument_group("model")
    add_geometry_args(g)
    add_loss_args(g, beta=beta)
    g = p.add_argument_group("patterns and solver")
    add_pattern_args(g)
    add_solver_args(g)
    return g


def reduction_keywords(args: argparse.Namespace) -> dict:
    """``facets``, ``n_jobs`` and ``max_memory``: how a program is reduced and bounded."""
    return {"facets": args.facets, "n_jobs": args.jobs, "max_memory": max_memory(args)}


def max_memory(args: argparse.Namespace) -> float | None:
    """``--max-memory`` in bytes (None: the library's default, half the RAM)."""
    value = getattr(args, "max_memory", None)  # not every subcommand has the flag
    return None if value is None else float(value) * 2**30


def add_common_flags(p: argparse.ArgumentParser) -> None:
    """``--debug`` (every subcommand)."""
    p.add_argument("--debug", action="store_true", help="show the traceback of any error")


def add_output_args(
    p: argparse.ArgumentParser,
    files: dict[str, str],
    *,
    quiet: str = "print nothing but errors",
    title: str | None = "output",
) -> None:
    """Output file flags, ``--quiet`` and ``--debug``.

    Parameters
    ----------
    p : argparse.ArgumentParser
        The subcommand's parser.
    files : dict
        ``{flag: help}`` of the output files (each a :class:`~pathlib.Path`).
    quiet : str
        Help of ``--quiet``.
    title : str or None
        Title of the argument group; None adds the flags to ``p`` itself.
    """
    g = p if title is None else p.add_argument_group(title)
    for flag, text in files.items():
        g.add_argument(flag, type=Path, help=text)
    g.add_argument("--quiet", action="store_true", help=quiet)
    add_common_flags(p)


# --------------------------------------------------------------------------- #
# defaults and applicability
# --------------------------------------------------------------------------- #
def flag_name(dest: str) -> str:
    """``"huber_delta"`` -> ``"--huber-delta"``."""
    return "--" + dest.replace("_", "-")


def resolve_defaults(args: argparse.Namespace, defaults: dict) -> set[str]:
    """Fill the ``None`` arguments from ``defaults``; return the names given explicitly."""
    explicit = set()
    for name, default in defaults.items():
        if getattr(args, name, None) is None:
            setattr(args, name, list(default) if isinstance(default, list) else default)
        else:
            explicit.add(name)
    return explicit


def refuse(explicit: set[str], names: tuple[str, ...], why: str) -> None:
    """Refuse the first of ``names`` the user gave: it would be ignored (``why``)."""
    for name in names:
        if name in explicit:
            raise UsageError(flag_name(name), f"{why}; drop {flag_name(name)}")


def config_of(args: argparse.Namespace) -> dict:
    """Every resolved argument (for the JSON's ``"config"``)."""
    return {k: v for k, v in sorted(vars(args).items()) if k != "command"}


@dataclass
class RunContext:
    """What a subcommand's ``run`` gets besides its arguments.

    Attributes
    ----------
    explicit : set of str
        Arguments the user gave (not defaults).
    outputs : Outputs
        Stage every output file here; committed when ``run`` returns.
    warnings : list
        Warnings recorded so far (``warnings.catch_warnings(record=True)``).
    config : dict
        Every resolved argument.
    """

    explicit: set[str]
    outputs: Outputs
    warnings: list
    config: dict = field(default_factory=dict)

    def finish(self, payload: dict) -> dict:
        """``payload`` plus ``"config"`` and ``"warnings"`` (deduplicated, in order)."""
        seen = dict.fromkeys(one_line(f"{w.category.__name__}: {w.message}") for w in self.warnings)
        return {**payload, "config": self.config, "warnings": list(seen)}


# --------------------------------------------------------------------------- #
# data, problem, loss
# --------------------------------------------------------------------------- #
def is_npz(data: str) -> bool:
    """Whether ``--data`` names a user file."""
    return str(data).lower().endswith(".npz")


def load_data(args: argparse.Namespace, explicit: set[str]) -> DenoisingData:
    """The data set ``--data --images --noise --noise-type --size --seed`` select.

    A subcommand with an ``--offset`` flag (``cvxcnn explain``) also picks the first image.
    """
    if is_npz(args.data):
        path = Path(args.data)
        refuse(explicit, ("noise", "noise_type", "size"), f"{path} holds its own noisy inputs")
        if not path.is_file():
            raise UsageError("--data", f"{path}: no such file; pass an existing .npz file")
    try:
        return load_dataset(
            args.data,
            n_images=args.images,
            noise=args.noise,
            noise_type=args.noise_type,
            random_state=args.seed,
            size=args.size,
            offset=getattr(args, "offset", None) or 0,
        )
    except INPUT_ERRORS as exc:
        raise UsageError("--data", one_line(exc)) from exc


def data_summary(args: argparse.Namespace, data: DenoisingData) -> dict:
    """``data``, ``images``, ``noise`` (None when unknown: user files) and ``noise_type``."""
    known = data.noise_type != "unknown"
    return {
        "data": str(args.data),
        "images": data.n_images,
        "noise": data.noise if known else None,
        "noise_type": data.noise_type,
    }


def geometry_keywords(args: argparse.Namespace, data: DenoisingData) -> dict:
    """:func:`make_problem`'s geometry keywords: the geometry flags and ``data.spatial_dims``."""
    keywords = {keyword: getattr(args, flag) for flag, keyword in GEOMETRY_KEYWORDS.items()}
    keywords |= {"bias": bool(args.bias), "residual": bool(args.residual)}
    return {**keywords, "spatial_dims": data.spatial_dims}


def build_problem(args: argparse.Namespace, data: DenoisingData) -> PatchProblem:
    """The training problem of ``--kernel --stride --padding --bias --residual``."""
    try:
        return make_problem(data.noisy, data.clean, **geometry_keywords(args, data))
    except (ValueError, TypeError) as exc:
        text = one_line(exc)
        names = ("residual", "kernel", "stride", "padding")
        flag = next((flag_name(n) for n in names if n in text), "--kernel")
        raise UsageError(flag, text) from exc


def make_loss(args: argparse.Namespace, explicit: set[str]) -> Loss:
    """The loss of ``--loss`` (``--huber-delta`` only with ``--loss huber``)."""
    if args.loss != "huber":
        refuse(explicit, ("huber_delta",), f"it applies to --loss huber, not {args.loss}")
        return get_loss(args.loss)
    return get_loss("huber", delta=args.huber_delta)


def load_problem(
    args: argparse.Namespace, explicit: set[str]
) -> tuple[DenoisingData, PatchProblem, Loss]:
    """``(data, problem, loss)``: :func:`load_data`, :func:`build_problem`, :func:`make_loss`."""
    data = load_data(args, explicit)
    return data, build_problem(args, data), make_loss(args, explicit)


def psnr_summary(data: DenoisingData, prediction: np.ndarray | None, key: str) -> dict:
    """``psnr_noisy`` (None when noisy and clean differ in shape) and ``key``."""
    clean = data.clean
    out: dict = {"psnr_noisy": None, key: None}
    if data.noisy.shape == clean.shape:
        out["psnr_noisy"] = psnr(data.noisy, clean)
    if prediction is not None and prediction.size == clean.size:  # output grid == input grid
        out[key] = psnr(prediction.reshape(clean.shape), clean)
    return out


# --------------------------------------------------------------------------- #
# cells
# --------------------------------------------------------------------------- #
def too_large(flag: str, exc: ArrangementTooLargeError) -> UsageError:
    """The refusal of an exact enumeration, naming ``flag`` and the fixes."""
    text = one_line(exc).split(". ")[0]
    return UsageError(
        flag, f"{text}; raise --max-cells, use a smaller problem, or sample (--patterns N)"
    )


def cell_set(
    args: argparse.Namespace,
    Y: np.ndarray,
    mode: str,
    *,
    samples: int | None = None,
    activation: str = "relu",
    flag: str = "--certify",
    extra: PatternSet | None = None,
    threshold: float | None = None,
    search: bool = False,
) -> PatternSet | TripleSet:
    """Every cell of ``Y``'s arrangement or a seeded sample, as ``mode`` asks.

    Parameters
    ----------
    args : argparse.Namespace
        Gives ``--max-cells`` (the bound of an enumeration), ``--data-directed``
        and ``--seed`` (of a sample).
    Y : ndarray of shape (n, d)
        The patches.
    mode : {"exact", "sampled", "auto"}
        ``exact`` enumerates (refused, naming ``flag``, above ``--max-cells``);
        ``auto`` enumerates when the count bound allows and samples otherwise
        (the result's ``exact`` says which).
    samples : int, optional
        How many cells a sample draws.
    activation : str
        ``relu`` (sign patterns) or ``soft_threshold`` (triples).
    flag : str
        The flag a refused enumeration names.
    extra : PatternSet, optional
        ReLU patterns (e.g. the solve's own) added to a sample.
    threshold : float, optional
        The fixed soft threshold a sample of triples is drawn for.
    search : bool
        For the oracle only (certify, column generation): ``exact`` gives
        every cell in the form :func:`searched_cells` picks (enumerated,
        streamed, or searched by the activation's mixed-integer oracle with
        ``--oracle-time-limit`` seconds per call; ReLU patterns or ST
        triples) instead of a refusal beyond ``--max-cells``.

    Returns
    -------
    PatternSet, PatternStream, MipArrangement or TripleSet
    """
    act = get_activation(activation)
    if mode == "exact" and search:
        return searched_cells(args, Y, activation=activation, flag=flag)[0]
    if mode in ("auto", "exact"):
        try:
            return act.enumerate(Y, max_cells=args.max_cells)
        except ArrangementTooLargeError as exc:
            if mode == "exact":
                raise too_large(flag, exc) from exc
    options = {} if threshold is None else {"threshold": threshold}
    cells = act.sample(
        Y, samples, data_directed=args.data_directed, random_state=args.seed, **options
    )
    return cells.union(extra) if isinstance(extra, PatternSet) else cells


def searched_cells(
    args: argparse.Namespace, Y: np.ndarray, *, activation: str = "relu", flag: str = "--certify"
) -> tuple[PatternSet | PatternStream | MipArrangement | TripleSet, OracleChoice]:
    """Every cell of ``Y``, for the oracle, in the form :func:`cvxcnn.routing.choose_oracle` picks.

    ``--max-cells`` and ``--max-memory`` decide: an enumerated set, a
    cached :class:`~cvxcnn.arrangements.PatternStream` (ReLU, rank <= 5), or
    a :class:`~cvxcnn.mip_oracle.MipArrangement` (``--oracle-time-limit``
    seconds per call). Returns the cells and the choice (for the JSON).
    """
    choice = choose_oracle(
        Y, activation=activation, max_cells=args.max_cells, max_memory=max_memory(args)
    )
    if choice.oracle == "stream":
        progress = not getattr(args, "quiet", False)
        return stream_relu_patterns(Y, progress=progress, cache=True), choice
    act = get_activation(activation)
    if choice.oracle == "mip":
        return act.search_all(Y, time_limit=oracle_time_limit(args), random_state=args.seed), choice
    try:
        return act.enumerate(Y, max_cells=args.max_cells), choice
    except ArrangementTooLargeError as exc:
        if not act.searched_type:
            raise too_large(flag, exc) from exc
        # cells the activation's enumeration refuses: its enumeration-free (MIP) oracle
        why = f"{choice.reason}; beyond it the {act.name} mixed-integer oracle"
        choice = OracleChoice("mip", why, choice.count_bound, choice.rank, choice.stream_bytes)
        return act.search_all(Y, time_limit=oracle_time_limit(args), random_state=args.seed), choice


def certify_over(
    network: object,
    problem: PatchProblem,
    cells: object,
    *,
    beta: float,
    loss: Loss,
    oracle_options: dict | None = None,
) -> Certificate:
    """:func:`cvxcnn.certify` over ``cells``; the streamed oracle over a :class:`PatternStream`.

    ``oracle_options`` (listed cells only, e.g. an ``executor``) go to the oracle.
    """
    if isinstance(cells, PatternStream):
        if oracle_options:
            raise UsageError("--dask", "applies to listed cells, not to a stream of every cell")
        return certify_streamed(network, problem, beta=beta, loss=loss, stream=cells)
    options = {"oracle_options": oracle_options} if oracle_options else {}
    return certify(network, problem, cells, beta=beta, loss=loss, **options)


def oracle_line(choice: OracleChoice) -> str:
    """One printed line: the oracle chosen and why."""
    return f"oracle: {choice.oracle} ({choice.reason})"


def oracle_time_limit(args: argparse.Namespace) -> float:
    """``--oracle-time-limit`` (seconds per MIP oracle call), or the default."""
    value = getattr(args, "oracle_time_limit", None)
    return DEFAULT_TIME_LIMIT if value is None else float(value)


def add_oracle_time_limit(group: argparse._ArgumentGroup) -> None:
    """``--oracle-time-limit``: seconds per call of the mixed-integer oracle."""
    group.add_argument(
        "--oracle-time-limit",
        type=float_arg(0.0),
        help="seconds per call of the mixed-integer oracle, used when every cell is asked for "
        f"and the arrangement is beyond --max-cells (default {DEFAULT_TIME_LIMIT:g}); at the "
        "limit the gap is still certified, only looser",
    )


def training_cells(
    args: argparse.Namespace,
    Y: np.ndarray,
    *,
    activation: str = "relu",
    threshold: float | None = None,
) -> PatternSet | TripleSet:
    """The program's cells: every one (``--patterns exact``) or a sample of ``--patterns``."""
    mode = "exact" if args.patterns == "exact" else "sampled"
    return cell_set(
        args,
        Y,
        mode,
        samples=args.patterns,
        activation=activation,
        flag="--patterns",
        threshold=threshold,
    )


@dataclass
class TrainingSetup:
    """What a convex solve starts from: data, problem, loss and the program's cells.

    Attributes
    ----------
    data : DenoisingData
    problem : PatchProblem
    loss : Loss
    cells : PatternSet or TripleSet
        :func:`training_cells` of ``problem.Y``.
    cell_seconds : float
        Wall time of enumerating or sampling ``cells`` (data loading excluded).
    """

    data: DenoisingData
    problem: PatchProblem
    loss: Loss
    cells: PatternSet | TripleSet
    cell_seconds: float

    def summary(self, args: argparse.Namespace) -> dict:
        """The JSON's :func:`data_summary`, ``pattern_method`` and ``pattern_seconds``."""
        cells = {"pattern_method": self.cells.method, "pattern_seconds": self.cell_seconds}
        return {**data_summary(args, self.data), **cells}


def training_setup(
    args: argparse.Namespace,
    explicit: set[str],
    *,
    activation: str = "relu",
    threshold: float | None = None,
) -> TrainingSetup:
    """:func:`load_problem`, then the program's cells (:func:`training_cells`), timed."""
    data, problem, loss = load_problem(args, explicit)
    start = time.perf_counter()
    cells = training_cells(args, problem.Y, activation=activation, threshold=threshold)
    return TrainingSetup(data, problem, loss, cells, time.perf_counter() - start)


def activation_name(args: argparse.Namespace) -> str:
    """The activation's registered name for ``--activation relu|st``."""
    return get_activation(getattr(args, "activation", None) or "relu").name


def problem_spec(
    args: argparse.Namespace,
    problem: PatchProblem,
    loss: Loss,
    *,
    activation: str,
    threshold: float | None = None,
) -> ProblemSpec:
    """What a weights file records: the problem actually solved, with the data flags."""
    settings = loss.to_dict()
    name = settings.pop("name")
    data = {k: getattr(args, k, None) for k in ("data", "images", "size", "noise", "seed")}
    data = {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}
    return ProblemSpec.from_problem(
        problem,
        activation=activation,
        beta=float(args.beta),
        loss=name,
        loss_params=settings,
        threshold=threshold,
        data=data,
    )


# --------------------------------------------------------------------------- #
# solver
# --------------------------------------------------------------------------- #
def solver_options(args: argparse.Namespace) -> dict:
    """``--solver-option`` pairs as a dict (later ones win)."""
    return dict(args.solver_option or [])


def solver_keywords(args: argparse.Namespace, loss: Loss) -> dict:
    """``beta``, ``loss``, ``solver``, ``solver_options`` and ``canon_backend`` of a fit."""
    return {
        "beta": args.beta,
        "loss": loss,
        "solver": args.solver,
        "solver_options": solver_options(args),
        "canon_backend": args.canon_backend,
    }


def check_solver(name: str, loss: str, options: dict) -> str:
    """Refuse, before any work, a solver that is missing or cannot take these programs.

    Returns
    -------
    str
        The CVXPY solver name.
    """
    import cvxpy as cp

    from cvxcnn.solve import resolve_solver

    try:
        key = resolve_solver(name)
    except ValueError as exc:
        raise UsageError("--solver", one_line(exc)) from exc
    x = cp.Variable(2)
    objective = cp.norm(x, 2) + cp.sum_squares(x)
    if loss == "logistic":
        objective = objective + cp.sum(cp.logistic(x))
    try:
        cp.Problem(cp.Minimize(objective), [x >= -1]).get_problem_data(key)
    except cp.error.SolverError as exc:
        cones = "second-order" + (" and exponential" if loss == "logistic" else "")
        raise UsageError(
            "--solver",
            f"{name} cannot solve these programs ({cones} cones); use clarabel or scs",
        ) from exc
    if key == "CLARABEL":
        import clarabel

        settings = clarabel.DefaultSettings()
        for k, v in options.items():
            if not hasattr(settings, k):
                raise UsageError(
                    "--solver-option",
                    f"Clarabel has no setting {k!r}; see clarabel.DefaultSettings() for the names",
                )
            try:
                setattr(settings, k, v)
            except (TypeError, ValueError, OverflowError) as exc:
                raise UsageError("--solver-option", f"{k}={v!r}: {one_line(exc)}") from exc
    return key


def check_st_facets(facets: str) -> None:
    """Refuse ``--facets adjacency`` for soft-threshold cells (it needs ReLU cells)."""
    if facets == "adjacency":
        raise UsageError("--facets", "adjacency applies to ReLU cells; use auto, off, hull or lp")


def check_jobs(jobs: int) -> None:
    """``--jobs``: a positive count or a negative one (-1: every CPU), never 0."""
    if jobs == 0:
        raise UsageError("--jobs", "must be >= 1, or negative (-1: every CPU); got 0")


# --------------------------------------------------------------------------- #
# results
# --------------------------------------------------------------------------- #
def predict_images(network: object, problem: PatchProblem) -> np.ndarray:
    """The network's outputs on ``problem``, as images (residual offset added back)."""
    from cvxcnn.networks import predict
    from cvxcnn.problem import predictions_to_images

    values = predict(network, problem)
    if problem.offset is not None:
        values = values + problem.offset
    return predictions_to_images(values, problem)


def certificate_lines(cert: object) -> list[str]:
    """Human-readable summary of a :class:`cvxcnn.certificates.Certificate`."""
    if cert.certificate == "failed":
        return [f"NO lower bound: {cert.message}"]
    label = "CERTIFIED lower bound (every cell searched)"
    if not cert.certified:
        label = f"ESTIMATED lower bound (not a certificate: {cert.message or 'sampled cells'})"
    lines = [
        f"{label}: {cert.lower_bound:.10g}; upper bound {cert.upper_bound:.10g}; "
        f"gap {cert.gap:.3g} (relative {cert.relative_gap:.3g}); oracle {cert.oracle} over "
        f"{cert.oracle_cells} cells"
    ]
    if cert.certified and not cert.oracle_converged:
        lines.append(
            f"note: anytime certificate: the {cert.oracle} oracle stopped at its time limit with "
            f"M in [{cert.oracle_lower:.6g}, {cert.oracle_upper:.6g}]; the lower bound uses the "
            "upper end (rigorous, possibly loose); raise --oracle-time-limit to tighten it"
        )
    if cert.gap < 0:
        lines.append(
            "note: the estimate exceeds the network's own objective, which a true lower bound "
            "never does: the sampled cells missed where M(r) is largest"
        )
    return lines


def report_failure(message: str) -> int:
    """One line on stderr for a solver or accuracy failure; returns exit status 1."""
    import sys

    from cvxcnn.cli.errors import EXIT_FAILURE

    print(f"cvxcnn: failed: {one_line(message)}", file=sys.stderr)
    return EXIT_FAILURE


def write_result(args: argparse.Namespace, ctx: RunContext, payload: dict, ok: bool) -> int:
    """Write the JSON (always) and return 0, or 1 with one line on stderr."""
    if args.out is not None:
        ctx.outputs.write_json(args.out, ctx.finish(payload))
    if ok:
        return 0
    return report_failure(str(payload.get("message") or payload.get("status")))


def save_weights(
    args: argparse.Namespace, ctx: RunContext, network: object, spec: ProblemSpec
) -> None:
    """Stage ``--save-weights``: the network with the problem definition it was solved for."""
    if args.save_weights is not None:
        ctx.outputs.write(args.save_weights, lambda tmp: save_network(tmp, network, spec))


def print_lines(args: argparse.Namespace, lines: list[str]) -> None:
    """Print ``lines`` unless ``--quiet``."""
    if not args.quiet:
        for line in lines:
            print(line)
