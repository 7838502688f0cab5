"""cvxcnn: two-layer convolutional networks trained to certified global optimality."""

__version__ = "0.1.0"
