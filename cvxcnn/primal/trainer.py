"""Train the two-layer CNN on ``P(U, v)`` with torch optimizers; record the curve.

The loss is exactly the objective of :func:`cvxcnn.networks.primal_objective`,

    P(U, v) = L(R f(Y), x) + beta/2 * sum_j (||u_j||^2 + v_j^2)

(squared loss ``1/2 ||.||^2``, sums not means), the weight decay inside the
objective, never the optimizer's own. A mini-batch of ``B`` of the ``N``
images minimizes ``N/B * L(batch) + beta/2 * sum_j(...)``, whose expectation
is ``P``. After every epoch the FULL-batch ``P`` is evaluated (in the
training dtype) and recorded; the final objective reported is the float64
evaluator's value on the exported weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from cvxcnn.losses import Loss, get_loss
from cvxcnn.network_io import save_network
from cvxcnn.networks import ReluNetwork, primal_objective
from cvxcnn.patches import as_batch
from cvxcnn.primal.models import INITS, TwoLayerCNN, primal_loss
from cvxcnn.problem import PROBLEM_OPTIONS, PatchProblem, ProblemSpec, make_problem
from cvxcnn.soft_threshold.network import STNetwork
from cvxcnn.validation import check_positive, check_positive_int

OPTIMIZERS = ("adam", "sgd", "sgdm", "adagrad", "rmsprop", "asgd", "lbfgs")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
DEFAULT_NEURONS = 512


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
    network : ReluNetwork or STNetwork
        The trained weights in float64 (``U`` (m, d) rows ordered like patch rows).
    final_objective : float
        ``P(U, v)`` of ``network`` by the float64 evaluator
        :func:`cvxcnn.networks.primal_objective` on ``problem``.
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
    """

    network: ReluNetwork | STNetwork = field(repr=False)
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
    kernel_size: int | tuple[int, ...] = 3,
    spatial_dims: int | None = None,
    stride: int | tuple[int, ...] = 1,
    padding: str | int | tuple[int, ...] = "same",
    bias: bool = False,
    residual: bool = False,
    readout: str = "identity",
    activation: str = "relu",
    threshold: float = 0.1,
    learn_threshold: bool = False,
    neurons: int | None = None,
    beta: float = 1e-3,
    loss: str | Loss = "squared",
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
) -> TrainResult:
    """Train the two-layer CNN on ``P(U, v)`` by gradient descent.

    Parameters
    ----------
    noisy : ndarray
        Inputs ``(N, L)``, ``(N, H, W)`` or ``(N, C, H, W)`` (``(N, C, L)`` with
        ``spatial_dims=1``).
    clean : ndarray
        Targets: images ``(N, *spatial)`` for the identity readout, one scalar
        per image ``(N,)`` for ``sum``/``mean``.
    kernel_size, spatial_dims, stride, padding, bias, residual, readout
        The geometry, exactly as for :func:`cvxcnn.problem.make_problem` (which
        builds the problem the final objective is evaluated on).
    activation : {"relu", "st"}
    threshold : float
        Soft-threshold ``lambda >= 0``: fixed, or the initial value when
        ``learn_threshold``.
    learn_threshold : bool
        Learnable per-neuron thresholds (kept >= 0, not penalized).
    neurons : int, optional
        Hidden width ``m`` (default 512, or the width of ``init`` when it is a network).
    beta : float
        Weight decay inside the objective, > 0.
    loss : str or Loss
        ``squared`` (default, ``1/2 ||.||^2``), ``absolute``, ``huber``, ``logistic``.
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
    arguments = dict(locals())  # every parameter, nothing else yet
    problem_options = {name: arguments.pop(name) for name in PROBLEM_OPTIONS}
    with torch_threads(threads):
        return _train(problem_options=problem_options, **arguments)


def _train(
    noisy: np.ndarray,
    clean: np.ndarray,
    *,
    problem_options: dict,
    activation: str,
    threshold: float,
    learn_threshold: bool,
    neurons: int | None,
    beta: float,
    loss: str | Loss,
    optimizer: str,
    lr: float,
    epochs: int,
    batch_size: int | None,
    init: str | ReluNetwork | STNetwork,
    init_std: float,
    optimizer_options: dict | None,
    dtype: str,
    device: str,
    seed: int,
    target: float | None,
    rtol: float,
    stop_at_target: bool,
    threads: int | None,
    verbose: bool,
) -> TrainResult:
    """The body of :func:`train_primal`.

    Takes the same arguments, except that the geometry ones
    (:data:`cvxcnn.problem.PROBLEM_OPTIONS`) come gathered in ``problem_options``,
    the keyword arguments of :func:`cvxcnn.problem.make_problem`.
    """
    start = time.perf_counter()
    # ---------------------------------------------------------------- checks
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}; got {optimizer!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {tuple(DTYPES)}; got {dtype!r}")
    beta = check_positive(beta, "beta")
    lr = check_positive(lr, "lr")
    rtol = check_positive(rtol, "rtol")
    epochs = check_positive_int(epochs, "epochs", minimum=0)
    seed = check_positive_int(seed, "seed", minimum=0)
    init_network = None
    if isinstance(init, (ReluNetwork, STNetwork)):
        init_network = init
        if neurons is not None and neurons != init.n_neurons:
            raise ValueError(f"neurons={neurons} but the initial network has {init.n_neurons}")
        neurons = init.n_neurons
        if (activation == "st") != isinstance(init, STNetwork):
            raise ValueError(f"the initial network is {init.activation!r}, not {activation!r}")
    elif init not in INITS:
        raise ValueError(f"init must be one of {INITS} or a network; got {init!r}")
    elif init == "normal":
        init_std = check_positive(init_std, "init_std")
    neurons = check_positive_int(DEFAULT_NEURONS if neurons is None else neurons, "neurons")
    if target is not None:
        target = float(target)
        if not math.isfinite(target):
            raise ValueError(f"target must be finite; got {target!r}")
    loss_obj = get_loss(loss)
    torch_dtype = DTYPES[dtype]
    dev = resolve_device(device)

    # --------------------------------------------------------------- problem
    problem = make_problem(noisy, clean, **problem_options)
    loss_obj.validate_target(problem.target)
    geometry, readout = problem.geometry, problem.readout.kind
    n_images = problem.n_images
    batch = _check_batch_size(batch_size, n_images)
    if optimizer == "lbfgs" and batch is not None:
        raise ValueError("optimizer='lbfgs' needs full batches: pass batch_size=None (or 0)")

    model = TwoLayerCNN(
        geometry,
        neurons,
        activation=activation,
        threshold=threshold,
        learn_threshold=learn_threshold,
        residual=problem.residual,
        readout=readout,
        dtype=torch_dtype,
        device=dev,
    )
    generator = torch.Generator(device="cpu").manual_seed(seed)
    if init_network is not None:
        model.set_weights_(init_network.U, init_network.v, getattr(init_network, "t", None))
    else:
        model.reset_parameters_(init, init_std, generator)

    X = torch.as_tensor(
        as_batch(noisy, geometry.spatial_dims, "noisy"), dtype=torch_dtype, device=dev
    )
    out_shape = geometry.output_shape if readout == "identity" else ()
    T = torch.as_tensor(problem.target.reshape(n_images, *out_shape), dtype=torch_dtype, device=dev)
    opt = make_optimizer(optimizer, list(model.parameters()), lr, optimizer_options)

    def full_objective() -> float:
        with torch.no_grad():
            return float(primal_loss(model, X, T, beta, loss_obj))

    def full_step() -> None:
        if optimizer == "lbfgs":

            def closure() -> torch.Tensor:
                opt.zero_grad(set_to_none=True)
                value = primal_loss(model, X, T, beta, loss_obj)
                value.backward()
                return value

            opt.step(closure)
        else:
            opt.zero_grad(set_to_none=True)
            primal_loss(model, X, T, beta, loss_obj).backward()
            opt.step()
        model.project_()

    def minibatch_epoch() -> None:
        order = torch.randperm(n_images, generator=generator).to(dev)
        for idx in order.split(batch):
            opt.zero_grad(set_to_none=True)
            scale = n_images / idx.numel()
            primal_loss(model, X[idx], T[idx], beta, loss_obj, scale=scale).backward()
            opt.step()
            model.project_()

    def reached(value: float) -> bool:
        return target is not None and value <= target + rtol * abs(target)

    # ------------------------------------------------------------------ loop
    objectives = [full_objective()]
    seconds = [time.perf_counter() - start]
    train_seconds = 0.0
    epochs_to_target: int | None = 0 if reached(objectives[0]) else None
    seconds_to_target = seconds[0] if epochs_to_target is not None else None
    stop = stop_at_target and epochs_to_target is not None
    bar = tqdm(
        total=epochs,
        disable=not verbose or stop,
        unit="epoch",
        desc=f"train {optimizer} ({dev.type})",
        leave=False,
    )
    try:
        for epoch in range(1, epochs + 1):
            if stop:
                break
            _sync(dev)
            tic = time.perf_counter()
            if batch is None:
                full_step()
            else:
                minibatch_epoch()
            _sync(dev)
            train_seconds += time.perf_counter() - tic
            value = full_objective()
            objectives.append(value)
            seconds.append(time.perf_counter() - start)
            if not math.isfinite(value):
                raise TrainingDivergedError(
                    f"the objective became {value} at epoch {epoch} ({optimizer}, lr={lr:g}); "
                    "lower the learning rate or use float64"
                )
            bar.update(1)
            bar.set_postfix(objective=f"{value:.6g}", refresh=False)
            if epochs_to_target is None and reached(value):
                epochs_to_target, seconds_to_target = epoch, seconds[-1]
                stop = stop_at_target
    finally:
        bar.close()

    network = model.to_network()
    final = primal_objective(network, problem, beta, loss_obj)
    settings = {
        "kernel_size": list(geometry.kernel_size),
        "spatial_dims": geometry.spatial_dims,
        "stride": list(geometry.stride),
        "padding": _padding_setting(problem_options["padding"]),
        "bias": geometry.bias,
        "residual": problem.residual,
        "readout": readout,
        "activation": activation,
        "threshold": float(threshold),
        "learn_threshold": bool(learn_threshold),
        "neurons": neurons,
        "beta": beta,
        "loss": loss_obj.to_dict(),
        "optimizer": optimizer,
        "optimizer_options": dict(optimizer_options or {}),
        "lr": lr,
        "epochs": epochs,
        "batch_size": batch,
        "init": init if isinstance(init, str) else "network",
        "init_std": float(init_std),
        "dtype": dtype,
        "device": str(device),
        "seed": seed,
        "target": target,
        "rtol": rtol,
        "stop_at_target": bool(stop_at_target),
        "threads": threads,
        "n_images": n_images,
        "input_shape": list(geometry.input_shape),
        "in_channels": geometry.in_channels,
    }
    return TrainResult(
        network=network,
        final_objective=final,
        epochs=np.arange(len(objectives)),
        objectives=np.asarray(objectives, dtype=np.float64),
        seconds=np.asarray(seconds, dtype=np.float64),
        step_seconds=train_seconds,
        total_seconds=time.perf_counter() - start,
        device=str(dev),
        dtype=dtype,
        target=target,
        rtol=rtol,
        reached_target=None if target is None else epochs_to_target is not None,
        epochs_to_target=epochs_to_target,
        seconds_to_target=seconds_to_target,
        settings=settings,
        problem=problem,
        model=model,
    )
