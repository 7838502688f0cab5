"""Which oracle searches EVERY cell: enumeration, a stream of cells, or the MIP.

One decision, used by ``cvxcnn solve --certify exact``, ``cvxcnn solve
--method colgen`` and ``cvxcnn certify --certify exact`` (and by Python
users): :func:`choose_oracle` looks at the cell-count bound of the patch
matrix ``Y`` (``2 sum_{k<r} C(m-1, k)``, ``m`` distinct hyperplanes of rank
``r``, computed without enumerating) and at memory:

- ``"enumeration"``: the bound fits ``max_cells``: every cell is held in
  memory (:func:`cvxcnn.arrangements.enumerate_relu_patterns`), the fastest;
- ``"stream"`` (ReLU only): too many cells to hold as masks, but the rank is
  at most :data:`STREAM_MAX_RANK` (1-D kernels, 2x2 image kernels), the
  bound is at most :data:`STREAM_MAX_CELLS` and the stream's bit-packed
  cache fits ``max_memory``: the cells are enumerated in chunks
  (:mod:`cvxcnn.streaming`, :mod:`cvxcnn.colgen_stream`);
- ``"mip"``: otherwise, the mixed-integer oracle (:mod:`cvxcnn.mip_oracle`,
  anytime).

Other activations (soft threshold) are routed to their enumeration (their
cells are triples, not streamed); beyond its own bound the command line
falls back to the activation's enumeration-free mixed-integer oracle
(:attr:`cvxcnn.activations.Activation.searched_type`, e.g.
:mod:`cvxcnn.soft_threshold.mip_oracle`) and says so in ``oracle_choice``.

Every branch is exact: each searches every cell, so each certificate is
"certified" (the MIP's possibly with a looser, anytime gap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cvxcnn.activations import get_activation
from cvxcnn.arrangements import PatternStream
from cvxcnn.fitting import default_max_memory
from cvxcnn.results import Result
from cvxcnn.validation import check_positive, check_positive_int

#: The oracles :func:`choose_oracle` picks from.
ORACLES = ("enumeration", "stream", "mip")
#: Largest rank of ``Y`` whose cells are streamed (cells enumerable in chunks: the
#: vertex method visits ``C(m, r - 1)`` extreme-ray subsets).
STREAM_MAX_RANK = 5
#: Largest cell-count bound streamed: a pass runs at ~10-30k cells/s (measured,
#: 2 digits with a 2x2 kernel), so this is a pass of minutes, one per round.
STREAM_MAX_CELLS = 20_000_000
#: Chunk the stream's working memory is sized for (its default ``chunk_size``).
STREAM_CHUNK = 65536


@dataclass
class OracleChoice(Result):
    """The oracle chosen for a patch matrix, and why.

    Attributes
    ----------
    oracle : {"enumeration", "stream", "mip"}
    reason : str
        One sentence with the numbers that decided.
    count_bound : int
        Cell-count bound of ``Y``'s arrangement.
    rank : int
        Rank of the distinct hyperplanes.
    stream_bytes : float
        Memory a stream of every cell needs (its cache, keys and one chunk).
    """

    oracle: str
    reason: str
    count_bound: int
    rank: int
    stream_bytes: float

    def to_dict(self) -> dict:
        """``oracle_choice`` and ``oracle_reason`` (the JSON of the command line)."""
        return {"oracle_choice": self.oracle, "oracle_reason": self.reason}


def stream_bytes(n: int, d: int, hyperplanes: int, cells: int, chunk_size: int) -> float:
    """Bytes a stream of ``cells`` cells of an (n, d) patch matrix holds.

    Per cell: its bit-packed mask and float64 generator (the cache), its
    key in the first pass's :class:`~cvxcnn.arrangements.KeySet`, and two
    float64 bounds (the streamed colgen's per-cell screen); plus one chunk of
    bool masks and the screen's float64 block.
    """
    per_cell = math.ceil(n / 8) + 8 * d + math.ceil(hyperplanes / 8) + 16
    return float(cells) * per_cell + chunk_size * n * 2.0 + 2048 * n * 8 * 6


def choose_oracle(
    Y: np.ndarray,
    *,
    activation: str = "relu",
    max_cells: int = 200_000,
    max_memory: float | None = None,
    max_stream_cells: int = STREAM_MAX_CELLS,
) -> OracleChoice:
    """Pick the oracle that searches every cell of ``Y``'s arrangement (module docstring).

    Parameters
    ----------
    Y : ndarray of shape (n, d)
        The patch matrix.
    activation : str
        ``relu`` (default) or ``soft_threshold``; only ReLU cells are streamed.
    max_cells : int
        Enumerate (hold every cell) when the count bound is at most this.
    max_memory : float or None
        Bytes a stream may hold (default: half the machine's memory).
    max_stream_cells : int
        Stream only when the count bound is at most this.

    Returns
    -------
    OracleChoice
    """
    max_cells = check_positive_int(max_cells, "max_cells")
    max_stream_cells = check_positive_int(max_stream_cells, "max_stream_cells")
    memory = (
        default_max_memory() if max_memory is None else check_positive(max_memory, "max_memory")
    )
    act = get_activation(activation)
    stream = PatternStream(Y)  # the count bound only: nothing is enumerated here
    n, d = stream.Y.shape
    bound, rank = stream.count_bound, stream.rank
    need = stream_bytes(n, d, stream.hyperplanes, bound, STREAM_CHUNK)
    if act.name != "relu":  # its enumeration applies (and refuses beyond) its own bound
        why = f"{act.name} cells are enumerated (refused beyond --max-cells {max_cells})"
        return OracleChoice("enumeration", why, bound, rank, need)
    size = f"count bound {bound} (n = {n}, rank {rank})"
    if bound <= max_cells:  # the bound enumerate_relu_patterns refuses by
        return OracleChoice("enumeration", f"{size} <= --max-cells {max_cells}", bound, rank, need)
    beyond = f"{size} > --max-cells {max_cells}"
    if rank > STREAM_MAX_RANK:
        why = f"{beyond}; rank {rank} > {STREAM_MAX_RANK}: too many cells to enumerate"
    elif bound > max_stream_cells:
        why = f"{beyond}; more than {max_stream_cells} cells to stream"
    elif need > memory:
        why = f"{beyond}; a stream would hold {need / 2**30:.3g} GiB > {memory / 2**30:.3g} GiB"
    else:
        why = f"{beyond}; rank {rank} <= {STREAM_MAX_RANK}: every cell streamed in chunks "
        why += f"({need / 2**20:.0f} MiB)"
        return OracleChoice("stream", why, bound, rank, need)
    return OracleChoice("mip", f"{why}: the mixed-integer oracle", bound, rank, need)
