r"""Ranking-based attention: the attention map (Eq. 8), its use on ``xL`` and the loss of Eq. 9.

The ConvLSTM's hidden state :math:`h_t` (:mod:`rankatt_lib.components.convlstm`) is the attention kernel.
Correlated with the small-scale features it gives the attention map (Eq. 8)

.. math::
    m_t = h_t * x^S_t, \qquad m_t \in \mathbb{R}^{H/8 \times W/8},

which the paper upsamples and multiplies channel-wise into the large-scale features :math:`x^L_t`
"with a residual connection" (§2.1, Fig. 2). How exactly is left open; our reading
(book appendix, reading-method), :func:`apply_attention`:

.. math::
    \tilde x^L_t = x^L_t \odot (1 + a(\mathrm{up}(m_t))), \qquad
    a(m) = \frac{\mathrm{relu}(m)}{\max \mathrm{relu}(m)} \in [0, 1],

with the normalisation :math:`a` per sample (:func:`normalise_attention`). The variant is a
switch for the ablation chapter (:data:`ATTENTION_VARIANTS`): ``"residual"`` (the above, the
default), ``"multiply"`` (:math:`x^L \odot a`, no residual: background features are zeroed) and
``"none"`` (:math:`x^L` unchanged).

Upsampling (:func:`upsample_attention`): by default the map is resampled on the backbone's cell
geometry (``"cells"``), not stretched to the new size. Cell ``i`` of ``conv4_3`` (stride 8) is
centred on pixel ``8i + 3.5`` and cell ``j`` of ``conv3_3`` (stride 4) on ``4j + 1.5``
(:func:`rankatt_lib.features.vgg16.cell_centre`), so ``conv3_3`` cell ``j`` sits at ``conv4_3``
coordinate ``j / 2 - 1/4``: exactly bilinear upsampling by a factor 2 with
``align_corners=False``, values clamped at the border. A 31 x 31 map therefore becomes 62 x 62
plus one clamped row/column to reach ``conv3_3``'s 63 x 63 (and 32 -> 64 in ``ceil_mode``).
``"resize"`` is plain ``F.interpolate(size=...)`` (stretches 31 -> 63 by 63/31, off by up to
half a ``conv4_3`` cell at the far border).

Offline training loss (Eq. 9), :func:`ranking_loss`:

.. math::
    L(h_t) = \frac{1}{\frac{H}{8} \times \frac{W}{8}} \sum_{h, w} (h_t * x^S_t - y^S_t)^2
        + \lambda_1 \|h_t\|^2, \qquad \lambda_1 = 10^{-10}.

":math:`*`" is cross-correlation with "same" padding throughout (:func:`rankatt_lib.components.pnr.response`).
Nothing here synchronises with the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F

from rankatt_lib.components.pnr import response

__all__ = [
    "ATTENTION_VARIANTS",
    "AttentionConfig",
    "AttentionVariant",
    "UpsampleMode",
    "apply_attention",
    "attention_map",
    "normalise_attention",
    "ranking_loss",
    "upsample_attention",
]

AttentionVariant = Literal["residual", "multiply", "none"]
#: The attention variants of :func:`apply_attention` (the ablation switch).
ATTENTION_VARIANTS: tuple[str, ...] = get_args(AttentionVariant)
UpsampleMode = Literal["cells", "resize"]
_UPSAMPLE_MODES: tuple[str, ...] = get_args(UpsampleMode)

#: Guard of :func:`normalise_attention`: a map whose positive part peaks at or below this is all 0.
DEFAULT_ATTENTION_EPS = 1e-12


@dataclass(frozen=True)
class AttentionConfig:
    """How the attention map is applied to ``xL`` (the switches of :func:`apply_attention`).

    Attributes:
        variant: ``"residual"`` (paper's reading: ``xL * (1 + a)``), ``"multiply"`` (``xL * a``)
            or ``"none"`` (``xL``).
        upsample: ``"cells"`` (on the backbone's cell geometry, default) or ``"resize"``.
        ratio: stride of ``xS`` over stride of ``xL`` (``conv4_3`` 8 / ``conv3_3`` 4 = 2).
        eps: guard of :func:`normalise_attention`.
    """

    variant: AttentionVariant = "residual"
    upsample: UpsampleMode = "cells"
    ratio: int = 2
    eps: float = DEFAULT_ATTENTION_EPS

    def __post_init__(self) -> None:
        if self.variant not in ATTENTION_VARIANTS:
            raise ValueError(f"variant must be one of {ATTENTION_VARIANTS}, got {self.variant!r}")
        if self.upsample not in _UPSAMPLE_MODES:
            raise ValueError(f"upsample must be one of {_UPSAMPLE_MODES}, got {self.upsample!r}")
        if self.ratio < 1:
            raise ValueError(f"ratio must be a positive int, got {self.ratio}")


def attention_map(h: torch.Tensor, xS: torch.Tensor) -> torch.Tensor:
    r"""Eq. 8: :math:`m_t = h_t * x^S_t` (cross-correlation, "same" padding).

    Args:
        h: ``(1, C, k, k)`` one attention kernel for every sample (tracking: one kernel, a batch
            of scales), or ``(B, C, k, k)`` one kernel per sample (offline training on a batch of
            sequences; a grouped convolution pairs ``h[b]`` with ``xS[b]``).
        xS: ``(B, C, H, W)`` small-scale features (``(B, 512, 31, 31)`` for 255 px patches).

    Returns:
        ``(B, 1, H, W)`` attention maps.
    """
    if h.ndim != 4 or xS.ndim != 4 or h.shape[1] != xS.shape[1] or h.shape[0] not in (1, xS.shape[0]):
        raise ValueError(
            f"expected h (1, C, k, k) or (B, C, k, k) and xS (B, C, H, W) with the same C; "
            f"got h {tuple(h.shape)} and xS {tuple(xS.shape)}"
        )
    if h.shape[0] == 1:
        return response(h, xS)
    b, c, hh, ww = xS.shape
    out = F.conv2d(xS.reshape(1, b * c, hh, ww), h.to(xS.dtype), padding="same", groups=b)
    return out.reshape(b, 1, hh, ww)


def normalise_attention(m: torch.Tensor, eps: float = DEFAULT_ATTENTION_EPS) -> torch.Tensor:
    r""":math:`a(m) = \mathrm{relu}(m) / \max \mathrm{relu}(m)`, per sample, in [0, 1].

    The maximum is over the last two dimensions. Guard: where that maximum is ``<= eps`` (an
    all-zero or all-negative map) the result is all 0 — no attention, so the residual variant
    leaves ``xL`` unchanged — never NaN.

    Args:
        m: ``(..., H, W)`` attention maps (e.g. ``(B, 1, H, W)``).

    Returns:
        Same shape, values in [0, 1]; each map with a positive peak reaches exactly 1 there.
    """
    if m.ndim < 2:
        raise ValueError(f"m must be (..., H, W), got shape {tuple(m.shape)}")
    r = F.relu(m)
    mx = r.amax(dim=(-2, -1), keepdim=True)
    ok = mx > eps
    return torch.where(ok, r / torch.where(ok, mx, torch.ones_like(mx)), torch.zeros_like(r))


def upsample_attention(
    m: torch.Tensor, size: tuple[int, int], mode: UpsampleMode = "cells", ratio: int = 2
) -> torch.Tensor:
    r"""Bilinear upsampling of attention maps ``(B, 1, h, w)`` to ``size = (H', W')``.

    ``"cells"`` (default): output cell ``j`` samples input coordinate ``(j + 1/2) / ratio - 1/2``
    (``j / 2 - 1/4`` for ratio 2, the ``conv3_3`` -> ``conv4_3`` cell correspondence), clamped at
    the border; implemented as replicate padding to ``ceil(H' / ratio)`` rows/columns,
    ``F.interpolate(scale_factor=ratio, align_corners=False)`` and a crop to ``size``.
    ``"resize"``: ``F.interpolate(size=size, align_corners=False)``.

    Returns:
        ``(B, 1, H', W')``.
    """
    if m.ndim != 4:
        raise ValueError(f"m must be (B, 1, h, w), got shape {tuple(m.shape)}")
    if mode not in _UPSAMPLE_MODES:
        raise ValueError(f"mode must be one of {_UPSAMPLE_MODES}, got {mode!r}")
    out_h, out_w = int(size[0]), int(size[1])
    h, w = m.shape[-2:]
    if mode == "resize" or ratio == 1:
        if (out_h, out_w) == (h, w):
            return m
        return F.interpolate(m, size=(out_h, out_w), mode="bilinear", align_corners=False)
    need_h, need_w = -(-out_h // ratio), -(-out_w // ratio)
    if need_h > h or need_w > w:
        m = F.pad(m, (0, max(need_w - w, 0), 0, max(need_h - h, 0)), mode="replicate")
    up = F.interpolate(m, scale_factor=float(ratio), mode="bilinear", align_corners=False)
    return up[..., :out_h, :out_w]


def apply_attention(
    xL: torch.Tensor,
    m: torch.Tensor,
    variant: AttentionVariant = "residual",
    *,
    config: AttentionConfig | None = None,
) -> torch.Tensor:
    r"""Multiply the upsampled, normalised attention map into ``xL`` channel-wise (§2.1, Fig. 2).

    :math:`a = a(\mathrm{up}(m))` (:func:`upsample_attention` then :func:`normalise_attention`),
    then

    * ``"residual"``: :math:`\tilde x^L = x^L \odot (1 + a)` — unchanged where :math:`a = 0`,
      doubled at the peak of the map;
    * ``"multiply"``: :math:`\tilde x^L = x^L \odot a`;
    * ``"none"``: :math:`\tilde x^L = x^L` (the map is not even upsampled).

    Args:
        xL: ``(B, C, H4, W4)`` large-scale features (``(B, 256, 63, 63)`` for 255 px patches).
        m: ``(B, 1, H8, W8)`` or ``(1, 1, H8, W8)`` (broadcast) attention maps from
            :func:`attention_map`.
        variant: see above; ignored when ``config`` is given.
        config: all switches at once (overrides ``variant``).

    Returns:
        ``(B, C, H4, W4)`` :math:`\tilde x^L`.
    """
    cfg = config if config is not None else AttentionConfig(variant=variant)
    if xL.ndim != 4:
        raise ValueError(f"xL must be (B, C, H4, W4), got shape {tuple(xL.shape)}")
    if m.ndim != 4 or m.shape[1] != 1 or m.shape[0] not in (1, xL.shape[0]):
        raise ValueError(
            f"m must be (B, 1, H8, W8) or (1, 1, H8, W8) with B = {xL.shape[0]} (xL's batch), "
            f"got shape {tuple(m.shape)}"
        )
    if cfg.variant == "none":
        return xL
    a = normalise_attention(upsample_attention(m.to(xL.dtype), tuple(xL.shape[-2:]), cfg.upsample, cfg.ratio), cfg.eps)
    if cfg.variant == "residual":
        return xL * (1 + a)
    return xL * a


def ranking_loss(
    h: torch.Tensor,
    xS: torch.Tensor,
    yS: torch.Tensor,
    lam1: float = 1e-10,
    reduction: Literal["mean", "none"] = "mean",
) -> torch.Tensor:
    r"""Eq. 9: :math:`\frac{1}{(H/8)(W/8)} \sum_{h,w} (h_t * x^S_t - y^S_t)^2 + \lambda_1 \|h_t\|^2`.

    Per sample ``b``: the mean over the ``H8 x W8`` positions of the squared error between the
    attention map :math:`h * x^S_b` (:func:`attention_map`) and the Gaussian label
    :math:`y^S_b`, plus :math:`\lambda_1` times the squared Frobenius norm of the sample's
    kernel (``h[b]``, or the shared ``h[0]``).

    Args:
        h: ``(1, C, k, k)`` or ``(B, C, k, k)`` attention kernels :math:`h_t`.
        xS: ``(B, C, H8, W8)`` features.
        yS: ``(B, H8, W8)``, ``(B, 1, H8, W8)`` or ``(H8, W8)`` (shared) labels.
        lam1: :math:`\lambda_1` (paper: :math:`10^{-10}`).
        reduction: ``"mean"`` over the batch (a scalar) or ``"none"`` (``(B,)``).

    Returns:
        ``()`` or ``(B,)`` loss.
    """
    m = attention_map(h, xS)[:, 0]  # (B, H8, W8)
    if yS.ndim == 4 and yS.shape[1] == 1:
        yS = yS[:, 0]
    if yS.ndim == 2:
        yS = yS.unsqueeze(0)
    if yS.ndim != 3 or yS.shape[-2:] != m.shape[-2:] or yS.shape[0] not in (1, m.shape[0]):
        raise ValueError(
            f"yS must be (B, H8, W8), (B, 1, H8, W8) or (H8, W8) with (B, H8, W8) = {tuple(m.shape)}, "
            f"got shape {tuple(yS.shape)}"
        )
    data = (m - yS.to(m.dtype)).square().mean(dim=(-2, -1))  # (B,)
    reg = h.square().sum(dim=(1, 2, 3))  # (1,) or (B,)
    loss = data + lam1 * reg
    if reduction == "none":
        return loss
    if reduction != "mean":
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    return loss.mean()
