"""Train the two-layer CNN on ``P(U, v)`` with torch optimizers; record the curve.

The loss is exactly the objective of :func:`cvxcnn.networks.primal_objective`,

    P(U, v) = L(R f(Y), x) + beta/2 * sum_j (||u_j||^2 + v_j^2)

(squared loss ``1/2 ||.||^2``, sums not means), the weight decay inside the
objective, never the optimizer's own. With ``out_channels = c > 1`` the
network has vector outputs (``w_j`` in R^c) and the objective is
``L(R f(Y), X) + beta/2 sum_j (||u_j||^2 + ||w_j||^2)`` with ``X`` (n_out, c)
(:func:`cvxcnn.vector_output.vector_objective`); ``loss="chroma"`` adds the
chroma term of the colorization paper's eq. 2 (:class:`~cvxcnn.vector_output.ChromaLoss`,
``gamma``), which is NOT convex: it exists for primal training only.

A mini-batch of ``B`` of the ``N`` images minimizes
``N/B * L(batch) + beta/2 * sum_j(...)``, whose expectation is ``P``. After
every epoch the FULL-batch ``P`` is evaluated (in the training dtype) and
recorded; the final objective reported is the float64 evaluator's value on
the exported weights.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from cvxcnn.losses import Loss, SquaredLoss, get_loss
from cvxcnn.network_io import save_network
from cvxcnn.networks import ReluNetwork, primal_objective
from cvxcnn.patches import as_batch
from cvxcnn.primal.models import INITS, TwoLayerCNN, primal_loss
from cvxcnn.problem import PROBLEM_OPTIONS, PatchProblem, ProblemSpec, make_problem
from cvxcnn.soft_threshold.network import STNetwork
from cvxcnn.validation import check_positive, check_positive_int
from cvxcnn.vector.network import VectorReluNetwork
from cvxcnn.vector_output import (
    ChromaLoss,
    get_vector_loss,
    make_vector_problem,
    vector_objective,
)

OPTIMIZERS = ("adam", "sgd", "sgdm", "adagrad", "rmsprop", "asgd", "lbfgs")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
DEFAULT_NEURONS = 512
#: Starting weights ``train_primal(init=...)`` accepts.
InitNetwork = ReluNetwork | STNetwork | VectorReluNetwork


class TrainingDivergedError(RuntimeError):
    """The objective became NaN or infinite (learning rate too large)."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The torch device for a name.

    ``"auto"``: CUDA when ``torch.cuda.is_available()``, else the CPU;
    ``"cpu"``; ``"cuda"`` or ``"cuda:i"`` (ValueError when CUDA is absent).
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda'; got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} but torch.cuda.is_available() is False; "
                "use device='auto' or 'cpu'"
            )
        return torch.device(device)
    raise ValueError(f"device must be 'auto', 'cpu' or 'cuda'; got {device!r}")


def make_optimizer(
    name: str, params: list[torch.nn.Parameter], lr: float, options: dict | None = None
) -> torch.optim.Optimizer:
    """A torch optimizer by name, without weight decay (the penalty is in the loss).

    Parameters
    ----------
    name : {"adam", "sgd", "sgdm", "adagrad", "rmsprop", "asgd", "lbfgs"}
        ``sgdm`` is SGD with momentum 0.9; ``lbfgs`` is ``torch.optim.LBFGS``
        with a strong-Wolfe line search (one ``step`` of up to ``max_iter=20``
        iterations per epoch; full batch only).
    params : list of Parameter
    lr : float
    options : dict, optional
        Extra keyword arguments for the optimizer (``weight_decay`` refused).
    """
    options = dict(options or {})
    if options.get("weight_decay", 0):
        raise ValueError(
            "weight_decay must not be set: the penalty beta/2 * sum(||u||^2 + v^2) is part of "
            "the objective; use beta instead"
        )
    options.pop("weight_decay", None)
    lr = check_positive(lr, "lr")
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, **options)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, **options)
    if name == "sgdm":
        return torch.optim.SGD(params, lr=lr, **{"momentum": 0.9, **options})
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, **options)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, **options)
    if name == "asgd":
        return torch.optim.ASGD(params, lr=lr, **options)
    if name == "lbfgs":
        defaults = {
            "max_iter": 20,
            "line_search_fn": "strong_wolfe",
            "tolerance_grad": 1e-12,
            "tolerance_change": 1e-15,
        }
        return torch.optim.LBFGS(params, lr=lr, **{**defaults, **options})
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}; got {name!r}")


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(threads)``, restoring the old value.

    ``None`` leaves torch's setting alone. One thread is much faster for tiny
    problems on a busy machine (OpenMP threads spin waiting for each other).
    """
    if threads is None:
        yield
        return
    threads = check_positive_int(threads, "threads")
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _json_float(x: float | None) -> float | str | None:
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


@dataclass
class TrainResult:
    """Outcome of :func:`train_primal`.

    Attributes
    ----------
    network : ReluNetwork, STNetwork or VectorReluNetwork
        The trained weights in float64 (``U`` (m, d) rows ordered like patch rows).
    final_objective : float
        ``P(U, v)`` of ``network`` by the float64 evaluator
        :func:`cvxcnn.networks.primal_objective` on ``problem``
        (:func:`cvxcnn.vector_output.vector_objective` with ``targets`` for
        vector outputs, in the loss trained: squared or chroma).
    epochs : ndarray of shape (E + 1,), int
        0 (the initial weights), 1, ..., E.
    objectives : ndarray of shape (E + 1,)
        Full-batch ``P`` after each epoch, evaluated by the trainer in its dtype.
    seconds : ndarray of shape (E + 1,)
        Wall-clock seconds since the call started, after each epoch's step
        AND its full-batch evaluation (setup included, device synchronized):
        measured like the convex side's end-to-end times.
    step_seconds : float
        The optimizer steps alone (the part of ``seconds`` spent stepping).
    total_seconds : float
        Wall time of the whole call (setup, evaluations and export included).
    device, dtype : str
    target, rtol : float or None, float
        Early-stopping target and its relative tolerance.
    reached_target : bool or None
        Whether ``objectives`` came within ``rtol`` of ``target``
        (``P <= target + rtol * |target|``); None without a target.
    epochs_to_target, seconds_to_target : int or None, float or None
        The first epoch (and its wall-clock ``seconds``) at which it did.
    settings : dict
        Every argument of the run (JSON-ready).
    problem : PatchProblem
        The problem ``final_objective`` was evaluated on (built by
        :func:`cvxcnn.problem.make_problem` with the model's geometry).
    model : TwoLayerCNN
        The trained module (on ``device``).
    targets : ndarray of shape (n_out, c) or None
        ``X`` of a vector-output run (None for one output channel).
    """

    network: ReluNetwork | STNetwork | VectorReluNetwork = field(repr=False)
    final_objective: float
    epochs: np.ndarray = field(repr=False)
    objectives: np.ndarray = field(repr=False)
    seconds: np.ndarray = field(repr=False)
    step_seconds: float
    total_seconds: float
    device: str
    dtype: str
    target: float | None
    rtol: float
    reached_target: bool | None
    epochs_to_target: int | None
    seconds_to_target: float | None
    settings: dict = field(repr=False)
    problem: PatchProblem = field(repr=False)
    model: TwoLayerCNN | None = field(default=None, repr=False)
    targets: np.ndarray | None = field(default=None, repr=False)

    @property
    def epochs_run(self) -> int:
        """Number of epochs trained (fewer than asked when the target stopped it)."""
        return int(self.epochs[-1])

    @property
    def trainer_objective(self) -> float:
        """The trainer's own last full-batch ``P`` (training dtype)."""
        return float(self.objectives[-1])

    @property
    def seconds_per_epoch(self) -> float:
        """Mean training seconds per epoch (NaN when no epoch ran)."""
        return float(self.seconds[-1] / self.epochs_run) if self.epochs_run else float("nan")

    def to_dict(self) -> dict:
        """JSON-ready summary: the curve as lists, the final objective, device and settings."""
        return {
            "final_objective": _json_float(self.final_objective),
            "trainer_objective": _json_float(self.trainer_objective),
            "initial_objective": _json_float(self.objectives[0]),
            "epochs_run": self.epochs_run,
            "train_seconds": float(self.seconds[-1]),
            "step_seconds": self.step_seconds,
            "seconds_per_epoch": _json_float(self.seconds_per_epoch),
            "total_seconds": self.total_seconds,
            "device": self.device,
            "dtype": self.dtype,
            "neurons": self.network.n_neurons,
            "n": self.problem.n,
            "d": self.problem.d,
            "activation": self.network.activation,
            "target": _json_float(self.target),
            "rtol": self.rtol,
            "reached_target": self.reached_target,
            "epochs_to_target": self.epochs_to_target,
            "seconds_to_target": _json_float(self.seconds_to_target),
            "settings": self.settings,
            "curve": {
                "epoch": [int(e) for e in self.epochs],
                "objective": [_json_float(o) for o in self.objectives],
                "seconds": [float(s) for s in self.seconds],
            },
        }

    def save(self, path: str | Path) -> None:
        """Write the weights with the whole problem (:func:`cvxcnn.network_io.save_network`).

        The :class:`~cvxcnn.problem.ProblemSpec` is read off the problem that
        was trained (geometry, residual, readout) with ``beta``, the loss and,
        for a fixed soft threshold, ``threshold``; ``final_objective`` is
        stored as extra metadata.
        """
        if isinstance(self.network, VectorReluNetwork):
            raise ValueError(
                "saving vector-output networks is not supported by cvxcnn.network_io yet; "
                "keep result.network (U, W) or np.savez its arrays"
            )
        s = self.settings
        loss = dict(s["loss"])
        fixed = None
        if self.network.activation == "soft_threshold" and not s.get("learn_threshold"):
            fixed = s["threshold"]
        spec = ProblemSpec.from_problem(
            self.problem,
            activation=self.network.activation,
            beta=s["beta"],
            loss=loss.pop("name"),
            loss_params=loss,
            threshold=fixed,
        )
        save_network(path, self.network, spec, final_objective=self.final_objective)


def _padding_setting(padding: str | int | tuple[int, ...]) -> str | int | list[int]:
    if isinstance(padding, str):
        return padding
    if isinstance(padding, (int, np.integer)):
        return int(padding)
    return [int(p) for p in padding]


def _check_batch_size(batch_size: int | None, n_images: int) -> int | None:
    if batch_size is None or (not isinstance(batch_size, bool) and batch_size == 0):
        return None
    b = check_positive_int(batch_size, "batch_size")
    return None if b >= n_images else b


def train_primal(
    noisy: np.ndarray,
    clean: np.ndarray,
    *,
    activation: str = "relu",
    threshold: float = 0.1,
    learn_threshold: bool = False,
    neurons: int | None = None,
    out_channels: int = 1,
    beta: float = 1e-3,
    loss: str | Loss | ChromaLoss = "squared",
    gamma: float | None = None,
    optimizer: str = "adam",
    lr: float = 1e-3,
    epochs: int = 200,
    batch_size: int | None = None,
    init: str | ReluNetwork | STNetwork = "kaiming_uniform",
    init_std: float = 1e-3,
    optimizer_options: dict | None = None,
    dtype: str = "float64",
    device: str = "auto",
    seed: int = 0,
    target: float | None = None,
    rtol: float = 1e-3,
    stop_at_target: bool = True,
    threads: int | None = None,
    verbose: bool = True,
    **geometry: object,
) -> TrainResult:
    """Train the two-layer CNN on ``P(U, v)`` by gradient descent.

    The primal baseline of DESIGN.md section 7: real ``torch`` convolutions
    minimizing ``P`` itself (a sum, not a mean; a mini-batch step uses an
    unbiased estimate of it). The final objective is re-evaluated in float64
    (:func:`cvxcnn.networks.primal_objective`, or the vector evaluator for
    ``out_channels > 1``) on ``make_problem(noisy, clean, **geometry)``, so it
    compares directly with the convex optimum. A trained network is an UPPER
    bound on the global optimum only; :func:`cvxcnn.certify` (or
    ``certify_vector``) at ``result.network`` gives a lower bound. Cost:
    ``epochs`` passes over the data; on CUDA when ``device="auto"`` finds one.
    Needs torch.

    Parameters
    ----------
    noisy : ndarray
        Inputs ``(N, L)``, ``(N, H, W)`` or ``(N, C, H, W)`` (``(N, C, L)`` with
        ``spatial_dims=1``).
    clean : ndarray
        Targets: images ``(N, *spatial)`` for the identity readout, one scalar
        per image ``(N,)`` for ``sum``/``mean``; with ``out_channels = c > 1``
        ``(N, c, *spatial)`` or ``(N, c)``.
    activation : {"relu", "st"}
    threshold : float
        Soft-threshold ``lambda >= 0``: fixed, or the initial value when
        ``learn_threshold``.
    learn_threshold : bool
        Learnable per-neuron thresholds (kept >= 0, not penalized).
    neurons : int, optional
        Hidden width ``m`` (default 512, or the width of ``init`` when it is a network).
    out_channels : int
        Output channels ``c`` (default 1). ``c > 1``: vector outputs (ReLU,
        no residual), objective ``L(R f, X) + beta/2 sum_j(||u_j||^2 + ||w_j||^2)``.
    beta : float
        Weight decay inside the objective, > 0.
    loss : str or Loss
        ``squared`` (default, ``1/2 ||.||^2``), ``absolute``, ``huber``, ``logistic``;
        with ``out_channels > 1``: ``squared`` or ``chroma`` (eq. 2 of the
        colorization paper, ``1/2 ||R f - X||_F^2 + gamma sum_i (||X_i|| -
        ||(R f)_i||)^2``; not convex, primal only).
    gamma : float, optional
        Chroma weight ``>= 0`` of ``loss="chroma"`` (default 0.5); refused otherwise.
    optimizer : {"adam", "sgd", "sgdm", "adagrad", "rmsprop", "asgd", "lbfgs"}
    lr : float
    epochs : int
        Passes over the data (>= 0); one step per epoch with full batches.
    batch_size : int or None
        Images per mini-batch; None or 0 (or >= N) for full batch.
    init : {"kaiming_uniform", "normal"} or network
        ``kaiming_uniform`` (torch's default), ``normal`` with ``init_std``, or
        starting weights (a ReluNetwork / STNetwork).
    init_std : float
    optimizer_options : dict, optional
        Extra keyword arguments of the torch optimizer.
    dtype : {"float32", "float64"}
    device : {"auto", "cpu", "cuda"}
        ``auto`` picks CUDA when available.
    seed : int
        Seeds the initialization and the mini-batch order (a CPU
        ``torch.Generator``; no global state): same seed, same curve (on the
        CPU; CUDA kernels may differ in the last bits).
    target : float, optional
        Objective to reach, e.g. the convex optimum.
    rtol : float
        Reached when the full-batch ``P <= target + rtol * |target|``.
    stop_at_target : bool
        Stop at the first epoch that reaches the target.
    threads : int, optional
        CPU threads for torch during this call (``torch.set_num_threads``,
        restored afterwards); None keeps torch's setting.
    verbose : bool
        Show a tqdm progress bar.
    **geometry
        ``kernel_size``, ``spatial_dims``, ``stride``, ``padding``, ``bias``,
        ``residual``, ``readout`` (:data:`cvxcnn.problem.PROBLEM_OPTIONS`):
        passed to :func:`cvxcnn.problem.make_problem`, with its defaults, which
        builds the problem the final objective is evaluated on.

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        Bad arguments.
    TrainingDivergedError
        The objective became NaN or infinite.
    """
    unknown = sorted(set(geometry) - set(PROBLEM_OPTIONS))
    if unknown:
        raise TypeError(
            f"train_primal got unexpected keyword arguments {unknown}: it takes its own "
            f"(see its signature) and the problem's, {', '.join(PROBLEM_OPTIONS)}"
        )
    defaults = inspect.signature(make_problem).parameters
    setup = _Setup(
        geometry={name: geometry.get(name, defaults[name].default) for name in PROBLEM_OPTIONS},
        objective=_Objective(beta=beta, loss=loss, gamma=gamma),
        model=_ModelSpec(
            out_channels=out_channels,
            activation=activation,
            threshold=threshold,
            learn_threshold=learn_threshold,
            neurons=neurons,
            init=init,
            init_std=init_std,
        ),
        optimizer=_OptimizerSpec(
            name=optimizer, lr=lr, epochs=epochs, batch_size=batch_size, options=optimizer_options
        ),
        stop=_StopRule(target=target, rtol=rtol, stop_at_target=stop_at_target),
        run=_RunSpec(dtype=dtype, device=device, seed=seed, threads=threads, verbose=verbose),
    )
    with torch_threads(threads):
        return _train(noisy, clean, setup)


# --------------------------------------------------------------------------- #
# The arguments of train_primal, grouped
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class _Objective:
    """What is minimized besides the data: the weight decay and the loss."""

    beta: float
    loss: str | Loss | ChromaLoss
    gamma: float | None = None

    def resolve(self, out_channels: int) -> Loss | ChromaLoss:
        """The loss object: a :class:`~cvxcnn.losses.Loss` for one output channel,
        a :class:`~cvxcnn.vector_output.ChromaLoss` (gamma 0: squared) for vector outputs."""
        if out_channels == 1:
            if self.loss == "chroma" or isinstance(self.loss, ChromaLoss):
                raise ValueError("loss='chroma' needs vector outputs: out_channels >= 2")
            if self.gamma is not None:
                raise ValueError("gamma applies to loss='chroma' (vector outputs); drop it")
            return get_loss(self.loss)
        loss = "squared" if isinstance(self.loss, SquaredLoss) else self.loss
        if not (isinstance(loss, ChromaLoss) or loss in ("squared", "chroma")):
            raise ValueError(
                f"vector outputs (out_channels={out_channels}) train the squared or the chroma "
                f"loss; got {self.loss!r}"
            )
        return get_vector_loss(loss, self.gamma)


@dataclass(frozen=True)
class _ModelSpec:
    """The network: output channels, activation, width and starting weights."""

    out_channels: int
    activation: str
    threshold: float
    learn_threshold: bool
    neurons: int | None
    init: str | ReluNetwork | STNetwork | VectorReluNetwork
    init_std: float


@dataclass(frozen=True)
class _OptimizerSpec:
    """The optimizer, its step size and options, epochs and mini-batch size."""

    name: str
    lr: float
    epochs: int
    batch_size: int | None
    options: dict | None


@dataclass(frozen=True)
class _StopRule:
    """Early stopping: the target, its relative tolerance, whether to stop there."""

    target: float | None
    rtol: float
    stop_at_target: bool

    def reached(self, value: float) -> bool:
        """Whether ``value <= target + rtol * |target|`` (False without a target)."""
        return self.target is not None and value <= self.target + self.rtol * abs(self.target)


@dataclass(frozen=True)
class _RunSpec:
    """Where and how the run happens: dtype, device, seed, threads, progress bar."""

    dtype: str
    device: str
    seed: int
    threads: int | None
    verbose: bool


@dataclass(frozen=True)
class _Setup:
    """Every argument of :func:`train_primal`; ``geometry`` holds the keyword
    arguments of :func:`cvxcnn.problem.make_problem` (:data:`PROBLEM_OPTIONS`)."""

    geometry: dict
    objective: _Objective
    model: _ModelSpec
    optimizer: _OptimizerSpec
    stop: _StopRule
    run: _RunSpec


def _checked_model(model: _ModelSpec) -> tuple[_ModelSpec, InitNetwork | None]:
    """The model settings checked (``neurons`` filled in), and the initial network if given."""
    init, neurons, init_std = model.init, model.neurons, model.init_std
    out_channels = check_positive_int(model.out_channels, "out_channels")
    init_network = None
    if isinstance(init, (ReluNetwork, STNetwork, VectorReluNetwork)):
        init_network = init
        if neurons is not None and neurons != init.n_neurons:
            raise ValueError(f"neurons={neurons} but the initial network has {init.n_neurons}")
        neurons = init.n_neurons
        if (model.activation == "st") != isinstance(init, STNetwork):
            raise ValueError(
                f"the initial network is {init.activation!r}, not {model.activation!r}"
            )
        if getattr(init, "channels", 1) != out_channels or (
            out_channels > 1 and not isinstance(init, VectorReluNetwork)
        ):
            raise ValueError(
                f"the initial network has {getattr(init, 'channels', 1)} output channel(s); "
                f"out_channels={out_channels}"
            )
    elif init not in INITS:
        raise ValueError(f"init must be one of {INITS} or a network; got {init!r}")
    elif init == "normal":
        init_std = check_positive(init_std, "init_std")
    neurons = check_positive_int(DEFAULT_NEURONS if neurons is None else neurons, "neurons")
    model = replace(model, neurons=neurons, init_std=init_std, out_channels=out_channels)
    return model, init_network


def _checked_target(target: float | None) -> float | None:
    if target is None:
        return None
    target = float(target)
    if not math.isfinite(target):
        raise ValueError(f"target must be finite; got {target!r}")
    return target


def _checked(setup: _Setup) -> tuple[_Setup, InitNetwork | None]:
    """The setup with every argument checked and normalized; ValueError on a bad one."""
    opt, stop, run = setup.optimizer, setup.stop, setup.run
    if opt.name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}; got {opt.name!r}")
    if run.dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {tuple(DTYPES)}; got {run.dtype!r}")
    beta = check_positive(setup.objective.beta, "beta")
    lr = check_positive(opt.lr, "lr")
    rtol = check_positive(stop.rtol, "rtol")
    epochs = check_positive_int(opt.epochs, "epochs", minimum=0)
    seed = check_positive_int(run.seed, "seed", minimum=0)
    model, init_network = _checked_model(setup.model)
    target = _checked_target(stop.target)
    checked = replace(
        setup,
        objective=replace(setup.objective, beta=beta),
        model=model,
        optimizer=replace(opt, lr=lr, epochs=epochs),
        stop=replace(stop, target=target, rtol=rtol),
        run=replace(run, seed=seed),
    )
    return checked, init_network


# --------------------------------------------------------------------------- #
# Training
# --------------------------------------------------------------------------- #


@dataclass
class _Fit:
    """What an epoch touches: the model, the data tensors, the objective, the optimizer."""

    model: TwoLayerCNN
    X: torch.Tensor
    T: torch.Tensor
    beta: float
    loss: Loss | ChromaLoss
    opt: torch.optim.Optimizer
    lbfgs: bool
    batch: int | None
    n_images: int
    generator: torch.Generator
    device: torch.device

    def objective(self) -> float:
        """The full-batch ``P`` in the training dtype."""
        with torch.no_grad():
            return float(primal_loss(self.model, self.X, self.T, self.beta, self.loss))

    def epoch(self) -> None:
        """One pass over the data: a full-batch step or a shuffled mini-batch sweep."""
        if self.batch is None:
            self._full_step()
        else:
            self._minibatch_epoch()

    def _full_step(self) -> None:
        if self.lbfgs:

            def closure() -> torch.Tensor:
                self.opt.zero_grad(set_to_none=True)
                value = primal_loss(self.model, self.X, self.T, self.beta, self.loss)
                value.backward()
                return value

            self.opt.step(closure)
        else:
            self.opt.zero_grad(set_to_none=True)
            primal_loss(self.model, self.X, self.T, self.beta, self.loss).backward()
            self.opt.step()
        self.model.project_()

    def _minibatch_epoch(self) -> None:
        order = torch.randperm(self.n_images, generator=self.generator).to(self.device)
        for idx in order.split(self.batch):
            self.opt.zero_grad(set_to_none=True)
            scale = self.n_images / idx.numel()
            X, T = self.X[idx], self.T[idx]
            primal_loss(self.model, X, T, self.beta, self.loss, scale=scale).backward()
            self.opt.step()
            self.model.project_()


def _make_model(
    problem: PatchProblem,
    spec: _ModelSpec,
    init_network: InitNetwork | None,
    generator: torch.Generator,
    dtype: torch.dtype,
    device: torch.device,
) -> TwoLayerCNN:
    """The module for ``problem``'s geometry, initialized (from ``init_network`` if given)."""
    model = TwoLayerCNN(
        problem.geometry,
        spec.neurons,
        activation=spec.activation,
        threshold=spec.threshold,
        learn_threshold=spec.learn_threshold,
        residual=problem.residual,
        readout=problem.readout.kind,
        out_channels=spec.out_channels,
        dtype=dtype,
        device=device,
    )
    if init_network is not None:
        if isinstance(init_network, VectorReluNetwork):  # filters as columns: U (d, m)
            model.set_weights_(init_network.U.T, init_network.W)
        else:
            model.set_weights_(init_network.U, init_network.v, getattr(init_network, "t", None))
    else:
        model.reset_parameters_(spec.init, spec.init_std, generator)
    return model


def _data_tensors(
    noisy: np.ndarray,
    problem: PatchProblem,
    targets: np.ndarray | None,
    dtype: torch.dtype,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``X`` (N, ...) and targets ``T`` (N, *output), or (N, c, *output) from
    the vector targets ``targets`` (n_out, c), as tensors."""
    geometry = problem.geometry
    X = torch.as_tensor(as_batch(noisy, geometry.spatial_dims, "noisy"), dtype=dtype, device=device)
    out_shape = geometry.output_shape if problem.readout.kind == "identity" else ()
    if targets is None:
        target = problem.target.reshape(problem.n_images, *out_shape)
    else:
        grouped = targets.reshape(problem.n_images, *out_shape, targets.shape[1])
        target = np.moveaxis(grouped, -1, 1)
    return X, torch.as_tensor(target, dtype=dtype, device=device)


def _make_fit(
    noisy: np.ndarray,
    problem: PatchProblem,
    setup: _Setup,
    init_network: InitNetwork | None,
    loss: Loss | ChromaLoss,
    batch: int | None,
    device: torch.device,
    targets: np.ndarray | None = None,
) -> _Fit:
    """The model, tensors and optimizer of a run, ready for its first epoch."""
    dtype = DTYPES[setup.run.dtype]
    generator = torch.Generator(device="cpu").manual_seed(setup.run.seed)
    model = _make_model(problem, setup.model, init_network, generator, dtype, device)
    X, T = _data_tensors(noisy, problem, targets, dtype, device)
    opt = setup.optimizer
    return _Fit(
        model=model,
        X=X,
        T=T,
        beta=setup.objective.beta,
        loss=loss,
        opt=make_optimizer(opt.name, list(model.parameters()), opt.lr, opt.options),
        lbfgs=opt.name == "lbfgs",
        batch=batch,
        n_images=problem.n_images,
        generator=generator,
        device=device,
    )


@dataclass
class _Curve:
    """The full-batch objective and wall-clock time after each epoch, and the target hit."""

    objectives: list[float]
    seconds: list[float]
    step_seconds: float = 0.0
    epochs_to_target: int | None = None
    seconds_to_target: float | None = None

    def record(self, epoch: int, value: float, seconds: float, stop: _StopRule) -> bool:
        """Append one epoch; True when the run should stop at the target now."""
        self.objectives.append(value)
        self.seconds.append(seconds)
        if self.epochs_to_target is None and stop.reached(value):
            self.epochs_to_target, self.seconds_to_target = epoch, seconds
            return stop.stop_at_target
        return False


def _check_finite(value: float, epoch: int, opt: _OptimizerSpec) -> None:
    if not math.isfinite(value):
        raise TrainingDivergedError(
            f"the objective became {value} at epoch {epoch} ({opt.name}, lr={opt.lr:g}); "
            "lower the learning rate or use float64"
        )


def _timed_epoch(fit: _Fit) -> float:
    """Run one epoch; its seconds (device synchronized)."""
    _sync(fit.device)
    tic = time.perf_counter()
    fit.epoch()
    _sync(fit.device)
    return time.perf_counter() - tic


def _run_epochs(fit: _Fit, setup: _Setup, start: float) -> _Curve:
    """Train for ``epochs`` (or up to the target), evaluating ``P`` after each epoch."""
    curve = _Curve(objectives=[], seconds=[])
    stop = curve.record(0, fit.objective(), time.perf_counter() - start, setup.stop)
    opt = setup.optimizer
    bar = tqdm(
        total=opt.epochs,
        disable=not setup.run.verbose or stop,
        unit="epoch",
        desc=f"train {opt.name} ({fit.device.type})",
        leave=False,
    )
    try:
        for epoch in range(1, opt.epochs + 1):
            if stop:
                break
            curve.step_seconds += _timed_epoch(fit)
            value = fit.objective()
            seconds = time.perf_counter() - start
            _check_finite(value, epoch, opt)
            bar.update(1)
            bar.set_postfix(objective=f"{value:.6g}", refresh=False)
            stop = curve.record(epoch, value, seconds, setup.stop)
    finally:
        bar.close()
    return curve


def _train(noisy: np.ndarray, clean: np.ndarray, setup: _Setup) -> TrainResult:
    """The body of :func:`train_primal`, its arguments grouped in ``setup``."""
    start = time.perf_counter()
    setup, init_network = _checked(setup)
    loss = setup.objective.resolve(setup.model.out_channels)
    device = resolve_device(setup.run.device)
    problem, targets = _problem(noisy, clean, setup)
    loss.validate_target(problem.target)
    batch = _check_batch_size(setup.optimizer.batch_size, problem.n_images)
    if setup.optimizer.name == "lbfgs" and batch is not None:
        raise ValueError("optimizer='lbfgs' needs full batches: pass batch_size=None (or 0)")
    fit = _make_fit(noisy, problem, setup, init_network, loss, batch, device, targets)
    curve = _run_epochs(fit, setup, start)
    network = fit.model.to_network()
    beta = setup.objective.beta
    if targets is None:
        final = primal_objective(network, problem, beta, loss)
    else:
        final = vector_objective(network, problem, targets, beta, loss)
    stop = setup.stop
    return TrainResult(
        network=network,
        final_objective=final,
        epochs=np.arange(len(curve.objectives)),
        objectives=np.asarray(curve.objectives, dtype=np.float64),
        seconds=np.asarray(curve.seconds, dtype=np.float64),
        step_seconds=curve.step_seconds,
        total_seconds=time.perf_counter() - start,
        device=str(device),
        dtype=setup.run.dtype,
        target=stop.target,
        rtol=stop.rtol,
        reached_target=None if stop.target is None else curve.epochs_to_target is not None,
        epochs_to_target=curve.epochs_to_target,
        seconds_to_target=curve.seconds_to_target,
        settings=_settings(setup, problem, loss, batch),
        problem=problem,
        model=fit.model,
        targets=targets,
    )


def _problem(
    noisy: np.ndarray, clean: np.ndarray, setup: _Setup
) -> tuple[PatchProblem, np.ndarray | None]:
    """The patch problem, and the (n_out, c) targets of a vector-output run (else None)."""
    c = setup.model.out_channels
    if c == 1:
        return make_problem(noisy, clean, **setup.geometry), None
    problem, targets = make_vector_problem(noisy, clean, **setup.geometry)
    if targets.shape[1] != c:
        raise ValueError(
            f"out_channels={c} but clean has {targets.shape[1]} channels (axis 1); "
            "pass targets (N, c, *spatial) or (N, c)"
        )
    return problem, targets


def _settings(
    setup: _Setup, problem: PatchProblem, loss: Loss | ChromaLoss, batch: int | None
) -> dict:
    """Every (checked) argument of the run, JSON-ready, for :attr:`TrainResult.settings`."""
    geometry = problem.geometry
    model, opt, stop, run = setup.model, setup.optimizer, setup.stop, setup.run
    return {
        "kernel_size": list(geometry.kernel_size),
        "spatial_dims": geometry.spatial_dims,
        "stride": list(geometry.stride),
        "padding": _padding_setting(setup.geometry["padding"]),
        "bias": geometry.bias,
        "residual": problem.residual,
        "readout": problem.readout.kind,
        "activation": model.activation,
        "threshold": float(model.threshold),
        "learn_threshold": bool(model.learn_threshold),
        "neurons": model.neurons,
        "out_channels": model.out_channels,
        "beta": setup.objective.beta,
        "loss": loss.to_dict(),
        "optimizer": opt.name,
        "optimizer_options": dict(opt.options or {}),
        "lr": opt.lr,
        "epochs": opt.epochs,
        "batch_size": batch,
        "init": model.init if isinstance(model.init, str) else "network",
        "init_std": float(model.init_std),
        "dtype": run.dtype,
        "device": str(run.device),
        "seed": run.seed,
        "target": stop.target,
        "rtol": stop.rtol,
        "stop_at_target": bool(stop.stop_at_target),
        "threads": run.threads,
        "n_images": problem.n_images,
        "input_shape": list(geometry.input_shape),
        "in_channels": geometry.in_channels,
    }
