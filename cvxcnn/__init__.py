"""cvxcnn: two-layer convolutional networks trained to certified global optimality.

Main entry points:

- :class:`cvxcnn.ConvexReLUCNN`, a scikit-learn style estimator;
- :func:`cvxcnn.problem.make_problem`, :mod:`cvxcnn.arrangements`,
  :func:`cvxcnn.fit.fit_relu` for the pieces;
- :func:`cvxcnn.certify.certify_relu` for lower bounds and gaps.
"""

from cvxcnn.estimator import ConvexReLUCNN

__version__ = "0.1.0"

__all__ = ["ConvexReLUCNN", "__version__"]
