"""PyTorch primal trainer: the two-layer CNN as real layers, trained by gradient descent.

The comparison baseline of the convex programs. The network is
``conv(k, stride, padding) -> ReLU or soft-threshold -> 1x1 conv`` (optional
residual connection, optional sum/mean readout) and the loss it minimizes is
exactly ``P(U, v)`` of :func:`cvxcnn.networks.primal_objective`, so the trained
objective compares directly with the convex optimum (see ``docs/primal.md``).

Needs PyTorch (``pip install 'cvxcnn[torch]'``); the rest of cvxcnn does not.

Main entry points: :func:`train_primal` (returns a :class:`TrainResult`) and
:class:`TwoLayerCNN` (a ``torch.nn.Module``).
"""

from __future__ import annotations

TORCH_MISSING_MESSAGE = (
    "the PyTorch trainer needs torch: pip install torch==2.13.0 (or pip install 'cvxcnn[torch]')"
)

try:
    import torch  # noqa: F401
except ImportError as exc:  # torch is an optional dependency
    raise ImportError(TORCH_MISSING_MESSAGE) from exc

from cvxcnn.primal.models import (  # noqa: E402
    ACTIVATIONS,
    INITS,
    TwoLayerCNN,
    primal_loss,
    soft_threshold,
    torch_loss,
)
from cvxcnn.primal.trainer import (  # noqa: E402
    DTYPES,
    OPTIMIZERS,
    TrainingDivergedError,
    TrainResult,
    make_optimizer,
    resolve_device,
    train_primal,
)

__all__ = [
    "ACTIVATIONS",
    "DTYPES",
    "INITS",
    "OPTIMIZERS",
    "TORCH_MISSING_MESSAGE",
    "TrainResult",
    "TrainingDivergedError",
    "TwoLayerCNN",
    "make_optimizer",
    "primal_loss",
    "resolve_device",
    "soft_threshold",
    "torch_loss",
    "train_primal",
]
