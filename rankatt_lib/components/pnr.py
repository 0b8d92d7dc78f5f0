r"""The score function of the ranking: PNR of a kernel's response map (paper Eq. 1-2).

The ranking scores each stored kernel :math:`c^i_t` by how peaked its response on the current
search features is (Eq. 1):

.. math::
    s^i_t = F_{score}(c^i_t, x^S_t) = \mathrm{PNR}(c^i_t * x^S_t),

with the PNR of a response map :math:`m` defined as (Eq. 2, taken exactly as printed):

.. math::
    \mathrm{PNR}(m) = \frac{\max(m) - \min(m)}{\mathrm{mean}(m / \max(m))}.

Two functions:

* :func:`response` — the correlation :math:`c * x^S` of Eq. 1 (and Eq. 8). The paper's
  ":math:`*`" is convolution in the CNN sense, i.e. the *cross*-correlation that
  :func:`torch.nn.functional.conv2d` computes (no kernel flip), with "same" zero padding so the
  map keeps the feature map's size: an 11 x 11 kernel is padded by 5 on every side, and a
  31 x 31 ``conv4_3`` map gives a 31 x 31 response. Position ``[i, j]`` of the map is the kernel
  centred on feature cell ``[i, j]``.
* :func:`pnr` — Eq. 2, batched over leading dimensions, with guards so that it never returns NaN
  or infinity (see its docstring for exactly when it returns 0).

Properties that follow from the formula (and are tested): the denominator
:math:`\mathrm{mean}(m)/\max(m)` is invariant to a positive scaling of :math:`m`, the numerator
scales with it, so :math:`\mathrm{PNR}(a\,m) = a\,\mathrm{PNR}(m)` for :math:`a > 0`: **PNR is not
scale invariant**: of two kernels with the same shape, the one with the larger norm scores higher
(:mod:`rankatt_lib.components.convlstm` runs its cell at the scale of the best kernel, so a new kernel comes
out at about that scale — slightly below it with the untrained initialisation, which shrinks the
cell state by about 5 % per update). PNR does not depend on the order of the pixels, and is 0 for
a constant map.

Nothing here synchronises with the device: the guards are ``torch.where`` selections, and the
results are tensors for the caller to read.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["DEFAULT_PNR_EPS", "pnr", "response"]

#: Smallest denominator :math:`\mathrm{mean}(m / \max m)` for which :func:`pnr` divides (below: 0).
DEFAULT_PNR_EPS = 1e-6


def pnr(m: torch.Tensor, eps: float = DEFAULT_PNR_EPS) -> torch.Tensor:
    r"""Eq. 2: :math:`\mathrm{PNR}(m) = (\max m - \min m) / \mathrm{mean}(m / \max m)`.

    Max, min and mean are taken over the last two dimensions (the map), batched over the others.

    Guards (so the result is always finite, never NaN):

    * ``max m <= 0`` (all-zero or all-negative map: :math:`m / \max m` is undefined or flips
      sign) -> **0**;
    * ``mean(m / max m) <= eps`` (the denominator is tiny or negative, which happens when large
      negative values outweigh the positive ones; the formula would blow up or change sign) ->
      **0**. The denominator is dimensionless (between :math:`-\infty` and 1), so ``eps`` does
      not depend on the scale of ``m``; with ``eps = 1e-6`` a map scores at most
      :math:`10^6 (\max m - \min m)`;
    * a constant map with ``max m > 0`` gives 0 by the formula itself (numerator 0, denominator 1);
    * any remaining non-finite value (a map containing inf or NaN, or float overflow) -> **0**.

    A score of 0 is the lowest a valid map can get (the numerator is >= 0 and the denominator
    > 0), so a degenerate map ranks last rather than poisoning the ranking.

    Args:
        m: ``(..., h, w)`` real response maps (at least 2-D), any floating dtype and device.
        eps: the smallest denominator accepted (see above).

    Returns:
        ``(...)`` PNR scores, same dtype and device as ``m`` (0-D for a single ``(h, w)`` map).
    """
    if m.ndim < 2:
        raise ValueError(f"pnr takes response maps of shape (..., h, w), got shape {tuple(m.shape)}")
    if not m.is_floating_point():
        m = m.float()
    mx = m.amax(dim=(-2, -1))
    mn = m.amin(dim=(-2, -1))
    positive = mx > 0
    safe_mx = torch.where(positive, mx, torch.ones_like(mx))
    den = (m / safe_mx[..., None, None]).mean(dim=(-2, -1))  # mean(m / max m), Eq. 2's denominator
    valid = positive & (den > eps)
    out = (mx - mn) / torch.where(valid, den, torch.ones_like(den))
    valid = valid & torch.isfinite(out)
    return torch.where(valid, out, torch.zeros_like(out))


def response(kernel: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""The response maps :math:`c * x` of Eq. 1 / Eq. 8: every kernel correlated with every sample.

    ":math:`*`" is the CNN convolution, i.e. cross-correlation (``F.conv2d``, no flip):
    ``out[b, n, i, j] = sum_{c, u, v} kernel[n, c, u, v] * xpad[b, c, i + u, j + v]``, with
    "same" zero padding (``F.conv2d(padding="same")``: ``(k - 1) // 2`` before and the rest after
    on each axis, i.e. 5 on every side for ``k = 11``), so the maps are ``H x W`` like ``x`` and
    the kernel's centre cell ``[k // 2, k // 2]`` sits on cell ``[i, j]``.

    Args:
        kernel: ``(N, C, k, k)`` kernels (``(N, 512, 11, 11)`` in the paper); ``(C, k, k)`` is one.
        x: ``(B, C, H, W)`` features (``xS``: ``(B, 512, 31, 31)`` for a 255 px patch).

    Returns:
        ``(B, N, H, W)`` response maps.
    """
    if kernel.ndim == 3:
        kernel = kernel.unsqueeze(0)
    if kernel.ndim != 4:
        raise ValueError(f"kernel must be (N, C, k, k) or (C, k, k), got shape {tuple(kernel.shape)}")
    if x.ndim != 4 or x.shape[1] != kernel.shape[1]:
        raise ValueError(
            f"x must be (B, C, H, W) with C = {kernel.shape[1]} (the kernels' channels), got shape {tuple(x.shape)}"
        )
    return F.conv2d(x, kernel.to(x.dtype), padding="same")
