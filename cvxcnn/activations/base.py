"""What an activation supplies to the one pipeline (DESIGN.md section 11).

data -> problem (Y, R, x) -> cells -> program -> solve -> network -> certificate.

Everything in that pipeline is written once, for any activation
(:func:`cvxcnn.fitting.fit`, :func:`cvxcnn.certificates.certify`,
:func:`cvxcnn.colgen.solve_colgen`, :func:`cvxcnn.path.solve_path`); what
differs between ReLU and soft thresholds is this small interface, in the
spirit of skglm's datafit/penalty objects handed to one solver and CVXPY's
reductions that know how to map a solution back:

- the cell type and how to get cells: :meth:`sample`, :meth:`enumerate`,
  :meth:`check_cells` (via :meth:`check_listed`), :meth:`subset`, :meth:`keys`,
  :meth:`verify_exact`;
- the convex program over cells, solved once with a given set of cone rows
  and reconstructed into a network: :meth:`solve`;
- its cone rows for facet reduction and the full-row check:
  :meth:`facet_reduction`, :meth:`check_row_mask`, :meth:`violated_rows`,
  :meth:`facets_summary`, :meth:`colgen_row_mask`;
- which cells a solution uses: :meth:`active_cells`;
- the per-cell oracle ``max_{u in K_j, ||u|| <= 1} |g^T act(Y u)|``:
  :meth:`oracle`;
- the network class it reconstructs: :attr:`network_type`.

A third activation (a leaky or gated ReLU, say) is one module implementing
these methods; see ``docs/architecture.md``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from cvxcnn.arrangements import matrix_digest
from cvxcnn.facets import FacetReduction
from cvxcnn.losses import Loss
from cvxcnn.oracle import OracleResult
from cvxcnn.problem import PatchProblem
from cvxcnn.results import ConvexFitResult
from cvxcnn.solve import SolverSettings

#: Relative slack a generator may miss its own cone rows by (float64 rounding).
GENERATOR_TOL = 1e-9


class Activation(ABC):
    """The activation-specific half of the pipeline (see the module docstring)."""

    #: Name used in results, files and the command line.
    name: str = ""
    #: Network class the reconstruction returns (and :func:`certify` accepts).
    network_type: type = object
    #: Program builders :meth:`solve` offers (``SolverSettings.backend``).
    backends: tuple[str, ...] = ("cvxpy",)
    #: Cell-set class (``PatternSet`` / ``TripleSet``).
    cell_type: type = object
    #: Class of a set that stands for EVERY cell without listing them, searched by an
    #: enumeration-free oracle (ReLU: ``MipArrangement``); ``()`` when there is none.
    searched_type: type | tuple = ()

    #: ``sampler(Y, count, *, random_state, **options)`` and
    #: ``enumerator(Y, *, max_cells, progress)`` of the cell type (staticmethods).
    sampler = None
    enumerator = None

    # ----------------------------------------------------------------- cells
    def sample(self, Y: np.ndarray, count: int, *, random_state: object = 0, **options) -> object:
        """Sampled cells of ``Y`` (n, d): an upper-bound program, estimated certificates."""
        return self.sampler(Y, count, random_state=random_state, **options)

    def enumerate(self, Y: np.ndarray, *, max_cells: int, progress: bool = False) -> object:
        """Every cell of ``Y``'s arrangement (``exact=True``, with its digest)."""
        return self.enumerator(Y, max_cells=max_cells, progress=progress)

    def is_searched(self, cells: object) -> bool:
        """True when ``cells`` stands for every cell without listing them (a searched set)."""
        return bool(self.searched_type) and isinstance(cells, self.searched_type)

    def check_cells(self, cells: object, n: int) -> object:
        """``cells`` validated for a patch matrix with ``n`` rows (type, shape, non-empty).

        A searched set is checked through the cells it has met (:meth:`check_listed`
        on ``cells.known``) and returned as is.
        """
        if self.is_searched(cells):
            self.check_listed(cells.known, n)
            return cells
        return self.check_listed(cells, n)

    @abstractmethod
    def check_listed(self, cells: object, n: int) -> object:
        """A listed cell set (not a searched one) validated for ``n`` rows; returns the cells."""

    def subset(self, cells: object, index: np.ndarray) -> object:
        """The cells at ``index`` (exact only when every cell is kept, in order).

        Of a searched set: its known cells at ``index`` (a program's cells, not exact).
        Raw ``(P, n)`` arrays are indexed directly; cell sets use their ``subset``.
        """
        if self.is_searched(cells):
            cells = cells.known
        if isinstance(cells, np.ndarray):
            return cells[index]
        return cells.subset(index)

    @abstractmethod
    def cell_bits(self, cells: object) -> np.ndarray:
        """(P, k) bool: what identifies each cell (ReLU: its mask; ST: ``[S1, S3]``)."""

    @abstractmethod
    def generator_slack(self, cells: object, Y: np.ndarray) -> np.ndarray:
        """(n, P) slack of each cell's generator in its own cone rows, relative to their scale."""

    def search_all(self, Y: np.ndarray, *, time_limit: float, random_state: object = 0) -> object:
        """Every cell of ``Y`` (n, d) for an enumeration-free oracle (:attr:`searched_type`).

        For certificates and column generation beyond enumeration; ``time_limit``
        seconds per oracle call. Activations without such an oracle refuse.
        """
        raise NotImplementedError(
            f"the {self.name} activation has no enumeration-free oracle: enumerate its cells"
        )

    def keys(self, cells: object) -> list[bytes]:
        """One hashable key per cell, equal for equal cells."""
        return [row.tobytes() for row in np.packbits(self.cell_bits(cells), axis=1)]

    def verify_exact(self, cells: object, Y: np.ndarray) -> bool:
        """True when ``cells`` is an exact set of THIS ``Y`` (n, d): digest, count, generators.

        A searched set needs only the digest of ``Y``. A listed set must carry
        the digest of the ``Y`` it was enumerated from and at least as many
        distinct cells as were found then, and every cell must be reproduced
        by its generator on ``Y`` (to :data:`GENERATOR_TOL`).
        """
        if self.is_searched(cells):  # the MIP searches every cell of THIS Y
            return cells.digest == matrix_digest(Y)
        if not (isinstance(cells, self.cell_type) and cells.exact and cells.digest):
            return False
        if cells.digest != matrix_digest(Y) or len(set(self.keys(cells))) < cells.exact_count:
            return False
        return bool(np.all(self.generator_slack(cells, np.asarray(Y, float)) >= -GENERATOR_TOL))

    # --------------------------------------------------------------- program
    def check_program_cells(self, cells: object, settings: SolverSettings | None = None) -> None:
        """Refuse what no program can be built over: a searched set, an unknown backend.

        A searched set stands for every cell but holds only the cells met so
        far; it is for certificates and column generation, and a program goes
        over ``cells.known`` (an upper bound) instead.
        """
        if self.is_searched(cells):
            raise TypeError(
                f"a {type(cells).__name__} stands for every cell but holds only the cells met so "
                "far: it is for certify and solve_colgen; fit over cells.known (an upper-bound "
                "program) instead"
            )
        if settings is not None and settings.backend not in self.backends:
            raise ValueError(
                f"backend must be one of {self.backends} for the {self.name} activation; got "
                f"{settings.backend!r}"
            )

    @abstractmethod
    def solve(
        self,
        problem: PatchProblem,
        cells: object,
        *,
        beta: float,
        loss: Loss,
        row_mask: np.ndarray | None,
        settings: SolverSettings,
    ) -> ConvexFitResult:
        """Build, solve and reconstruct the program over ``cells`` with the rows in ``row_mask``."""

    @abstractmethod
    def program_nonzeros(
        self, problem: PatchProblem, cells: object, row_mask: np.ndarray | None, *, loss_only=False
    ) -> int:
        """Nonzeros of the program's constraint matrix (loss rows and cone rows), for memory.

        ``loss_only``: the loss rows alone (known before any facet reduction).
        """

    @abstractmethod
    def facet_reduction(
        self, problem: PatchProblem, cells: object, facets: object, n_jobs: int | None
    ) -> FacetReduction | None:
        """Resolve a ``facets`` argument ("auto", "off", a method, a reduction) for ``cells``."""

    @abstractmethod
    def check_row_mask(self, row_mask: np.ndarray, problem: PatchProblem, cells: object):
        """A given ``row_mask`` validated (shape of the activation's row layout), as a copy."""

    @abstractmethod
    def violated_rows(
        self,
        result: ConvexFitResult,
        problem: PatchProblem,
        cells: object,
        row_mask: np.ndarray,
    ) -> np.ndarray:
        """Rows left out of ``row_mask`` that the solution violates (same shape, bool)."""

    def facets_summary(self, reduction: FacetReduction, cells: object) -> dict:
        """JSON-ready description of a reduction."""
        return reduction.to_dict()

    def colgen_row_mask(
        self, problem: PatchProblem, cells: object, index: np.ndarray
    ) -> np.ndarray | None:
        """Rows for a program over ``subset(cells, index)`` of an exact set (None: every row)."""
        return None

    def unscale(self, result: ConvexFitResult, patch_scale: float, target_scale: float) -> None:
        """Map a solution of the normalized problem ``(Y / a, x / b)`` back, in place.

        Blocks scale by ``b / a`` (``Y w`` by ``b``); neurons by ``sqrt(b / a)``
        on both layers (:meth:`scale_network`); the cone rows' violation by ``b``.
        """
        factor = target_scale / patch_scale
        if result.W is not None:
            result.W, result.Z = result.W * factor, result.Z * factor
        if result.network is not None:
            result.network = self.scale_network(result.network, patch_scale, target_scale)
        result.sign_violation *= target_scale

    def zero_result(self, problem: PatchProblem, cells: object, **common: object):
        """The result whose blocks are all zero (the zero network), with ``common`` fields.

        ``W``/``Z`` are (d, P) zeros and the network has no neuron; activations
        whose results carry more (soft thresholds: ``T``) extend it.
        """
        zeros = np.zeros((problem.d, self.block_count(cells)))
        return ConvexFitResult(network=self.empty_network(problem.d), W=zeros, Z=zeros, **common)

    def block_count(self, cells: object) -> int:
        """Columns of ``W``/``Z`` in a solution over ``cells`` (one per cell by default)."""
        return len(cells)

    @abstractmethod
    def empty_network(self, d: int) -> object:
        """The network with no neuron for ``d`` inputs (the zero function)."""

    @abstractmethod
    def scale_network(self, network: object, patch_scale: float, target_scale: float) -> object:
        """The network of the original problem from one fitted to ``(Y / a, x / b)``."""

    @abstractmethod
    def active_cells(
        self, result: ConvexFitResult, cells: object, *, rtol: float, floor: float
    ) -> np.ndarray:
        """(P,) bool over ``cells``: the cells whose blocks are nonzero in ``result``."""

    def program_output(
        self, result: ConvexFitResult, problem: PatchProblem, cells: object
    ) -> np.ndarray | None:
        """(n,) patch outputs of the program's solution blocks, every block kept; None: unknown.

        The residual of this prediction is the program's dual point to the
        solver's accuracy; the reconstructed network drops blocks below its
        ``rtol``, which moves the residual by more than ``beta`` allows at
        small ``beta`` (:mod:`cvxcnn.working_set`). None: use the network.
        """
        return None

    # ---------------------------------------------------------------- oracle
    def check_time_limit(self, cells: object, time_limit: float | None) -> None:
        """Refuse a ``time_limit`` for listed cells: it bounds the searched set's MIP only."""
        if time_limit is not None and not self.is_searched(cells):
            name = getattr(self.searched_type, "__name__", "none")
            raise ValueError(
                f"time_limit applies to the MIP oracle over a searched set ({name}); "
                "listed cells are solved one by one, exactly"
            )

    @abstractmethod
    def oracle(
        self,
        Y: np.ndarray,
        g: np.ndarray,
        cells: object,
        *,
        threshold: float | None = None,
        **options: object,
    ) -> OracleResult:
        """Bracket ``max_j max_{u in K_j, ||u|| <= 1} |g^T act(Y u)|`` over ``cells``.

        ``Y`` (n, d), ``g = R^T r`` (n,); ``options`` are the oracle's own
        (solver settings). With ``threshold``, every cell whose value may exceed it is decided
        exactly (``cell_lower > threshold`` lists every violator of the set).
        """
