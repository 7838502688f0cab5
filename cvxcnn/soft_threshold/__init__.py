"""Two-layer soft-threshold CNNs: triples, convex programs, brackets and certificates.

See ``docs/soft_threshold.md`` and DESIGN.md section 6. Main entry points:

- :func:`enumerate_st_triples` / :func:`sample_st_triples` -> :class:`TripleSet`;
- :func:`build_st_program` (program 6a, learnable thresholds) and
  :func:`build_paper_program` (Xiong et al.'s eq. 22), :func:`st_oracle`,
  :func:`st_facet_reduction`: the activation's pieces behind
  :class:`cvxcnn.activations.SoftThreshold`;
- :class:`STNetwork` (usable by :func:`cvxcnn.networks.primal_objective`),
  :func:`st_random_restarts` (L-BFGS-B reference check).

The pipeline itself is written once for every activation:
:func:`cvxcnn.fitting.fit` / :func:`cvxcnn.fitting.fit_st`, :func:`cvxcnn.certificates.certify`,
:func:`cvxcnn.colgen.solve_colgen`, :func:`cvxcnn.path.solve_path`, and the
fixed-threshold bracket :func:`cvxcnn.bracket.fixed_threshold_bracket`.
"""

from cvxcnn.soft_threshold.facets import st_facet_reduction, st_row_signs
from cvxcnn.soft_threshold.network import (
    GatedNetwork,
    STNetwork,
)
from cvxcnn.soft_threshold.oracle import st_oracle
from cvxcnn.soft_threshold.programs import (
    STFitResult,
    STProgram,
    build_paper_program,
    build_st_program,
)
from cvxcnn.soft_threshold.restarts import (
    polish_st_network,
    st_random_restarts,
    st_value_and_grad,
)
from cvxcnn.soft_threshold.triples import (
    TripleSet,
    enumerate_st_triples,
    sample_st_triples,
    soft_threshold,
    st_count_bound,
    triple_gains,
    triples_from_generators,
)

__all__ = [
    "GatedNetwork",
    "STFitResult",
    "STNetwork",
    "STProgram",
    "TripleSet",
    "build_paper_program",
    "build_st_program",
    "enumerate_st_triples",
    "polish_st_network",
    "sample_st_triples",
    "soft_threshold",
    "st_count_bound",
    "st_facet_reduction",
    "st_oracle",
    "st_random_restarts",
    "st_row_signs",
    "st_value_and_grad",
    "triple_gains",
    "triples_from_generators",
]
