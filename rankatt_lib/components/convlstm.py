r"""PreNet (Eq. 7) and the ConvLSTM cell (Eq. 6) that update the ranking, wired by :class:`RankingUpdater`.

Each frame (paper §2.1, Fig. 1 and Fig. 4):

.. math::
    x^{pre}_t = \mathrm{PreNet}(c^{(1st)}_t, x^S_t) \in \mathbb{R}^{11 \times 11 \times 512}
        \quad (7) \qquad
    (h_t, c^{(Nth)}_t) = \mathrm{ConvLSTM}(h_{t-1}, c^{(1st)}_t, x^{pre}_t) \quad (6)

The cell state that goes *in* is the best kernel :math:`c^{(1st)}_t`, the cell state that comes
*out* replaces the worst kernel, and the hidden state :math:`h_t` is the attention kernel of
Eq. 8 (:mod:`rankatt_lib.components.attention`). :class:`RankingUpdater` runs Eq. 1-7 in one call.

PreNet (our design; the paper only says "a pre-trained 2-layers CNN, to downsample the
:math:`x^S_t` and match the size of :math:`h_{t-1}`"), :class:`PreNet`:

1. locate the target with the best kernel: :math:`r = c^{(1st)}_t * x^S_t` (the ranking already
   computed it; pass it in to save a correlation) and :math:`a = \mathrm{relu}(r) / \max` in
   [0, 1] (:func:`rankatt_lib.components.attention.normalise_attention`);
2. focus and normalise the features: :math:`z = (x^S / \mathrm{rms}(x^S)) \odot a` — the
   features where the best kernel fires, at unit scale whatever the backbone's scale;
3. layer 1: 1 x 1 conv 512 -> 64 + ReLU (on the full ``H8 x W8`` map, cheap);
4. adaptive average pooling to the kernel's size (11 x 11);
5. layer 2: 3 x 3 conv 64 -> 512 (padding 1): :math:`x^{pre}_t`, ``(B, 512, 11, 11)``.

About 0.33 M parameters. Alternatives we did not take: concatenating pooled :math:`x^S` with
:math:`c^{(1st)}` (doubles the first layer for information the cell already has), and a
differentiable crop of the 11 x 11 window around the response peak (keeps the kernel's
geometry, but is not "a 2-layer CNN").

ConvLSTM cell, :class:`ConvLSTMCell` (the ConvLSTM of Shi et al. 2015 without peepholes; the
paper's Fig. 4 follows its reference [9]):

.. math::
    i &= \sigma(W_{xi} * x + W_{hi} * h_{t-1} + b_i), &
    f &= \sigma(W_{xf} * x + W_{hf} * h_{t-1} + b_f), \\
    o &= \sigma(W_{xo} * x + W_{ho} * h_{t-1} + b_o), &
    g &= \tanh(W_{xg} * x + W_{hg} * h_{t-1} + b_g), \\
    c_t &= f \odot c_{t-1} + i \odot g, & h_t &= o \odot \tanh(c_t).

The four gates come from one convolution of the concatenation ``[x, h]`` (512 + 512 channels)
to 4 x 512 channels, split in the order ``i, f, o, g``. Two forms (``gate_conv``):

* ``"separable"`` (default): depthwise k x k on the 1024 channels, then a rank-``rank`` pointwise
  map 1024 -> 256 -> 2048 (two 1 x 1 convs, no non-linearity between: a low-rank 1 x 1). It is
  still a linear convolution of ``[x, h]``, i.e. the same equations with structured weights.
  0.80 M parameters (3.2 MB in fp32) for 3 x 3 and rank 256; ``rank=None`` drops the
  bottleneck (2.1 M, 8.4 MB).
* ``"full"``: one dense k x k conv 1024 -> 2048, 18.9 M parameters (75.5 MB in fp32) for 3 x 3:
  the textbook ConvLSTM, too big to ship in the package.

Kernel scale (``kernel_norm``). The kernels are correlation kernels whose scale is set by the
backbone's feature scale (a kernel fitted by Eq. 9 must turn 11 x 11 x 512 = 61,952 products
with non-negative ``conv4_3`` features into a response peak of 1, so its entries are far below 1),
while the cell's :math:`\tanh` and its candidate :math:`g \in [-1, 1]` live at scale 1.
With ``kernel_norm="max"`` (default) the cell works in normalised units: with
:math:`s = \max |c^{(1st)}_t|` (per sample, detached, 1 where it is 0),

.. math::
    (\tilde h_t, \tilde c_t) = \mathrm{cell}(h_{t-1}/s,\; c^{(1st)}_t/s,\; x^{pre}_t), \qquad
    h_t = s \tilde h_t, \quad c_t = s \tilde c_t,

so the normalised input cell state is in [-1, 1] like :math:`g`, and the outputs come back at the kernels'
scale — which matters because PNR scales with the kernel (:math:`\mathrm{PNR}(a m) = a
\mathrm{PNR}(m)`, :mod:`rankatt_lib.components.pnr`) and Eq. 9's data term needs :math:`h_t * x^S_t \approx
y^S_t`. The cell is then equivariant to the kernels' scale: ``cell(a h, a c, x) = a cell(h, c, x)``
for ``a > 0``. ``kernel_norm="none"`` is the equations as printed (no normalisation; the cell must
then learn the kernels' scale). No other normalisation is applied; :math:`\tanh` bounds
:math:`|h_t| < s`.

New cell state's norm (``cell_norm``). ``kernel_norm`` makes the cell *equivariant* to the
kernels' scale, but nothing keeps that scale from drifting: :math:`\tilde c_t = f \tilde c + i
\tanh g` can exceed the input in norm (with the trained gates it did, by about 24 % a frame),
the new cell state becomes the newest kernel, PNR (Eq. 2) is proportional to a kernel's norm
(:math:`\mathrm{PNR}(a m) = a\, \mathrm{PNR}(m)`), so the newest kernel always ranked first, was
the next frame's :math:`c^{(1st)}`, and grew again: the kernels' norm grew geometrically (x388
in 28 frames) and a few hundred frames overflowed to ``inf``. With ``cell_norm="input"``
(default of :class:`RankingUpdaterConfig`) the new cell state is rescaled to the L2 norm of the
cell state that went in,

.. math::
    c_t \leftarrow c_t \, \frac{\lVert c^{(1st)}_t \rVert_2}{\lVert c_t \rVert_2}, \qquad
    h_t = o \odot \tanh(c_t),

so every kernel of the ranking keeps the norm of :math:`h_0` for the whole sequence, the ranking
compares the kernels' *shapes* (what the paper's scores are meant to compare), and
:math:`|h_t| < \max |c^{(1st)}_t| \le \lVert h_0 \rVert_2` stays bounded. ``cell_norm="none"`` is the
equations as printed (the bare :class:`ConvLSTMCell` defaults to it). This is ours, not the paper's.

Initialisation (what makes an *untrained* cell usable): gate weights small (the last linear map's
std is ``init_gain = 0.1`` over the square root of its fan-in, so each gate's pre-activation
varies by about 0.1 times the RMS of the gate convolution's input), and biases ``b_i = -3``,
``b_f = +3``, ``b_o = +3``, ``b_g = 0``. Then
:math:`i \approx 0.05`, :math:`f \approx 0.95`, :math:`o \approx 0.95`, and

.. math::
    c_t \approx 0.95\, c^{(1st)}_t + 0.05\, g, \qquad h_t \approx 0.95\, s \tanh(c_t / s),

a running average of the best kernel with a learning rate of about 0.05 (the classic correlation
filter update), and an attention kernel that is the best kernel, softly clipped. Training (Eq. 9)
starts from there. Biases, gain and seed are constructor arguments; a seed makes the init
deterministic (it uses its own ``torch.Generator``: the values do not depend on the global RNG).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from rankatt_lib.components.attention import attention_map, normalise_attention
from rankatt_lib.components.ranking import Ranking, RankResult

__all__ = [
    "CELL_NORMS",
    "GATE_CONVS",
    "KERNEL_NORMS",
    "CellNorm",
    "ConvLSTMCell",
    "GateConv",
    "KernelNorm",
    "PreNet",
    "RankingUpdater",
    "RankingUpdaterConfig",
    "StepInfo",
    "fp32_megabytes",
    "parameter_count",
]

GateConv = Literal["separable", "full"]
GATE_CONVS: tuple[str, ...] = get_args(GateConv)
KernelNorm = Literal["max", "none"]
KERNEL_NORMS: tuple[str, ...] = get_args(KernelNorm)
CellNorm = Literal["input", "none"]
CELL_NORMS: tuple[str, ...] = get_args(CellNorm)

_SCALE_EPS = 1e-30


def parameter_count(module: nn.Module) -> int:
    """Number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())


def fp32_megabytes(module: nn.Module) -> float:
    """Size of ``module``'s parameters stored in float32, in MB (10^6 bytes)."""
    return parameter_count(module) * 4 / 1e6


def _generator(seed: int | None) -> torch.Generator | None:
    return None if seed is None else torch.Generator().manual_seed(int(seed))


def _check_device(device: torch.device | str | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    from rankatt_lib import device as library_device

    return library_device()


# ====================================================================================== PreNet


class PreNet(nn.Module):
    r"""Eq. 7: :math:`x^{pre}_t = \mathrm{PreNet}(c^{(1st)}_t, x^S_t)`, ``(B, C, k, k)``.

    See the module docstring for the design (correlate, focus, 1 x 1 conv + ReLU, adaptive
    average pool to ``k x k``, 3 x 3 conv).

    Args:
        channels: ``C``, the channels of ``xS`` and of the kernels (512).
        hidden: channels between the two layers (64).
        eps: guard of the per-sample RMS normalisation of ``xS`` (and of the attention
            normalisation).
        seed: makes the initialisation deterministic (own generator); ``None`` uses the global RNG.
        device: ``None`` -> :func:`rankatt_lib.device`.
        dtype: parameter dtype.
    """

    def __init__(
        self,
        channels: int = 512,
        hidden: int = 64,
        *,
        eps: float = 1e-12,
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.hidden = hidden
        self.eps = eps
        self.conv1 = nn.Conv2d(channels, hidden, kernel_size=1)
        self.conv2 = nn.Conv2d(hidden, channels, kernel_size=3, padding=1)
        self.reset_parameters(_generator(seed))
        self.to(device=_check_device(device), dtype=dtype)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """He-normal first layer (ReLU follows), unit-gain normal second layer, zero biases.

        Parameters must be on the CPU when a ``generator`` (a CPU generator) is given.
        """
        nn.init.normal_(self.conv1.weight, 0.0, (2.0 / self.channels) ** 0.5, generator=generator)
        nn.init.normal_(self.conv2.weight, 0.0, (1.0 / (self.hidden * 9)) ** 0.5, generator=generator)
        nn.init.zeros_(self.conv1.bias)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, c1st: torch.Tensor, xS: torch.Tensor, response: torch.Tensor | None = None) -> torch.Tensor:
        r"""Eq. 7.

        Args:
            c1st: ``(1, C, k, k)`` the best kernel (or ``(B, C, k, k)``, one per sample).
            xS: ``(B, C, H8, W8)`` small-scale features.
            response: optional ``(B, 1, H8, W8)`` precomputed :math:`c^{(1st)} * x^S` (e.g.
                ``RankResult.responses[None, :1]``); computed here when ``None``.

        Returns:
            ``(B, C, k, k)`` :math:`x^{pre}_t`.
        """
        c = self.channels
        if c1st.ndim != 4 or c1st.shape[1] != c or c1st.shape[-1] != c1st.shape[-2]:
            raise ValueError(f"c1st must be (1, {c}, k, k) or (B, {c}, k, k), got shape {tuple(c1st.shape)}")
        if xS.ndim != 4 or xS.shape[1] != c or c1st.shape[0] not in (1, xS.shape[0]):
            raise ValueError(
                f"xS must be (B, {c}, H8, W8) with B = c1st's batch or c1st's batch 1, "
                f"got xS {tuple(xS.shape)} and c1st {tuple(c1st.shape)}"
            )
        b, _, h8, w8 = xS.shape
        if response is None:
            response = attention_map(c1st, xS)
        elif tuple(response.shape) != (b, 1, h8, w8):
            raise ValueError(f"response must be ({b}, 1, {h8}, {w8}), got shape {tuple(response.shape)}")
        a = normalise_attention(response, self.eps)  # (B, 1, H8, W8) in [0, 1]
        rms = xS.square().mean(dim=(1, 2, 3), keepdim=True).sqrt()
        rms = torch.where(rms > self.eps, rms, torch.ones_like(rms))
        z = (xS / rms) * a
        y = F.relu(self.conv1(z))
        y = F.adaptive_avg_pool2d(y, tuple(c1st.shape[-2:]))
        return self.conv2(y)


# ====================================================================================== ConvLSTM


def _norm_ratio(target: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``(B, 1, 1, 1)`` per-sample ``||target|| / ||x||`` (L2); 1 where either norm is ~0."""
    nt = target.flatten(1).norm(dim=1)[:, None, None, None]
    nx = x.flatten(1).norm(dim=1)[:, None, None, None]
    ok = (nt > _SCALE_EPS) & (nx > _SCALE_EPS)
    return torch.where(ok, nt / torch.where(ok, nx, torch.ones_like(nx)), torch.ones_like(nx))


class ConvLSTMCell(nn.Module):
    r"""Eq. 6: :math:`(h_t, c_t) = \mathrm{ConvLSTM}(h_{t-1}, c_{t-1}, x_t)`, one step.

    In the tracker :math:`c_{t-1} = c^{(1st)}_t` (the best kernel), :math:`x_t = x^{pre}_t`
    (PreNet's output), and the new :math:`c_t` replaces the worst kernel. See the module docstring
    for the gates, ``gate_conv``, ``kernel_norm`` and the initialisation.

    Args:
        channels: ``C``, channels of :math:`h` and :math:`c` (512).
        input_channels: channels of :math:`x` (default ``channels``).
        kernel_size: spatial size of the gate convolution (3; odd).
        gate_conv: ``"separable"`` (default) or ``"full"``.
        rank: bottleneck of the separable pointwise map (256); ``None`` for a full-rank 1 x 1.
        kernel_norm: ``"max"`` (default) or ``"none"``.
        cell_norm: ``"none"`` (default here: Eq. 6 as printed) or ``"input"`` (rescale the new cell
            state to the input cell state's L2 norm; :class:`RankingUpdaterConfig`'s default).
        input_bias, forget_bias, output_bias: initial gate biases (-3, +3, +3; :math:`b_g = 0`).
        init_gain: std of the last gate layer times the square root of its fan-in (0.1).
        seed: deterministic init (own generator); ``None`` uses the global RNG.
        device: ``None`` -> :func:`rankatt_lib.device`.
        dtype: parameter dtype.
    """

    def __init__(
        self,
        channels: int = 512,
        input_channels: int | None = None,
        kernel_size: int = 3,
        *,
        gate_conv: GateConv = "separable",
        rank: int | None = 256,
        kernel_norm: KernelNorm = "max",
        cell_norm: CellNorm = "none",
        input_bias: float = -3.0,
        forget_bias: float = 3.0,
        output_bias: float = 3.0,
        init_gain: float = 0.1,
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if gate_conv not in GATE_CONVS:
            raise ValueError(f"gate_conv must be one of {GATE_CONVS}, got {gate_conv!r}")
        if kernel_norm not in KERNEL_NORMS:
            raise ValueError(f"kernel_norm must be one of {KERNEL_NORMS}, got {kernel_norm!r}")
        if cell_norm not in CELL_NORMS:
            raise ValueError(f"cell_norm must be one of {CELL_NORMS}, got {cell_norm!r}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.channels = channels
        self.input_channels = channels if input_channels is None else input_channels
        self.kernel_size = kernel_size
        self.gate_conv = gate_conv
        self.rank = rank
        self.kernel_norm = kernel_norm
        self.cell_norm = cell_norm
        self.gate_biases = (input_bias, forget_bias, output_bias, 0.0)
        self.init_gain = init_gain
        cin, cout, pad = self.input_channels + channels, 4 * channels, kernel_size // 2
        if gate_conv == "full":
            self.gates: nn.Module = nn.Conv2d(cin, cout, kernel_size, padding=pad)
        else:
            layers: list[nn.Module] = [nn.Conv2d(cin, cin, kernel_size, padding=pad, groups=cin, bias=False)]
            if rank is not None:
                layers.append(nn.Conv2d(cin, rank, 1, bias=False))
            layers.append(nn.Conv2d(cin if rank is None else rank, cout, 1))
            self.gates = nn.Sequential(*layers)
        self.reset_parameters(_generator(seed))
        self.to(device=_check_device(device), dtype=dtype)

    @property
    def last_gate_layer(self) -> nn.Conv2d:
        """The conv that outputs the 4 x C gate pre-activations (holds the gate biases)."""
        return self.gates if isinstance(self.gates, nn.Conv2d) else self.gates[-1]  # type: ignore[return-value]

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """The initialisation of the module docstring (CPU parameters when a generator is given)."""
        if isinstance(self.gates, nn.Sequential):
            for layer in self.gates[:-1]:
                fan_in = layer.weight[0].numel()  # depthwise: k*k, pointwise: in channels
                nn.init.normal_(layer.weight, 0.0, fan_in**-0.5, generator=generator)
        last = self.last_gate_layer
        nn.init.normal_(last.weight, 0.0, self.init_gain * last.weight[0].numel() ** -0.5, generator=generator)
        c = self.channels
        for k, value in enumerate(self.gate_biases):
            last.bias[k * c : (k + 1) * c] = value

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, input_channels={self.input_channels}, kernel_size={self.kernel_size}, "
            f"gate_conv={self.gate_conv!r}, rank={self.rank}, kernel_norm={self.kernel_norm!r}, "
            f"cell_norm={self.cell_norm!r}"
        )

    def gate_preactivations(self, h_prev: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        r"""``(B, 4C, k, k)``: :math:`W_x * x + W_h * h + b` for the gates ``i, f, o, g`` (in order)."""
        return self.gates(torch.cat([x, h_prev], dim=1))

    def _check(self, h_prev: torch.Tensor, c_prev: torch.Tensor, x: torch.Tensor) -> None:
        c, cx = self.channels, self.input_channels
        if c_prev.ndim != 4 or c_prev.shape[1] != c:
            raise ValueError(f"c_prev must be (B, {c}, k, k), got shape {tuple(c_prev.shape)}")
        b, _, kh, kw = c_prev.shape
        if tuple(h_prev.shape) != (b, c, kh, kw):
            raise ValueError(f"h_prev must be ({b}, {c}, {kh}, {kw}) like c_prev, got shape {tuple(h_prev.shape)}")
        if tuple(x.shape) != (b, cx, kh, kw):
            raise ValueError(f"x must be ({b}, {cx}, {kh}, {kw}), got shape {tuple(x.shape)}")

    def forward(self, h_prev: torch.Tensor, c_prev: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Eq. 6, one step.

        Args:
            h_prev: ``(B, C, k, k)`` :math:`h_{t-1}` (the previous attention kernel).
            c_prev: ``(B, C, k, k)`` :math:`c_{t-1}` (:math:`c^{(1st)}_t` in the tracker).
            x: ``(B, C_x, k, k)`` :math:`x_t` (:math:`x^{pre}_t`).

        Returns:
            ``(h_t, c_t)``, both ``(B, C, k, k)``, at the scale of ``c_prev`` (with
            ``cell_norm="input"``, ``c_t`` has ``c_prev``'s L2 norm per sample).
        """
        self._check(h_prev, c_prev, x)
        scale = None
        if self.kernel_norm == "max":
            scale = c_prev.detach().abs().amax(dim=(1, 2, 3), keepdim=True)
            scale = torch.where(scale > _SCALE_EPS, scale, torch.ones_like(scale))
            h_prev, c_prev = h_prev / scale, c_prev / scale
        i, f, o, g = self.gate_preactivations(h_prev, x).chunk(4, dim=1)
        c_t = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
        if self.cell_norm == "input":
            c_t = c_t * _norm_ratio(c_prev, c_t)
        h_t = torch.sigmoid(o) * torch.tanh(c_t)
        if scale is not None:
            h_t, c_t = h_t * scale, c_t * scale
        return h_t, c_t


# ====================================================================================== wiring


@dataclass(frozen=True)
class RankingUpdaterConfig:
    """Every number of :class:`RankingUpdater` (PreNet + ConvLSTM); stored in checkpoints."""

    channels: int = 512
    prenet_hidden: int = 64
    kernel_size: int = 3
    gate_conv: GateConv = "separable"
    rank: int | None = 256
    kernel_norm: KernelNorm = "max"
    cell_norm: CellNorm = "input"
    input_bias: float = -3.0
    forget_bias: float = 3.0
    output_bias: float = 3.0
    init_gain: float = 0.1


@dataclass(frozen=True)
class StepInfo:
    """What :meth:`RankingUpdater.step` returns beside :math:`h_t` (tensors; no host sync).

    Attributes:
        rank: the :class:`~rankatt_lib.components.ranking.RankResult` of Eq. 1-5 (scores, order, ...).
        x_pre: ``(1, C, k, k)`` PreNet's output (Eq. 7).
        c_new: ``(1, C, k, k)`` the new cell state, now in the ranking's last slot (Eq. 6).
    """

    rank: RankResult
    x_pre: torch.Tensor
    c_new: torch.Tensor = field(repr=False)


_CHECKPOINT_FORMAT = "rankatt-ranking-updater"
_CHECKPOINT_VERSION = 1


class RankingUpdater(nn.Module):
    r"""PreNet + ConvLSTM cell, and the per-frame update of the ranking (Eq. 1-7).

    :meth:`step` (also ``forward``): rank the kernels on :math:`x^S_t` (Eq. 1-5), PreNet on the best
    kernel (Eq. 7, reusing its response), the cell on :math:`(h_{t-1}, c^{(1st)}_t, x^{pre}_t)`
    (Eq. 6), put the new cell state in the worst slot, return :math:`h_t`.

    Args:
        config: the numbers (default: :class:`RankingUpdaterConfig`).
        seed: deterministic init of both parts.
        device, dtype: where the parameters live.
    """

    def __init__(
        self,
        config: RankingUpdaterConfig | None = None,
        *,
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.config = cfg = config if config is not None else RankingUpdaterConfig()
        dev = _check_device(device)
        self.prenet = PreNet(cfg.channels, cfg.prenet_hidden, seed=seed, device=dev, dtype=dtype)
        self.cell = ConvLSTMCell(
            cfg.channels,
            cfg.channels,
            cfg.kernel_size,
            gate_conv=cfg.gate_conv,
            rank=cfg.rank,
            kernel_norm=cfg.kernel_norm,
            cell_norm=cfg.cell_norm,
            input_bias=cfg.input_bias,
            forget_bias=cfg.forget_bias,
            output_bias=cfg.output_bias,
            init_gain=cfg.init_gain,
            seed=None if seed is None else seed + 1,
            device=dev,
            dtype=dtype,
        )

    def parameter_counts(self) -> dict[str, int]:
        """``{"prenet": ..., "cell": ..., "total": ...}``."""
        p, c = parameter_count(self.prenet), parameter_count(self.cell)
        return {"prenet": p, "cell": c, "total": p + c}

    def step(
        self,
        ranking: Ranking,
        h_prev: torch.Tensor | None,
        xS: torch.Tensor,
        *,
        c_prev: torch.Tensor | None = None,
        append: bool = False,
    ) -> tuple[torch.Tensor, StepInfo]:
        r"""One frame of Eq. 1-7; updates ``ranking`` (re-ordered, worst slot replaced).

        Args:
            ranking: the kernels, ``(N, C, k, k)``.
            h_prev: ``(1, C, k, k)`` :math:`h_{t-1}` (:math:`h_0` on the first frame); ``None``
                means :math:`c^{(1st)}_t`.
            xS: ``(1, C, H8, W8)`` features of the chosen search patch.
            c_prev: the cell state that goes into the cell; ``None`` (default, the paper's Eq. 6 as
                printed) = the best kernel :math:`c^{(1st)}_t`. The ``"carried"`` reading
                (:attr:`~rankatt_lib.trackers.rankatt.RankingAttentionConfig.cell_input`) passes
                the previous frame's new cell state, as in the N = 1 offline training
                (:func:`rankatt_lib.training.unroll.unroll`); PreNet still reads :math:`c^{(1st)}_t`.
            append: add the new cell state as a new slot (:meth:`Ranking.append`) instead of
                replacing the worst one (the ``"first_frames"`` initialisation, until N kernels).

        Returns:
            ``(h_t, info)``: the attention kernel ``(1, C, k, k)`` (Eq. 6/8) and a :class:`StepInfo`.
        """
        res = ranking.rank(xS)  # Eq. 1-5
        c1st = res.best
        if h_prev is None:
            h_prev = c1st
        elif tuple(h_prev.shape) != tuple(c1st.shape):
            raise ValueError(f"h_prev must be {tuple(c1st.shape)} like the kernels, got shape {tuple(h_prev.shape)}")
        x_pre = self.prenet(c1st, xS, response=res.responses[None, :1])  # Eq. 7
        c_in = c1st if c_prev is None else c_prev
        if tuple(c_in.shape) != tuple(c1st.shape):
            raise ValueError(f"c_prev must be {tuple(c1st.shape)} like the kernels, got shape {tuple(c_in.shape)}")
        h_t, c_new = self.cell(h_prev, c_in, x_pre)  # Eq. 6
        if append:
            ranking.append(c_new)
        else:
            ranking.replace_worst(c_new)
        return h_t, StepInfo(rank=res, x_pre=x_pre, c_new=c_new)

    forward = step

    # ------------------------------------------------------------------ checkpoints

    def save(self, path: str | os.PathLike[str], dtype: torch.dtype = torch.float16) -> Path:
        """Write config + parameters (stored as ``dtype``; fp16 halves the file) to ``path``."""
        state = {k: v.detach().to("cpu", dtype) for k, v in self.state_dict().items()}
        payload = {
            "format": _CHECKPOINT_FORMAT,
            "version": _CHECKPOINT_VERSION,
            "config": asdict(self.config),
            "state_dict": state,
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> RankingUpdater:
        """Rebuild a :class:`RankingUpdater` written by :meth:`save` (parameters cast to ``dtype``)."""
        payload: Any = torch.load(Path(path), map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != _CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is not a {_CHECKPOINT_FORMAT} checkpoint")
        if payload.get("version") != _CHECKPOINT_VERSION:
            raise ValueError(f"{path}: unsupported checkpoint version {payload.get('version')!r}")
        config = dict(payload["config"])
        # checkpoints written before ``cell_norm`` existed were trained without the rescale
        config.setdefault("cell_norm", "none")
        model = cls(RankingUpdaterConfig(**config), device="cpu", dtype=dtype)
        model.load_state_dict({k: v.to(dtype) for k, v in payload["state_dict"].items()})
        return model.to(_check_device(device))
