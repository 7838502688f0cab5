"""The one weights file format of cvxcnn: any network plus the problem it belongs to.

:func:`save_network` writes, and :func:`load_network` reads, every two-layer
network cvxcnn makes (:class:`~cvxcnn.networks.ReluNetwork`,
:class:`~cvxcnn.soft_threshold.network.STNetwork`) together with a
:class:`~cvxcnn.problem.ProblemSpec`, so whoever loads the file rebuilds the
exact problem (geometry, readout, loss, beta) instead of guessing defaults.

Format 2 (``.npz``, written by :func:`save_network`; no pickles, read with
``allow_pickle=False``):

- ``format_version`` : 0-d int, ``2``;
- ``activation`` : 0-d str, ``"relu"`` or ``"soft_threshold"``;
- ``U`` : (m, d) float64, first-layer filters (rows ordered like a patch row);
- ``v`` : (m,) float64, second-layer weights;
- ``thresholds`` : (m,) float64, soft thresholds only (``>= 0``);
- ``spec`` : 0-d str, :meth:`ProblemSpec.to_json` (absent when saved without one);
- any other array: caller's extra metadata (numbers, strings, numeric arrays),
  returned in :attr:`LoadedNetwork.extra`.

Format 1 (files without ``format_version``, written by cvxcnn before it):
``U``, ``v``, optional ``activation`` (``"relu"`` when absent, ``"st"`` or
``"soft_threshold"``), thresholds as ``thresholds`` or ``t``, and metadata
arrays (``beta``, ``kernel`` or ``kernel_size``, ``stride``, ``padding`` as
(before, after) pairs, ``bias``, ``residual``, ``readout``, ``in_channels``,
``final_objective``...). They load with ``spec=None``; the metadata is in
``extra`` and, translated to spec field names, in
:attr:`LoadedNetwork.recorded_fields`. See ``docs/certificates.md``.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cvxcnn.networks import ReluNetwork
from cvxcnn.problem import ProblemSpec
from cvxcnn.soft_threshold.network import STNetwork

#: The layout :func:`save_network` writes.
FORMAT_VERSION = 2
#: Layouts :func:`load_network` reads.
READABLE_VERSIONS = (1, 2)
#: Array names of format 2 that are not extra metadata.
RESERVED_KEYS = ("U", "v", "thresholds", "activation", "format_version", "spec")
#: Activation names of format-1 files and what they mean.
_V1_ACTIVATIONS = {"relu": "relu", "soft_threshold": "soft_threshold", "st": "soft_threshold"}

Network = ReluNetwork | STNetwork


@dataclass(frozen=True)
class LoadedNetwork:
    """What :func:`load_network` read.

    Attributes
    ----------
    network : ReluNetwork or STNetwork
    spec : ProblemSpec or None
        The problem the network belongs to; None for format-1 files and for
        files saved without a spec.
    format_version : int
        1 or 2.
    extra : dict
        Every other array of the file: 0-d arrays as Python scalars, others as
        ndarrays (for format 1: the metadata the old writers stored).
    """

    network: Network
    spec: ProblemSpec | None
    format_version: int
    extra: dict = field(default_factory=dict)

    @property
    def recorded_fields(self) -> dict:
        """The :class:`ProblemSpec` fields the file states (a partial spec).

        Format 2 with a spec: all of them. Otherwise the activation and what
        the format-1 metadata records, under spec names (``kernel`` ->
        ``kernel_size``, ``in_channels`` -> ``channels``, ``padding`` pairs
        -> ``"same"`` or one int per axis). Pass it to
        :meth:`ProblemSpec.contradictions` to check command-line flags against
        an old file; whatever it lacks must come from the user, not a default.
        """
        if self.spec is not None:
            return self.spec.to_dict()
        return _v1_spec_fields(self.network.activation, self.extra)


def check_weights_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path, or ``ValueError`` unless it ends in ``.npz``.

    For a CLI: check ``--out``/``--save-weights`` before a long run, not after.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(
            f"weights files are .npz archives and their names end in '.npz'; got {str(path)!r}"
        )
    return path


def save_network(
    path: str | os.PathLike,
    network: Network,
    spec: ProblemSpec | Mapping | None = None,
    **extra: object,
) -> None:
    """Write ``network`` (and the problem it belongs to) in format 2.

    Parameters
    ----------
    path : str or Path
        Must end in ``.npz`` (no extension is added silently). Written
        atomically (a temporary file in the same folder, then renamed);
        missing parent folders are created.
    network : ReluNetwork or STNetwork
    spec : ProblemSpec or mapping, optional
        The problem definition (a mapping goes through
        :meth:`ProblemSpec.from_dict`). Checked against the network
        (activation, ``d``, fixed threshold). Without one, a reader cannot
        rebuild the problem: pass it whenever it is known.
    **extra
        More metadata (e.g. ``final_objective``): numbers, strings or numeric
        arrays, stored as arrays under their own names, which must not be one
        of :data:`RESERVED_KEYS`.

    Raises
    ------
    ValueError
        Wrong extension, an unsupported network, a spec that does not fit the
        network, or a reserved/unstorable extra.
    """
    path = check_weights_path(path)
    if not isinstance(network, (ReluNetwork, STNetwork)):
        raise ValueError(
            f"save_network writes ReluNetwork and STNetwork weights; got "
            f"{type(network).__name__} (a GatedNetwork is defined on its training rows only)"
        )
    arrays: dict[str, np.ndarray] = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "activation": np.array(network.activation, dtype=np.str_),
        "U": network.U,
        "v": network.v,
    }
    if isinstance(network, STNetwork):
        arrays["thresholds"] = network.thresholds
    if spec is not None:
        if not isinstance(spec, ProblemSpec):
            spec = ProblemSpec.from_dict(spec)
        spec.check_network(network)
        arrays["spec"] = np.array(spec.to_json(), dtype=np.str_)
    for key, value in extra.items():
        if key in RESERVED_KEYS:
            raise ValueError(f"extra metadata may not be named {key!r} (reserved: {RESERVED_KEYS})")
        arr = np.asarray(value)
        if arr.dtype.kind not in "biufU":
            raise ValueError(
                f"extra metadata {key!r} must be a number, a string or a numeric array "
                f"(stored without pickles); got {value!r}"
            )
        arrays[key] = arr
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_network(path: str | os.PathLike, *, activation: str | None = None) -> LoadedNetwork:
    """Read a weights file of format 2 or 1 (see the module docstring).

    Parameters
    ----------
    path : str or Path
        An existing ``.npz`` file.
    activation : {"relu", "soft_threshold"}, optional
        Refuse a file of another activation (``ValueError``).

    Returns
    -------
    LoadedNetwork

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Every defect, naming the file and the array: wrong extension, not an
        ``.npz`` archive, pickled (object) arrays, missing ``U``/``v``/
        ``thresholds``, an unknown activation or format version, weights that
        are not finite real numbers (finite but huge values are accepted:
        the evaluator scores them honestly), malformed spec JSON, unknown or
        ill-typed spec keys, a spec that does not fit the network.
    """
    path = check_weights_path(path)
    if not path.exists():
        raise FileNotFoundError(f"weights file {path} does not exist")
    arrays = _read_arrays(path)
    version = _format_version(path, arrays)
    if version == 1:
        loaded = _read_v1(path, arrays)
    else:
        loaded = _read_v2(path, arrays)
    if activation is not None and loaded.network.activation != activation:
        raise ValueError(
            f"weights file {path} holds a {loaded.network.activation!r} network, not "
            f"{activation!r}; pass the activation the file holds, or none to read either kind"
        )
    return loaded


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"weights file {path} is not a readable .npz archive: {exc}") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"weights file {path} is a single .npy array, not an .npz archive")
    arrays = {}
    with archive:
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except ValueError as exc:  # "Object arrays cannot be loaded when allow_pickle=False"
                raise ValueError(
                    f"weights file {path}: array {key!r} holds Python objects (a pickle); "
                    "weights files never contain pickles, so it is not read"
                ) from exc
            except (OSError, zipfile.BadZipFile) as exc:
                raise ValueError(f"weights file {path}: array {key!r} is corrupt: {exc}") from exc
    return arrays


def _format_version(path: Path, arrays: Mapping[str, np.ndarray]) -> int:
    if "format_version" not in arrays:
        return 1
    raw = arrays["format_version"]
    if raw.ndim != 0 or raw.dtype.kind not in "iu":
        raise ValueError(
            f"weights file {path}: format_version must be a 0-d integer array; got "
            f"dtype {raw.dtype}, shape {raw.shape}"
        )
    version = int(raw)
    if version not in READABLE_VERSIONS:
        newer = " (written by a newer cvxcnn?)" if version > FORMAT_VERSION else ""
        raise ValueError(
            f"weights file {path} has format_version {version}{newer}; this cvxcnn reads "
            f"{list(READABLE_VERSIONS)}"
        )
    return version


def _string(path: Path, arrays: Mapping[str, np.ndarray], key: str) -> str:
    raw = arrays[key]
    if raw.ndim != 0 or raw.dtype.kind != "U":
        raise ValueError(
            f"weights file {path}: {key!r} must be a 0-d string array; got dtype {raw.dtype}, "
            f"shape {raw.shape}"
        )
    return str(raw)


def _weights(
    path: Path, arrays: Mapping[str, np.ndarray], key: str, ndim: tuple[int, ...]
) -> np.ndarray:
    """A finite float64 array, or ``ValueError`` naming the array."""
    raw = arrays[key]
    if raw.dtype.kind not in "fiu":
        raise ValueError(
            f"weights file {path}: array {key!r} must hold real numbers; got dtype {raw.dtype}"
        )
    if raw.ndim not in ndim:
        raise ValueError(
            f"weights file {path}: array {key!r} must have {' or '.join(map(str, ndim))} "
            f"dimension(s); got shape {raw.shape}"
        )
    with np.errstate(over="ignore"):  # a float128 beyond float64's range becomes inf: refused
        arr = raw.astype(np.float64)
    bad = arr.size - int(np.count_nonzero(np.isfinite(arr)))
    if bad:
        raise ValueError(
            f"weights file {path}: array {key!r} has {bad} non-finite value(s) (NaN, inf, or "
            "beyond float64's range); a network with them has no meaningful objective"
        )
    return arr


def _require(path: Path, arrays: Mapping[str, np.ndarray], keys: list[str], what: str) -> None:
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise ValueError(
            f"weights file {path} lacks array(s) {missing}; it holds {sorted(arrays)}. "
            f"Expected {what}"
        )


def _build(path: Path, activation: str, U, v, thresholds) -> Network:
    try:
        if activation == "relu":
            return ReluNetwork(U, v)
        return STNetwork(U=U, thresholds=thresholds, v=v)
    except ValueError as exc:
        raise ValueError(f"weights file {path}: {exc}") from exc


def _extra(arrays: Mapping[str, np.ndarray], skip: tuple[str, ...]) -> dict:
    return {k: (a.item() if a.ndim == 0 else a) for k, a in arrays.items() if k not in skip}


def _read_v2(path: Path, arrays: Mapping[str, np.ndarray]) -> LoadedNetwork:
    _require(path, arrays, ["activation", "U", "v"], "activation, U (m, d) and v (m,)")
    activation = _string(path, arrays, "activation")
    if activation not in ("relu", "soft_threshold"):
        raise ValueError(
            f"weights file {path}: activation must be 'relu' or 'soft_threshold'; "
            f"got {activation!r}"
        )
    U = _weights(path, arrays, "U", (2,))
    v = _weights(path, arrays, "v", (1,))
    thresholds = None
    if activation == "soft_threshold":
        _require(path, arrays, ["thresholds"], "thresholds (m,) for a soft-threshold network")
        thresholds = _weights(path, arrays, "thresholds", (1,))
    elif "thresholds" in arrays:
        raise ValueError(f"weights file {path}: a 'relu' network has no 'thresholds' array")
    network = _build(path, activation, U, v, thresholds)
    spec = None
    if "spec" in arrays:
        text = _string(path, arrays, "spec")
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"weights file {path}: array 'spec' is not valid JSON: {exc}") from exc
        try:
            spec = ProblemSpec.from_dict(values)
            spec.check_network(network)
        except ValueError as exc:
            raise ValueError(f"weights file {path}: spec: {exc}") from exc
    return LoadedNetwork(network, spec, 2, _extra(arrays, RESERVED_KEYS))


def _read_v1(path: Path, arrays: Mapping[str, np.ndarray]) -> LoadedNetwork:
    """The one reader of every format-1 layout (CLI, trainer, older ``st``/``t`` files)."""
    activation = "relu"
    if "activation" in arrays:
        name = _string(path, arrays, "activation")
        if name not in _V1_ACTIVATIONS:
            raise ValueError(
                f"weights file {path} holds an unknown activation {name!r}; expected one of "
                f"{sorted(_V1_ACTIVATIONS)}"
            )
        activation = _V1_ACTIVATIONS[name]
    skip: tuple[str, ...] = ("U", "v", "activation")
    thresholds = None
    if activation == "soft_threshold":
        key = next((k for k in ("thresholds", "t") if k in arrays), "thresholds")
        _require(
            path,
            arrays,
            ["U", "v", key],
            "U (m, d), v (m,) and thresholds (m,) (or t (m,)) for a soft-threshold network",
        )
        thresholds = _weights(path, arrays, key, (0, 1))
        skip += ("thresholds", "t")
    _require(path, arrays, ["U", "v"], "U (m, d) and v (m,)")
    U = _weights(path, arrays, "U", (2,))
    v = _weights(path, arrays, "v", (1, 2)).reshape(-1)
    network = _build(path, activation, U, v, thresholds)
    return LoadedNetwork(network, None, 1, _extra(arrays, skip))


def _v1_spec_fields(activation: str, extra: Mapping[str, object]) -> dict:
    """Format-1 metadata under :class:`ProblemSpec` names (only what is recorded)."""
    out: dict[str, object] = {"activation": activation}

    def ints(value: object) -> object:
        return value.reshape(-1).tolist() if isinstance(value, np.ndarray) else value

    if "beta" in extra:
        out["beta"] = extra["beta"]
    if "kernel_size" in extra:
        out["kernel_size"] = ints(extra["kernel_size"])
    elif "kernel" in extra:
        out["kernel_size"] = ints(extra["kernel"])
    if isinstance(out.get("kernel_size"), list):
        out["spatial_dims"] = len(out["kernel_size"])
    if "stride" in extra:
        out["stride"] = ints(extra["stride"])
    if "in_channels" in extra:
        out["channels"] = extra["in_channels"]
    for key in ("bias", "residual", "readout"):
        if key in extra:
            out[key] = extra[key]
    padding = extra.get("padding")
    if isinstance(padding, np.ndarray) and padding.ndim == 2 and padding.shape[1] == 2:
        pairs = [tuple(int(p) for p in pair) for pair in padding]
        kernel = out.get("kernel_size")
        same = [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in kernel or []]
        if pairs == same:
            out["padding"] = "same"
        elif all(lo == hi for lo, hi in pairs):
            out["padding"] = [lo for lo, _ in pairs]
    elif padding is not None:
        out["padding"] = ints(padding)
    return out
