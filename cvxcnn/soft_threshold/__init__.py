"""Two-layer soft-threshold CNNs: triples, convex programs, brackets and certificates.

See ``docs/soft_threshold.md`` and DESIGN.md section 6. Main entry points:

- :func:`enumerate_st_triples` / :func:`sample_st_triples` -> :class:`TripleSet`;
- :func:`fit_st` (``form="exact"``: program 6a with learnable thresholds,
  exact with every triple, facet-reduced by default
  (:func:`st_facet_reduction`); ``form="paper"``: Xiong et al.'s eq. 22);
- :func:`fixed_threshold_bracket` -> :class:`Bracket` for a fixed ``lambda``;
- :func:`certify_st`: dual lower bound from any ST network;
- :class:`STNetwork` (usable by :func:`cvxcnn.networks.primal_objective`),
  :func:`st_random_restarts` (L-BFGS-B reference check).
"""

from cvxcnn.soft_threshold.bracket import Bracket, fixed_threshold_bracket
from cvxcnn.soft_threshold.certify import certify_st, st_oracle
from cvxcnn.soft_threshold.facets import st_facet_reduction, st_row_signs
from cvxcnn.soft_threshold.network import (
    GatedNetwork,
    STNetwork,
    load_st_network,
    save_st_network,
)
from cvxcnn.soft_threshold.programs import (
    STFitResult,
    STProgram,
    build_paper_program,
    build_st_program,
    fit_st,
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
    "Bracket",
    "GatedNetwork",
    "STFitResult",
    "STNetwork",
    "STProgram",
    "TripleSet",
    "build_paper_program",
    "build_st_program",
    "certify_st",
    "enumerate_st_triples",
    "fit_st",
    "fixed_threshold_bracket",
    "load_st_network",
    "polish_st_network",
    "sample_st_triples",
    "save_st_network",
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
