"""Vector-output two-layer ReLU CNNs: ``f(Y) = sum_j (Y u_j)_+ w_j^T``, ``w_j`` in R^c.

The objective ``1/2 ||R f(Y) - X||_F^2 + beta/2 sum_j (||u_j||^2 + ||w_j||^2)``
(DESIGN.md section 13) is a copositive program; what is solved exactly here:

- upper bounds: :func:`fit_separable` (one scalar program per channel),
  :func:`fit_principal`, any network (:class:`VectorReluNetwork`);
- lower bound programs: :func:`solve_relaxation` (nuclear norms with signed
  cone constraints, or their doubly nonnegative lift: SDPs);
- the dual certificate for any network: :func:`certify_vector` with the
  rigorous oracle :func:`vector_oracle`;
- all of it as one bracket: :func:`fit_vector` -> :class:`VectorFitResult`.

See ``docs/vector_output.md``.
"""

from cvxcnn.vector.certificate import VectorCertificate, certify_vector, direction_bound
from cvxcnn.vector.fit import VectorFitResult, fit_vector
from cvxcnn.vector.network import VectorReluNetwork, vector_objective, vector_predict
from cvxcnn.vector.oracle import VectorOracleResult, vector_oracle
from cvxcnn.vector.problem import VectorProblem, channel_targets, vector_problem
from cvxcnn.vector.relaxation import RelaxationResult, solve_relaxation
from cvxcnn.vector.restarts import (
    VectorRestartResult,
    polish_vector,
    vector_restarts,
    vector_value_and_grad,
)
from cvxcnn.vector.separable import ScalarUpperResult, fit_principal, fit_separable

__all__ = [
    "RelaxationResult",
    "ScalarUpperResult",
    "VectorCertificate",
    "VectorFitResult",
    "VectorOracleResult",
    "VectorProblem",
    "VectorReluNetwork",
    "VectorRestartResult",
    "certify_vector",
    "channel_targets",
    "direction_bound",
    "fit_principal",
    "fit_separable",
    "fit_vector",
    "polish_vector",
    "solve_relaxation",
    "vector_objective",
    "vector_oracle",
    "vector_predict",
    "vector_problem",
    "vector_restarts",
    "vector_value_and_grad",
]
