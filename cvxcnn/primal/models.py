"""The two-layer CNN as real PyTorch layers, and its training loss ``P(U, v)``.

``conv(k, stride, padding, bias) -> ReLU | soft-threshold -> 1x1 conv (no bias)``,
optionally plus the input's centre pixel (residual) and followed by a readout
(identity, or sum/mean over positions = average pooling). On the same images
its output equals ``R f(Y)`` of the patch matrix ``Y`` built by
:func:`cvxcnn.patches.extract_patches` with the same geometry: the padding is
applied explicitly with the patch matrix's (before, after) pairs (``"same"``
pads ``(k - 1) // 2`` before), and filter ``j`` flattened in C order (then its
bias) is row ``u_j`` of ``U``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cvxcnn.losses import AbsoluteLoss, HuberLoss, LogisticLoss, Loss, SquaredLoss
from cvxcnn.networks import ReluNetwork
from cvxcnn.patches import READOUTS, PatchGeometry
from cvxcnn.soft_threshold.network import STNetwork
from cvxcnn.vector.network import VectorReluNetwork
from cvxcnn.vector_output import ChromaLoss

ACTIVATIONS = ("relu", "st")
INITS = ("kaiming_uniform", "normal")


def soft_threshold(a: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """``tau_t(a) = sign(a) * max(|a| - t, 0)``, elementwise (``t`` broadcasts)."""
    return torch.sign(a) * torch.relu(a.abs() - t)


def torch_loss(
    loss: Loss | ChromaLoss, prediction: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """The value of a :class:`cvxcnn.losses.Loss` in torch (summed, never averaged).

    Parameters
    ----------
    loss : Loss or ChromaLoss
        Squared (``1/2 ||p - x||^2``), absolute, Huber or logistic; or the
        chroma-augmented loss of vector outputs (channel axis 1).
    prediction, target : Tensor of the same shape

    Returns
    -------
    Tensor
        0-d; equals ``loss.value(prediction, target)`` (for ``ChromaLoss``,
        with the channel axis moved last and the rest flattened).
    """
    if isinstance(loss, ChromaLoss):
        r = prediction - target
        fit = 0.5 * (r * r).sum()
        if loss.gamma == 0:
            return fit
        norms = torch.linalg.vector_norm(target, dim=1) - torch.linalg.vector_norm(
            prediction, dim=1
        )
        return fit + loss.gamma * (norms * norms).sum()
    if isinstance(loss, SquaredLoss):
        r = prediction - target
        return 0.5 * (r * r).sum()
    if isinstance(loss, AbsoluteLoss):
        return (prediction - target).abs().sum()
    if isinstance(loss, HuberLoss):
        a = (prediction - target).abs()
        quad = a.clamp(max=loss.delta)
        return (0.5 * quad * quad + loss.delta * (a - quad)).sum()
    if isinstance(loss, LogisticLoss):
        z = -target * prediction
        return torch.logaddexp(torch.zeros_like(z), z).sum()
    raise ValueError(
        f"the PyTorch trainer supports the squared, absolute, huber and logistic losses; "
        f"got {loss!r}"
    )


class TwoLayerCNN(nn.Module):
    """Two-layer CNN with the geometry of a patch matrix.

    Parameters
    ----------
    geometry : PatchGeometry
        Kernel, stride, padding, bias and input channels (e.g.
        ``make_problem(...).geometry``); ``spatial_dims`` 1 gives ``Conv1d``,
        2 gives ``Conv2d``.
    n_neurons : int
        Hidden channels ``m``.
    activation : {"relu", "st"}
    threshold : float
        Soft-threshold ``lambda >= 0`` (``"st"`` only): the fixed threshold, or
        the initial value of the learnable ones.
    learn_threshold : bool
        ``"st"`` only: one learnable threshold per neuron, kept >= 0 by
        :meth:`project_` (the trainer calls it after every step); not penalized.
    residual : bool
        Add the input's value at each patch centre to the output (single
        channel, identity readout), as :func:`cvxcnn.patches.centre_values`.
    readout : {"identity", "sum", "mean"}
        ``sum``/``mean`` pool the outputs of each image to one scalar.
    out_channels : int
        Output channels ``c`` of the 1x1 convolution (vector outputs, ReLU only;
        default 1). With ``c > 1`` the outputs below gain a channel axis 1.
    dtype : torch.dtype
    device : torch.device or str, optional

    Notes
    -----
    Input ``x`` is ``(N, C, *spatial)`` (``(N, *spatial)`` when ``C = 1``).
    :meth:`readout_output` returns ``R f(Y)``: ``(N, *output_shape)`` for the
    identity readout, ``(N,)`` otherwise; :meth:`forward` adds the residual.
    """

    def __init__(
        self,
        geometry: PatchGeometry,
        n_neurons: int,
        *,
        activation: str = "relu",
        threshold: float = 0.0,
        learn_threshold: bool = False,
        residual: bool = False,
        readout: str = "identity",
        out_channels: int = 1,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(geometry, PatchGeometry):
            raise TypeError(f"geometry must be a PatchGeometry; got {type(geometry).__name__}")
        if isinstance(n_neurons, bool) or not isinstance(n_neurons, (int, np.integer)):
            raise TypeError(f"n_neurons must be an integer; got {n_neurons!r}")
        if n_neurons < 1:
            raise ValueError(f"n_neurons must be >= 1; got {n_neurons}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}; got {activation!r}")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}; got {readout!r}")
        threshold = float(threshold)
        if not math.isfinite(threshold) or threshold < 0:
            raise ValueError(f"threshold must be finite and >= 0; got {threshold!r}")
        if learn_threshold and activation != "st":
            raise ValueError("learn_threshold=True needs activation='st'")
        if isinstance(out_channels, bool) or not isinstance(out_channels, (int, np.integer)):
            raise TypeError(f"out_channels must be an integer; got {out_channels!r}")
        if out_channels < 1:
            raise ValueError(f"out_channels must be >= 1; got {out_channels}")
        if out_channels > 1 and (activation != "relu" or residual):
            raise ValueError(
                "out_channels > 1 (vector outputs) needs activation='relu' and residual=False; "
                f"got activation={activation!r}, residual={residual}"
            )
        if residual and (readout != "identity" or geometry.in_channels != 1):
            raise ValueError(
                "residual=True needs readout='identity' and single-channel inputs; got "
                f"readout={readout!r}, {geometry.in_channels} channels"
            )
        self.geometry = geometry
        self.n_neurons = int(n_neurons)
        self.activation = activation
        self.learn_threshold = bool(learn_threshold)
        self.residual = bool(residual)
        self.readout = readout
        self.out_channels = int(out_channels)
        conv = nn.Conv1d if geometry.spatial_dims == 1 else nn.Conv2d
        kw = {"dtype": dtype, "device": device}
        self.conv1 = conv(
            geometry.in_channels,
            self.n_neurons,
            kernel_size=geometry.kernel_size,
            stride=geometry.stride,
            padding=0,
            bias=geometry.bias,
            **kw,
        )
        self.conv2 = conv(self.n_neurons, self.out_channels, kernel_size=1, bias=False, **kw)
        if activation == "st":
            t = torch.full((self.n_neurons,), threshold, **kw)
            if self.learn_threshold:
                self.threshold = nn.Parameter(t)
            else:
                self.register_buffer("threshold", t)
        else:
            self.threshold = None
        # F.pad takes (before, after) pairs from the last axis backwards
        self._pad = tuple(p for pair in reversed(geometry.padding) for p in pair)

    # ------------------------------------------------------------------ #
    # forward pass
    # ------------------------------------------------------------------ #
    def _batch(self, x: torch.Tensor) -> torch.Tensor:
        dims = self.geometry.spatial_dims
        if x.ndim == dims + 1:
            x = x.unsqueeze(1)
        if x.ndim != dims + 2 or x.shape[1] != self.geometry.in_channels:
            raise ValueError(
                f"input must be (N, {self.geometry.in_channels}, *spatial) with {dims} spatial "
                f"axes (or (N, *spatial) for one channel); got shape {tuple(x.shape)}"
            )
        return x

    def _activate(self, a: torch.Tensor) -> torch.Tensor:
        if self.activation == "relu":
            return torch.relu(a)
        t = self.threshold.view(1, -1, *([1] * self.geometry.spatial_dims))
        return soft_threshold(a, t)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden activations ``f(conv(x))``, shape ``(N, m, *output_shape)``."""
        x = self._batch(x)
        return self._activate(self.conv1(F.pad(x, self._pad)))

    def patch_output(self, x: torch.Tensor) -> torch.Tensor:
        """``f(Y)`` per output position, shape ``(N, *output_shape)`` (no residual);
        ``(N, c, *output_shape)`` for vector outputs."""
        out = self.conv2(self.hidden(x))
        return out[:, 0] if self.out_channels == 1 else out

    def readout_output(self, x: torch.Tensor) -> torch.Tensor:
        """``R f(Y)``: ``(N, *output_shape)`` (identity) or ``(N,)`` (sum, mean);
        with vector outputs ``(N, c, *output_shape)`` or ``(N, c)``."""
        out = self.patch_output(x)
        if self.readout == "identity":
            return out
        pooled = out.flatten(out.ndim - self.geometry.spatial_dims)
        return pooled.sum(dim=-1) if self.readout == "sum" else pooled.mean(dim=-1)

    def centre_values(self, x: torch.Tensor) -> torch.Tensor:
        """Input value at every patch centre, ``(N, *output_shape)`` (0 in the padding)."""
        x = self._batch(x)
        padded = F.pad(x, self._pad)[:, 0]
        g = self.geometry
        index = (slice(None),) + tuple(
            slice(c, c + s * (o - 1) + 1, s)
            for c, s, o in zip(g.centre_offset(), g.stride, g.output_shape, strict=True)
        )
        return padded[index]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions: ``R f(Y)``, plus the centre pixels for a residual network."""
        out = self.readout_output(x)
        if self.residual:
            out = out + self.centre_values(x)
        return out

    # ------------------------------------------------------------------ #
    # weights in patch-matrix form
    # ------------------------------------------------------------------ #
    def filters(self) -> torch.Tensor:
        """``U`` (m, d): each filter flattened in C order (channel, kernel axes), bias last."""
        U = self.conv1.weight.reshape(self.n_neurons, -1)
        if self.conv1.bias is not None:
            U = torch.cat([U, self.conv1.bias[:, None]], dim=1)
        return U

    def second_layer(self) -> torch.Tensor:
        """``v`` (m,): the 1x1 convolution's weights; ``W`` (m, c) for vector outputs."""
        if self.out_channels == 1:
            return self.conv2.weight.reshape(self.n_neurons)
        return self.conv2.weight.reshape(self.out_channels, self.n_neurons).T

    def penalty(self) -> torch.Tensor:
        """``1/2 sum_j (||u_j||^2 + v_j^2)`` (bias included, thresholds excluded), 0-d."""
        total = self.conv1.weight.square().sum() + self.conv2.weight.square().sum()
        if self.conv1.bias is not None:
            total = total + self.conv1.bias.square().sum()
        return 0.5 * total

    @torch.no_grad()
    def project_(self) -> None:
        """Keep learnable thresholds nonnegative (projection onto ``t >= 0``)."""
        if self.learn_threshold:
            self.threshold.clamp_(min=0.0)

    @torch.no_grad()
    def reset_parameters_(
        self,
        init: str = "kaiming_uniform",
        std: float = 1e-3,
        generator: torch.Generator | None = None,
    ) -> None:
        """Draw the weights on the CPU from ``generator`` (so a seed gives the same
        weights on every device), then copy them in.

        Parameters
        ----------
        init : {"kaiming_uniform", "normal"}
            ``kaiming_uniform``: torch's default for convolutions, ``U(-1/sqrt(fan_in),
            1/sqrt(fan_in))`` for weights and biases (``fan_in = C * prod(k)`` for the
            first layer, ``m`` for the second). ``normal``: every weight, bias included,
            ``N(0, std^2)``.
        std : float
            Standard deviation for ``normal``.
        generator : torch.Generator, optional
            A CPU generator; torch's global one when omitted.
        """
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}; got {init!r}")
        std = float(std)
        if init == "normal" and not (math.isfinite(std) and std > 0):
            raise ValueError(f"init_std must be finite and > 0; got {std!r}")
        fan_in1 = self.geometry.in_channels * math.prod(self.geometry.kernel_size)
        params = [(self.conv1.weight, fan_in1), (self.conv2.weight, self.n_neurons)]
        if self.conv1.bias is not None:
            params.insert(1, (self.conv1.bias, fan_in1))
        for p, fan_in in params:
            draw = torch.empty(p.shape, dtype=p.dtype, device="cpu")
            if init == "normal":
                draw.normal_(0.0, std, generator=generator)
            else:
                bound = 1.0 / math.sqrt(fan_in)
                draw.uniform_(-bound, bound, generator=generator)
            p.copy_(draw)

    @torch.no_grad()
    def set_weights_(
        self, U: np.ndarray, v: np.ndarray, t: np.ndarray | float | None = None
    ) -> None:
        """Load patch-matrix weights ``U`` (m, d), ``v`` (m,) and thresholds ``t`` (m,);
        for vector outputs ``v`` is ``W`` (m, c)."""
        U = np.asarray(U, dtype=np.float64)
        given = np.asarray(v, dtype=np.float64)
        d, c = self.geometry.d, self.out_channels
        v = given.reshape(-1) if c == 1 else given
        want = (self.n_neurons,) if c == 1 else (self.n_neurons, c)
        if U.shape != (self.n_neurons, d) or v.shape != want:
            second = f"v {want}" if c == 1 else f"W {want}"
            raise ValueError(
                f"weights must be U ({self.n_neurons}, {d}) and {second} for this model; "
                f"got U {U.shape}, second layer {given.shape}"
            )
        v = v if c == 1 else v.T  # conv2 stores (c, m)
        w = self.conv1.weight
        kw = {"dtype": w.dtype, "device": w.device}
        k = d - int(self.geometry.bias)
        w.copy_(torch.as_tensor(U[:, :k], **kw).reshape(w.shape))
        if self.conv1.bias is not None:
            self.conv1.bias.copy_(torch.as_tensor(U[:, k], **kw))
        self.conv2.weight.copy_(torch.as_tensor(v, **kw).reshape(self.conv2.weight.shape))
        if t is not None:
            if self.threshold is None:
                raise ValueError("thresholds t given for a ReLU model")
            t = np.array(np.broadcast_to(np.asarray(t, dtype=np.float64), (self.n_neurons,)))
            if np.any(t < 0):
                raise ValueError("thresholds t must be >= 0")
            self.threshold.copy_(torch.as_tensor(t, **kw))

    @torch.no_grad()
    def to_network(self) -> ReluNetwork | STNetwork | VectorReluNetwork:
        """The weights as a float64 NumPy network (``U`` rows ordered like patch rows)."""
        U = self.filters().detach().to("cpu", torch.float64).numpy().copy()
        v = self.second_layer().detach().to("cpu", torch.float64).numpy().copy()
        if self.out_channels > 1:
            return VectorReluNetwork(U.T, v)  # cvxcnn.vector keeps filters as columns
        if self.activation == "relu":
            return ReluNetwork(U, v)
        t = self.threshold.detach().clamp(min=0.0).to("cpu", torch.float64).numpy().copy()
        return STNetwork(U=U, thresholds=t, v=v)


def primal_loss(
    model: TwoLayerCNN,
    inputs: torch.Tensor,
    target: torch.Tensor,
    beta: float,
    loss: Loss | ChromaLoss,
    *,
    scale: float = 1.0,
) -> torch.Tensor:
    """``scale * L(R f(Y), x) + beta/2 * sum_j (||u_j||^2 + v_j^2)``.

    With ``scale = 1`` and all images this is ``P(U, v)`` of
    :func:`cvxcnn.networks.primal_objective`; a mini-batch of ``B`` of ``N``
    images uses ``scale = N / B`` (an unbiased estimate of ``P``).

    Parameters
    ----------
    model : TwoLayerCNN
    inputs : Tensor of shape (B, C, *spatial)
    target : Tensor
        ``x`` for these images (the residual already subtracted), shaped like
        ``model.readout_output(inputs)``.
    beta : float
    loss : Loss or ChromaLoss
    scale : float

    Returns
    -------
    Tensor
        0-d.
    """
    fit = torch_loss(loss, model.readout_output(inputs), target)
    return scale * fit + beta * model.penalty()
