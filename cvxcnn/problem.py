"""The data of one training problem: patches, readout and targets.

``PatchProblem`` is what every program builder, certificate and evaluator
consumes: the patch matrix ``Y`` (n, d), the readout ``R`` and the target
``x`` (n_out,) that ``R f(Y)`` must fit. For a residual network the target is
``clean - noisy centre pixel`` and predictions add the centre pixel back
(Sahiner et al. Cor. 1.1).
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from cvxcnn.patches import (
    READOUTS,
    PatchGeometry,
    Readout,
    centre_values,
    extract_patches,
    padding_pairs,
)
from cvxcnn.validation import axis_length, check_choice, check_finite_array


@dataclass(frozen=True)
class PatchProblem:
    """Patch matrix, readout and target of a two-layer CNN training problem.

    Built by :func:`make_problem` from images (with a geometry) or by
    :func:`problem_from_matrix` from a raw ``Y`` (no geometry: no frequency
    responses, no :class:`ProblemSpec`). Every program builder, certificate
    and :func:`cvxcnn.networks.primal_objective` reads it, so one object
    fixes the objective ``L(R f(Y), x)`` of DESIGN.md section 1. For
    ``c`` output channels see :class:`cvxcnn.vector.problem.VectorProblem`.

    Attributes
    ----------
    Y : ndarray of shape (n, d)
        Patch matrix.
    target : ndarray of shape (n_out,)
        What ``R f(Y)`` is fitted to (the residual already subtracted).
    readout : Readout
        The linear map ``R`` (n_out, n).
    geometry : PatchGeometry or None
        Convolution shapes (None for a problem built from a raw ``Y``).
    offset : ndarray of shape (n_out,) or None
        Added to network outputs to form predictions (residual networks).
    """

    Y: np.ndarray
    target: np.ndarray
    readout: Readout
    geometry: PatchGeometry | None = None
    offset: np.ndarray | None = None

    n = axis_length("Y", 0, "Number of rows (patches) of ``Y``.")
    d = axis_length("Y", 1, "Number of columns of ``Y``.")

    @property
    def residual(self) -> bool:
        return self.offset is not None

    @property
    def n_images(self) -> int:
        return self.readout.n_images

    def scaled(self, factor: float) -> PatchProblem:
        """The same problem with targets (and offsets) multiplied by ``factor``."""
        offset = None if self.offset is None else self.offset * factor
        return PatchProblem(self.Y, self.target * factor, self.readout, self.geometry, offset)


def problem_from_matrix(
    Y: np.ndarray, target: np.ndarray, *, readout: str = "identity", n_images: int = 1
) -> PatchProblem:
    """A problem from an explicit patch matrix (no image geometry).

    Parameters
    ----------
    Y : ndarray of shape (n, d)
    target : ndarray of shape (n,) for ``identity``, (n_images,) otherwise
    readout : {"identity", "sum", "mean"}
    n_images : int
        For ``sum``/``mean``: rows are split into ``n_images`` equal groups.
    """
    Y = check_finite_array(Y, "Y", ndim=2)
    target = check_finite_array(target, "target", ndim=1)
    if Y.shape[0] % n_images:
        raise ValueError(f"Y has {Y.shape[0]} rows, not divisible by n_images={n_images}")
    ro = Readout(readout, n_images, Y.shape[0] // n_images)
    if target.shape[0] != ro.n_out:
        raise ValueError(
            f"target has length {target.shape[0]}, but readout {readout!r} with n={Y.shape[0]} "
            f"rows and n_images={n_images} produces {ro.n_out} outputs"
        )
    return PatchProblem(Y=Y, target=target, readout=ro)


#: The keyword arguments of :func:`make_problem` that fix the problem's geometry
#: (what :meth:`ProblemSpec.build_problem` and the primal trainer pass on).
PROBLEM_OPTIONS: tuple[str, ...] = (
    "kernel_size",
    "spatial_dims",
    "stride",
    "padding",
    "bias",
    "residual",
    "readout",
)


def make_problem(
    inputs: np.ndarray,
    targets: np.ndarray,
    *,
    kernel_size: int | tuple[int, ...] = 3,
    spatial_dims: int | None = None,
    stride: int | tuple[int, ...] = 1,
    padding: str | int | tuple[int, ...] = "same",
    bias: bool = False,
    residual: bool = False,
    readout: str = "identity",
) -> PatchProblem:
    """Build the training problem of a two-layer CNN from images.

    The patches are :func:`cvxcnn.patches.extract_patches` (im2col, DESIGN.md
    section 2), checked against a real convolution by the tests; the readout
    ``R`` is the identity (one output per position: the denoiser) or a
    per-image sum or mean (the pooling CNN, section 1). Nothing is estimated:
    the result is the exact data of the objective. Cost: one float64 copy of
    ``Y``, ``N * positions`` rows by ``C * prod(kernel_size) + bias`` columns.
    Bad shapes, NaN or inf raise ``ValueError``;
    :meth:`ProblemSpec.build_problem` rebuilds the same problem from a spec.

    Parameters
    ----------
    inputs : ndarray
        Network inputs, ``(N, L)``, ``(N, H, W)`` or ``(N, C, H, W)``
        (``(N, C, L)`` with ``spatial_dims=1``).
    targets : ndarray
        For ``readout="identity"``: single-channel images of the input's
        spatial shape, ``(N, *spatial)`` or ``(N, 1, *spatial)``; the target of
        each patch is the value at its centre. For ``"sum"``/``"mean"``: one
        scalar per image, shape ``(N,)``.
    kernel_size, spatial_dims, stride, padding, bias
        See :func:`cvxcnn.patches.extract_patches`.
    residual : bool
        Fit ``targets - centre pixel of the input`` (identity readout and
        single-channel input only).
    readout : {"identity", "sum", "mean"}

    Returns
    -------
    PatchProblem
    """
    check_choice(readout, "readout", READOUTS)
    patches = extract_patches(
        inputs, kernel_size, spatial_dims=spatial_dims, stride=stride, padding=padding, bias=bias
    )
    geometry = patches.geometry
    ro = Readout(readout, patches.n_images, geometry.positions)
    if residual and readout != "identity":
        raise ValueError("residual=True needs readout='identity' (one output per position)")
    targets_arr = check_finite_array(targets, "targets")
    if readout == "identity":
        if targets_arr.shape[0] != patches.n_images:
            raise ValueError(
                f"targets has {targets_arr.shape[0]} images but inputs has {patches.n_images}"
            )
        target = centre_values(targets_arr, geometry, "targets")
    else:
        if targets_arr.shape != (patches.n_images,):
            raise ValueError(
                f"targets must hold one value per image for readout={readout!r}: "
                f"expected shape ({patches.n_images},), got {targets_arr.shape}"
            )
        target = targets_arr
    offset = None
    if residual:
        if geometry.in_channels != 1:
            raise ValueError(
                f"residual=True needs single-channel inputs; got {geometry.in_channels} channels"
            )
        offset = centre_values(inputs, geometry, "inputs")
        target = target - offset
    return PatchProblem(Y=patches.Y, target=target, readout=ro, geometry=geometry, offset=offset)


def predictions_to_images(values: np.ndarray, problem: PatchProblem) -> np.ndarray:
    """Reshape identity-readout predictions ``(n,)`` to ``(N, *output_shape)``."""
    if problem.geometry is None or problem.readout.kind != "identity":
        return values
    return values.reshape(problem.n_images, *problem.geometry.output_shape)


#: Activations a :class:`ProblemSpec` names (``"st"`` is read as ``"soft_threshold"``).
SPEC_ACTIVATIONS = ("relu", "soft_threshold")


def _spec_error(key: str, expected: str, value: object) -> ValueError:
    return ValueError(f"ProblemSpec.{key} must be {expected}; got {value!r}")


def _spec_int(key: str, value: object, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise _spec_error(key, f"an int >= {minimum}", value)
    if int(value) < minimum:
        raise _spec_error(key, f"an int >= {minimum}", value)
    return int(value)


def _spec_ints(key: str, value: object, ndim: int | None, minimum: int) -> tuple[int, ...]:
    """An int (broadcast to ``ndim`` axes) or a sequence of ``ndim`` ints, as a tuple."""
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    ):
        return (_spec_int(key, value, minimum),) * (ndim or 1)
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise _spec_error(key, f"an int or a list of ints (>= {minimum})", value)
    items = tuple(_spec_int(key, v, minimum) for v in value)
    if not items or (ndim is not None and len(items) != ndim):
        raise _spec_error(key, f"an int or a list of {ndim or 'one or more'} ints", value)
    return items


def _spec_bool(key: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise _spec_error(key, "true or false", value)
    return bool(value)


def _spec_float(key: str, value: object, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise _spec_error(key, "a finite number > 0" + (" or null" if optional else ""), value)
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise _spec_error(key, "a finite number > 0" + (" or null" if optional else ""), value)
    return v


def _spec_activation(value: object) -> str:
    if value == "st":
        return "soft_threshold"
    if not isinstance(value, str) or value not in SPEC_ACTIVATIONS:
        raise _spec_error("activation", f"one of {SPEC_ACTIVATIONS}", value)
    return value


def _spec_padding(value: object, ndim: int | None) -> str | tuple[int, ...]:
    if isinstance(value, str):
        if value not in ("same", "valid"):
            raise _spec_error("padding", "'same', 'valid', an int >= 0 or a list of them", value)
        return value
    return _spec_ints("padding", value, ndim, 0)


def _pad_pairs(padding: str | tuple[int, ...], kernel: tuple[int, ...]) -> tuple:
    """(before, after) per axis of a normalized padding (what make_problem pads)."""
    if isinstance(padding, str):
        return padding_pairs(padding, kernel)
    return tuple((p, p) for p in padding)


def _spec_loss(loss: object, params: object) -> tuple[str, dict[str, float]]:
    """``(name, params)`` with the loss's own defaults filled in (so equal losses compare equal)."""
    from cvxcnn.losses import LOSSES, Loss

    if isinstance(loss, Loss):
        settings = loss.to_dict()
        return str(settings.pop("name")), settings
    if not isinstance(loss, str) or loss not in LOSSES:
        raise _spec_error("loss", f"one of {sorted(LOSSES)}", loss)
    if params is None:
        params = {}
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise _spec_error("loss_params", "a mapping of parameter names to numbers", params)
    for key, value in params.items():
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise _spec_error(f"loss_params[{key!r}]", "a number", value)
    try:
        settings = LOSSES[loss](**{k: float(v) for k, v in params.items()}).to_dict()
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"ProblemSpec.loss_params {dict(params)!r} for loss {loss!r}: {exc}"
        ) from exc
    settings.pop("name")
    return loss, settings


def _spec_data(value: object) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _spec_error("data", "null or a mapping with string keys", value)
    try:
        # plain JSON values only (provenance), copied so the spec stays immutable
        return json.loads(json.dumps(dict(value), allow_nan=False, default=_no_json))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"ProblemSpec.data must hold plain JSON values: {exc}") from exc


def _no_json(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{value!r} ({type(value).__name__}) is not a JSON value")


@dataclass(frozen=True)
class ProblemSpec:
    """Everything that defines a training problem except the data arrays.

    A network, a ``ProblemSpec`` and the images rebuild the exact problem the
    network was trained or certified on (:meth:`build_problem`): a weights file
    stores one (see :mod:`cvxcnn.network_io`), so ``certify --weights`` never
    falls back on default geometry. Values are validated and normalized on
    construction (``kernel_size``/``stride`` become one int per spatial axis,
    ``"st"`` becomes ``"soft_threshold"``, the loss's default parameters are
    filled in); a bad value raises ``ValueError`` naming the field.

    Attributes
    ----------
    activation : {"relu", "soft_threshold"}
    kernel_size : tuple of int
        Per spatial axis (an int is broadcast).
    spatial_dims : {1, 2}
    channels : int
        Input channels ``C``.
    beta : float
        Weight decay, > 0 (objective convention of DESIGN section 1).
    stride : tuple of int
    padding : "same", "valid" or tuple of int
        As accepted by :func:`make_problem` (an int is broadcast).
    bias, residual : bool
    readout : {"identity", "sum", "mean"}
    loss : str
        A name of :data:`cvxcnn.losses.LOSSES` (a ``Loss`` instance is accepted
        and split into ``loss`` and ``loss_params``).
    loss_params : dict
        The loss's parameters (``{"delta": 1.0}`` for Huber; ``{}`` otherwise).
    threshold : float or None
        Soft thresholds only: the fixed ``lambda`` of every neuron (Xiong et
        al.); None for learnable thresholds. The thresholds themselves are
        part of the network, not of the spec.
    data : dict or None
        Provenance only (plain JSON: data set name or path, images, size,
        noise, seed...); not used by :meth:`build_problem` and ignored by
        :meth:`contradictions` unless asked.
    """

    activation: str
    kernel_size: tuple[int, ...]
    spatial_dims: int
    channels: int
    beta: float
    stride: tuple[int, ...] | int = 1
    padding: str | tuple[int, ...] | int = "same"
    bias: bool = False
    residual: bool = False
    readout: str = "identity"
    loss: str = "squared"
    loss_params: dict = field(default_factory=dict)
    threshold: float | None = None
    data: dict | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "activation", _spec_activation(self.activation))
        dims = self.spatial_dims
        if isinstance(dims, (bool, np.bool_)) or dims not in (1, 2):
            raise _spec_error("spatial_dims", "1 (signals) or 2 (images)", dims)
        set_(self, "spatial_dims", int(dims))
        set_(self, "kernel_size", _spec_ints("kernel_size", self.kernel_size, dims, 1))
        set_(self, "stride", _spec_ints("stride", self.stride, dims, 1))
        set_(self, "padding", _spec_padding(self.padding, dims))
        set_(self, "channels", _spec_int("channels", self.channels, 1))
        set_(self, "beta", _spec_float("beta", self.beta))
        set_(self, "bias", _spec_bool("bias", self.bias))
        set_(self, "residual", _spec_bool("residual", self.residual))
        if not isinstance(self.readout, str) or self.readout not in READOUTS:
            raise _spec_error("readout", f"one of {READOUTS}", self.readout)
        if self.residual and (self.readout != "identity" or self.channels != 1):
            raise ValueError(
                "ProblemSpec.residual=True needs readout='identity' and channels=1; got "
                f"readout={self.readout!r}, channels={self.channels}"
            )
        loss, params = _spec_loss(self.loss, self.loss_params)
        set_(self, "loss", loss)
        set_(self, "loss_params", params)
        set_(self, "threshold", _spec_float("threshold", self.threshold, optional=True))
        if self.threshold is not None and self.activation != "soft_threshold":
            raise ValueError(
                f"ProblemSpec.threshold is for soft thresholds only; activation is "
                f"{self.activation!r} (set threshold=None)"
            )
        set_(self, "data", _spec_data(self.data))

    @classmethod
    def from_problem(
        cls,
        problem: PatchProblem,
        *,
        activation: str,
        beta: float,
        loss: object = "squared",
        loss_params: Mapping[str, float] | None = None,
        threshold: float | None = None,
        data: Mapping[str, object] | None = None,
    ) -> ProblemSpec:
        """The spec of a problem built by :func:`make_problem` (geometry read off it).

        The way to record what was actually solved: kernel, stride, padding,
        bias, channels, spatial dimensions, residual and readout come from
        ``problem`` itself, not from the flags that asked for them.
        """
        g = problem.geometry
        if g is None:
            raise ValueError(
                "a problem built from a raw patch matrix (problem_from_matrix) has no geometry "
                "to record; build it with make_problem"
            )
        padding: str | tuple[int, ...]
        if g.padding == padding_pairs("same", g.kernel_size):
            padding = "same"
        elif all(lo == hi for lo, hi in g.padding):
            padding = tuple(lo for lo, _ in g.padding)
        else:
            raise ValueError(f"padding pairs {g.padding} are not expressible as make_problem input")
        return cls(
            activation=activation,
            kernel_size=g.kernel_size,
            spatial_dims=g.spatial_dims,
            channels=g.in_channels,
            beta=beta,
            stride=g.stride,
            padding=padding,
            bias=g.bias,
            residual=problem.residual,
            readout=problem.readout.kind,
            loss=loss,
            loss_params=loss_params or {},
            threshold=threshold,
            data=data,
        )

    def __hash__(self) -> int:
        return hash(self.to_json())

    @property
    def d(self) -> int:
        """Columns of the patch matrix: ``channels * prod(kernel_size) + bias``."""
        return self.channels * math.prod(self.kernel_size) + int(self.bias)

    def to_dict(self) -> dict:
        """Plain JSON types (lists, not tuples); :meth:`from_dict` reads it back."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["kernel_size"] = list(self.kernel_size)
        out["stride"] = list(self.stride)
        if not isinstance(self.padding, str):
            out["padding"] = list(self.padding)
        out["loss_params"] = dict(self.loss_params)
        out["data"] = None if self.data is None else json.loads(json.dumps(self.data))
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> ProblemSpec:
        """Read :meth:`to_dict`'s output.

        Every field but ``data`` must be present (a file states the whole
        problem; nothing falls back on a default); unknown keys and values of
        the wrong type raise ``ValueError`` naming the key.
        """
        if not isinstance(values, Mapping):
            raise ValueError(f"a ProblemSpec is read from a mapping; got {type(values).__name__}")
        names = [f.name for f in fields(cls)]
        unknown = sorted(k for k in values if k not in names)
        if unknown:
            raise ValueError(f"unknown ProblemSpec key(s) {unknown}; known keys: {names}")
        missing = [k for k in names if k not in values and k != "data"]
        if missing:
            raise ValueError(f"ProblemSpec lacks key(s) {missing}")
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> ProblemSpec:
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"ProblemSpec JSON is malformed: {exc}") from exc
        return cls.from_dict(values)

    def make_loss(self):
        """The :class:`cvxcnn.losses.Loss` this spec names."""
        from cvxcnn.losses import get_loss

        return get_loss(self.loss, **self.loss_params)

    def build_problem(self, inputs: np.ndarray, targets: np.ndarray) -> PatchProblem:
        """The :class:`PatchProblem` of these settings on ``inputs``/``targets``.

        Exactly :func:`make_problem` with every geometry field of the spec;
        ``ValueError`` when the inputs' channels or spatial dimensions differ
        from the spec's.
        """
        options = {name: getattr(self, name) for name in PROBLEM_OPTIONS}
        padding = self.padding
        if not isinstance(padding, str) and len(set(padding)) == 1:
            options["padding"] = padding[0]  # make_problem takes a 0 only as an int
        problem = make_problem(inputs, targets, **options)
        if problem.geometry.in_channels != self.channels:
            raise ValueError(
                f"the inputs have {problem.geometry.in_channels} channel(s) but the spec says "
                f"channels={self.channels}"
            )
        return problem

    def check_network(self, network: object) -> None:
        """``ValueError`` unless ``network`` has this activation, ``d`` and threshold.

        A fixed ``threshold`` must equal every network threshold to 1e-6
        relative (float32 training rounds it).
        """
        activation = getattr(network, "activation", None)
        if activation != self.activation:
            raise ValueError(
                f"the network is a {activation!r} network but the spec says "
                f"activation={self.activation!r}"
            )
        U = network.U
        if U.shape[1] != self.d:
            raise ValueError(
                f"the network's filters have d={U.shape[1]} entries but the spec's geometry "
                f"gives d={self.d} (channels {self.channels} x kernel {self.kernel_size}"
                f"{' + bias' if self.bias else ''})"
            )
        if self.threshold is not None:
            t = np.asarray(network.thresholds)
            # 1e-6 relative: a network trained in float32 holds lambda rounded to float32
            if not np.allclose(t, self.threshold, rtol=1e-6, atol=0.0):
                raise ValueError(
                    f"the spec fixes every threshold at {self.threshold!r} but the network's "
                    f"thresholds range over [{t.min()!r}, {t.max()!r}]"
                )

    def contradictions(
        self, other: ProblemSpec | Mapping[str, object], *, include_data: bool = False
    ) -> list[str]:
        """Names of the fields on which ``other`` disagrees with this spec.

        Parameters
        ----------
        other : ProblemSpec or mapping
            A full spec, or only the fields someone stated (e.g. the command
            line flags a user gave); in a mapping a ``None`` value means "not
            stated" and is skipped. Values are normalized as on construction,
            so ``kernel_size=3`` agrees with ``(3, 3)``, ``padding=1`` with
            ``"same"`` for a 3x3 kernel, and ``loss="huber"`` with
            ``loss_params={"delta": 1.0}``.
        include_data : bool
            Also compare ``data`` (as ``"data.<key>"`` for keys both record).

        Returns
        -------
        list of str
            Field names in declaration order; empty when they agree.
        """
        mine = self.to_dict()
        if isinstance(other, ProblemSpec):
            theirs = other.to_dict()
        elif isinstance(other, Mapping):
            names = [f.name for f in fields(self)]
            unknown = sorted(k for k in other if k not in names)
            if unknown:
                raise ValueError(f"unknown ProblemSpec key(s) {unknown}; known keys: {names}")
            theirs = {k: v for k, v in other.items() if v is not None}
        else:
            raise TypeError(f"compare a ProblemSpec with a ProblemSpec or a mapping; got {other!r}")
        dims = theirs.get("spatial_dims", self.spatial_dims)
        if isinstance(dims, (bool, np.bool_)) or dims not in (1, 2):
            raise _spec_error("spatial_dims", "1 (signals) or 2 (images)", dims)
        out: list[str] = []
        for name in mine:
            if name not in theirs:
                continue
            value = theirs[name]
            if name == "data":
                if include_data and self.data is not None and value is not None:
                    data = _spec_data(value)
                    out += [f"data.{k}" for k in self.data if k in data and data[k] != self.data[k]]
                continue
            if not self._agrees(name, value, theirs, dims):
                out.append(name)
        return out

    def _agrees(self, name: str, value: object, theirs: Mapping, dims: int) -> bool:
        if name == "activation":
            return _spec_activation(value) == self.activation
        if name in ("kernel_size", "stride"):
            return _spec_ints(name, value, dims, 1) == getattr(self, name)
        if name == "padding":  # compared as (before, after) pairs under this spec's kernel
            value = _spec_padding(value, dims)
            if len(self.kernel_size) != dims:
                return False
            return _pad_pairs(value, self.kernel_size) == _pad_pairs(self.padding, self.kernel_size)
        if name in ("channels", "spatial_dims"):
            return _spec_int(name, value, 1) == getattr(self, name)
        if name in ("bias", "residual"):
            return _spec_bool(name, value) == getattr(self, name)
        if name in ("beta", "threshold"):
            mine = getattr(self, name)
            value = _spec_float(name, value, optional=True)
            if mine is None or value is None:
                return mine is value
            return math.isclose(value, mine, rel_tol=1e-12, abs_tol=0.0)
        if name == "loss":  # the name only; stated parameters are compared as loss_params
            return _spec_loss(value, None)[0] == self.loss
        if name == "loss_params":
            loss = theirs.get("loss", self.loss)
            return _spec_loss(loss, value)[1] == self.loss_params
        return value == getattr(self, name)  # readout

    def check_agrees(
        self,
        other: ProblemSpec | Mapping[str, object],
        *,
        source: str = "the command line",
        include_data: bool = False,
    ) -> None:
        """``ValueError`` listing every field where ``other`` contradicts this spec.

        For a CLI: a flag that contradicts the weights file is an error, not a
        silent override.
        """
        names = self.contradictions(other, include_data=include_data)
        if not names:
            return
        theirs = other.to_dict() if isinstance(other, ProblemSpec) else dict(other)
        mine = self.to_dict()

        def show(values: Mapping, key: str) -> object:
            if key.startswith("data."):
                return (values.get("data") or {}).get(key[5:])
            return values.get(key)

        detail = "; ".join(f"{k}: {show(mine, k)!r} vs {show(theirs, k)!r}" for k in names)
        raise ValueError(
            f"{source} contradicts the problem the weights were made for ({detail}); "
            "drop the contradicting setting(s) or use a matching weights file"
        )
