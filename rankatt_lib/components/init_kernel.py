r"""Frame-1 initialisation of the attention kernel: :math:`h_0 = \arg\min_h L(h)` of Eq. 9.

The paper initialises the ranking and :math:`h_0` with "a simple initialization network"
(§3.1) that it does not describe. Our reading (book appendix, reading-method): :math:`h_0` is the 11 x 11 x 512
kernel that minimises the offline loss (Eq. 9) on the first frame,

.. math::
    h_0 = \arg\min_h \; \frac{1}{\frac{H}{8} \frac{W}{8}} \sum_{h,w} (h * x^S_1 - y^S_1)^2
        + \lambda_1 \|h\|^2, \qquad \lambda_1 = 10^{-10}, \tag{9}

and every slot of the ranking starts as :math:`h_0` (:meth:`rankatt_lib.components.ranking.Ranking.from_kernel`).
The same function initialises every training clip (:mod:`rankatt_lib.training`) and the tracker,
so the updater is trained from exactly the kernels it will start from.

How it is solved (:func:`init_kernel`)
--------------------------------------
Eq. 9 is a linear least-squares problem in the ``C k^2 = 61,952`` kernel entries with only
``P = 31 x 31 = 961`` equations (one per position, "same" zero padding as in
:func:`rankatt_lib.components.pnr.response`). Its normal equations

.. math::
    \Big(\tfrac{1}{P} A^\top A + \lambda_1 I\Big) h = \tfrac{1}{P} A^\top y, \qquad
    A h = h * x^S,

are solved by the **conjugate gradient method** (``method="cg"``, the default) started from
:math:`h = 0`. Each iteration costs one correlation :math:`A h` and one transposed correlation
:math:`A^\top r`, each one ``(k^2 x C) @ (C x H_p W_p)`` matrix product (:func:`correlate`,
:func:`correlate_transpose`; about 0.2 GFLOP per iteration): 8-20 ms on one (shared) CPU core.

Why not the Fourier closed form of a multi-channel correlation filter? It solves a different
problem: circular correlation with a kernel as large as the map (31 x 31), whose crop to 11 x 11
no longer minimises Eq. 9, and the cyclic shifts it trains on are not the zero-padded shifts of
Eq. 9. The dual closed form
:math:`h = A^\top (A A^\top + P\lambda_1 I)^{-1} y` is exact but needs the 961 x 961 Gram matrix
(about 57 GFLOP, several seconds on a CPU). CG minimises the true objective at a fraction of that.

Number of iterations. With 961 equations for 61,952 unknowns and :math:`\lambda_1 = 10^{-10}`
(negligible against the features' scale) the exact minimiser interpolates the label; CG from zero
approaches the minimum-norm interpolant, fitting the directions of the largest singular values
first, so stopping early could act as a regulariser. On the synthetic *training* split it does
not: over 32 training clips (``results/training/init_kernel_sweep.csv``, from
``rankatt train --sweep-init``) the Eq. 9 loss of :math:`h_0` kept fixed on the
following frames falls monotonically with the iterations and saturates by 20 (relative to the
all-zero kernel: 0.743 after 1 iteration, 0.407 after 3, 0.343 after 10, 0.3414 after 20,
0.3412 after 50 and 100; the frame-1 fit goes from 0.62 to 5.5e-4 at 20 and 3e-7 at 100). So
:data:`DEFAULT_INIT_ITERS` = 20: converged for practical purposes, about 0.2 s on one CPU core
(8-20 ms per iteration depending on the load). ``method="adam"`` runs plain Adam steps on Eq. 9
instead (CREST-like; slower to converge, kept for comparison).

Scale. The features are divided by their RMS before solving (and the kernel by the same factor
after), so the iteration behaves the same whatever the backbone's feature scale; with
:math:`x \to a x` the result is exactly :math:`h \to h / a` (the :math:`\lambda_1` term is rescaled
accordingly, so the minimised objective is unchanged).

Labels (:func:`target_label`): a Gaussian with peak 1 on the target's cell, ``sigma =
sigma_factor x`` the target's size in cells per axis (CREST's ``output_sigma_factor = 0.1``: an
88 px target is 11 cells, sigma 1.1 cells).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np
import torch
import torch.nn.functional as F

from rankatt_lib.components.attention import ranking_loss
from rankatt_lib.features.geometry import gaussian_labels

__all__ = [
    "DEFAULT_INIT_ITERS",
    "DEFAULT_SIGMA_FACTOR",
    "INIT_METHODS",
    "InitMethod",
    "correlate",
    "correlate_transpose",
    "init_kernel",
    "label_sigma",
    "target_label",
]

InitMethod = Literal["cg", "adam"]
INIT_METHODS: tuple[str, ...] = get_args(InitMethod)

#: CG iterations of :func:`init_kernel` (chosen on the synthetic training split; see the module docstring).
DEFAULT_INIT_ITERS = 20
#: Label sigma / target size in cells, per axis (CREST's ``output_sigma_factor``).
DEFAULT_SIGMA_FACTOR = 0.1


# --------------------------------------------------------------------------- labels


def label_sigma(
    target_wh_cells: Any, sigma_factor: float = DEFAULT_SIGMA_FACTOR, min_sigma: float = 0.25
) -> tuple[float, float]:
    """``(sigma_y, sigma_x)`` in cells: ``sigma_factor x`` the target's ``(w, h)`` in cells, at least ``min_sigma``."""
    if isinstance(target_wh_cells, torch.Tensor):  # a device tensor is read back (a synchronisation)
        wh = target_wh_cells.detach().reshape(-1).tolist()
    else:  # host numbers stay on the host (the trackers' per-frame labels)
        wh = np.asarray(target_wh_cells, dtype=np.float64).reshape(-1).tolist()
    if len(wh) != 2:
        raise ValueError(f"target_wh_cells must be (w, h), got {target_wh_cells!r}")
    w, h = (float(v) for v in wh)
    if not (w > 0 and h > 0 and sigma_factor > 0):
        raise ValueError(f"need a positive target size and sigma_factor, got {target_wh_cells}, {sigma_factor}")
    return (max(sigma_factor * h, min_sigma), max(sigma_factor * w, min_sigma))


def target_label(
    size: int | Sequence[int],
    target_xy: Any,
    target_wh_cells: Any,
    sigma_factor: float = DEFAULT_SIGMA_FACTOR,
    *,
    min_sigma: float = 0.25,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    r"""The Gaussian label :math:`y^S` of Eq. 9: ``(H8, W8)``, peak 1 on the target's cell.

    Args:
        size: ``n`` or ``(H8, W8)``, the feature map's size (31 for a 255 px patch).
        target_xy: the target centre ``(x, y)`` in cell coordinates (0-based, fractional; cell
            ``i`` of conv4_3 is centred on patch pixel ``8 i + 3.5``).
        target_wh_cells: the target's ``(w, h)`` in cells.
        sigma_factor: sigma = factor x target size in cells, per axis (CREST: 0.1).
        min_sigma: lower bound of sigma in cells (tiny targets).
        device: ``None`` -> :func:`rankatt_lib.device`.

    Returns:
        ``(H8, W8)`` tensor.
    """
    sigma = label_sigma(target_wh_cells, sigma_factor, min_sigma)
    xy = torch.as_tensor(target_xy, dtype=torch.float64).reshape(1, 2)
    return gaussian_labels(size, xy, sigma, device=device, dtype=dtype)[0]


# --------------------------------------------------------------------------- the linear operator


def _shift_view(z: torch.Tensor, k: int, h: int, w: int) -> torch.Tensor:
    """``(B, k*k, Hp*Wp)`` -> the ``(B, k, k, H, W)`` view ``[b, u, v, i, j] = z[b, u*k + v, (i+u) Wp + j + v]``."""
    b, n = z.shape[0], z.shape[-1]
    wp = w + 2 * (k // 2)
    return z.as_strided((b, k, k, h, w), (k * k * n, k * n + wp, n + 1, wp, 1))


def _check_pair(h: torch.Tensor, xS: torch.Tensor) -> torch.Tensor:
    if h.ndim != 4 or xS.ndim != 4 or h.shape[1] != xS.shape[1] or h.shape[-1] != h.shape[-2] or h.shape[-1] % 2 == 0:
        raise ValueError(
            f"expected h (B, C, k, k) with k odd and xS (B, C, H, W); got {tuple(h.shape)}, {tuple(xS.shape)}"
        )
    b = xS.shape[0]
    if h.shape[0] == 1 and b > 1:
        return h.expand(b, -1, -1, -1)
    if h.shape[0] != b:
        raise ValueError(f"h has {h.shape[0]} kernels for {b} samples")
    return h


def correlate(h: torch.Tensor, xS: torch.Tensor) -> torch.Tensor:
    r""":math:`A h = h * x^S` (Eq. 8 per sample, "same" zero padding) as one batched matrix product.

    The same values as :func:`rankatt_lib.components.attention.attention_map` (float32 rounding aside; tested),
    computed as :math:`z_{uv} = \sum_c h[c, u, v]\, x_{pad}[c]` (a ``(k^2 x C) @ (C x H_p W_p)``
    product) followed by the shift-and-add :math:`m[i, j] = \sum_{u,v} z_{uv}[i + u, j + v]` (a
    strided view, summed). On a CPU its forward + backward is 5-10 times faster than ``F.conv2d``
    with a single 11 x 11 x 512 output filter, which oneDNN handles poorly; offline training and
    :func:`init_kernel` spend most of their time here. Differentiable.

    Args:
        h: ``(B, C, k, k)`` kernels (``k`` odd), or ``(1, C, k, k)`` shared by all samples.
        xS: ``(B, C, H, W)`` features.

    Returns:
        ``(B, 1, H, W)`` maps.
    """
    h = _check_pair(h, xS)
    b, c, hh, ww = xS.shape
    k = h.shape[-1]
    p = k // 2
    n = (hh + 2 * p) * (ww + 2 * p)
    xp = F.pad(xS, (p, p, p, p)).reshape(b, c, n)
    z = torch.bmm(h.to(xS.dtype).reshape(b, c, k * k).transpose(1, 2), xp).contiguous()  # (B, k*k, n)
    return _shift_view(z, k, hh, ww).sum(dim=(1, 2)).unsqueeze(1)


def correlate_transpose(r: torch.Tensor, xS: torch.Tensor, k: int) -> torch.Tensor:
    r""":math:`A^\top r`, the adjoint of :func:`correlate`: ``(B, H, W)`` maps -> ``(B, C, k, k)``.

    ``(A^T r)[b, c, u, v] = sum_{i,j} xpad[b, c, i + u, j + v] r[b, i, j]``: ``r`` scattered into
    the ``k^2`` shifted positions (the transpose of the shift-and-add), then one
    ``(C x H_p W_p) @ (H_p W_p x k^2)`` product.
    """
    if r.ndim == 2:
        r = r.unsqueeze(0)
    b, c, hh, ww = xS.shape
    if tuple(r.shape) != (b, hh, ww):
        raise ValueError(f"r must be ({b}, {hh}, {ww}), got shape {tuple(r.shape)}")
    p = k // 2
    n = (hh + 2 * p) * (ww + 2 * p)
    z = torch.zeros(b, k * k, n, dtype=xS.dtype, device=xS.device)
    _shift_view(z, k, hh, ww).copy_(r.to(xS.dtype)[:, None, None].expand(b, k, k, hh, ww))
    xp = F.pad(xS, (p, p, p, p)).reshape(b, c, n)
    return torch.bmm(xp, z.transpose(1, 2)).reshape(b, c, k, k)


# --------------------------------------------------------------------------- the solver


def _check_inputs(xS: torch.Tensor, yS: torch.Tensor, k: int) -> torch.Tensor:
    if xS.ndim != 4 or xS.shape[0] != 1:
        raise ValueError(f"xS must be (1, C, H, W), got shape {tuple(xS.shape)}")
    if yS.ndim == 4 and yS.shape[:2] == (1, 1):
        yS = yS[0, 0]
    elif yS.ndim == 3 and yS.shape[0] == 1:
        yS = yS[0]
    if yS.ndim != 2 or tuple(yS.shape) != tuple(xS.shape[-2:]):
        raise ValueError(f"yS must be (H, W) = {tuple(xS.shape[-2:])}, got shape {tuple(yS.shape)}")
    if k < 1 or k % 2 == 0 or k > min(xS.shape[-2:]) + (k // 2) * 2:
        raise ValueError(f"k must be odd and positive, got {k}")
    return yS


def init_kernel(
    xS: torch.Tensor,
    yS: torch.Tensor,
    k: int = 11,
    lam: float = 1e-10,
    *,
    method: InitMethod = "cg",
    iters: int = DEFAULT_INIT_ITERS,
    tol: float | None = None,
    lr: float = 0.1,
    check_every: int = 10,
) -> torch.Tensor:
    r""":math:`h_0`: the ``k x k`` kernel minimising Eq. 9 on one frame (see the module docstring).

    Runs without autograd whatever the caller's mode (the result does not require grad), on
    ``xS``'s device, in float64 when ``xS`` is float64 and in float32 otherwise.

    Args:
        xS: ``(1, C, H, W)`` features of the frame-1 search patch (``(1, 512, 31, 31)``).
        yS: ``(H, W)`` label (:func:`target_label`); ``(1, H, W)`` / ``(1, 1, H, W)`` accepted.
        k: kernel side (the paper: 11).
        lam: :math:`\lambda_1` of Eq. 9 (the paper: 1e-10), on the features' own scale.
        method: ``"cg"`` (conjugate gradient on the normal equations, default) or ``"adam"``
            (Adam on Eq. 9; ``lr`` is relative to the kernel's natural scale, see below).
        iters: iterations (CG) or steps (Adam).
        tol: CG only: stop early once the relative residual of the normal equations,
            ``||r|| / ||b||``, is below ``tol`` (checked every ``check_every`` iterations; each
            check reads one number back from the device). ``None``: run ``iters`` iterations
            with no synchronisation.
        lr: Adam only: learning rate in units of ``1 / (C k^2 rms(xS))`` (a step that moves every
            entry by it changes the response by at most about ``lr``).
        check_every: CG only: iterations between ``tol`` checks.

    Returns:
        ``(1, C, k, k)`` kernel :math:`h_0` (float64 for float64 features, else float32).
    """
    if method not in INIT_METHODS:
        raise ValueError(f"method must be one of {INIT_METHODS}, got {method!r}")
    if iters < 0:
        raise ValueError(f"iters must be >= 0, got {iters}")
    yS = _check_inputs(xS, yS, k)
    with torch.no_grad():
        work = torch.float64 if xS.dtype == torch.float64 else torch.float32
        x = xS.detach().to(work)
        y = yS.detach().to(device=x.device, dtype=work)
        rms = x.square().mean().sqrt()
        rms = torch.where(rms > 0, rms, torch.ones_like(rms))
        xn = x / rms
        lam_n = lam / rms.square()  # lam ||h||^2 = (lam / rms^2) ||g||^2 with g = rms h
        n_pos = float(y.numel())
        c = x.shape[1]
        if method == "cg":
            g = _cg(xn, y, k, lam_n, n_pos, iters, tol, check_every)
        else:
            with torch.enable_grad():
                g = _adam(xn, y, k, lam_n, iters, lr / (c * k * k))
        return (g / rms).contiguous()


def _cg(
    xn: torch.Tensor,
    y: torch.Tensor,
    k: int,
    lam_n: torch.Tensor,
    n_pos: float,
    iters: int,
    tol: float | None,
    check_every: int,
) -> torch.Tensor:
    """Conjugate gradient on ``(A^T A / P + lam I) g = A^T y / P`` from ``g = 0``."""

    def op(v: torch.Tensor) -> torch.Tensor:
        return correlate_transpose(correlate(v, xn)[:, 0], xn, k) / n_pos + lam_n * v

    b = correlate_transpose(y[None], xn, k) / n_pos
    g = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = r.square().sum()
    bb = rr.clone()
    tiny = torch.finfo(xn.dtype).tiny
    for it in range(iters):
        ap = op(p)
        alpha = rr / ap.mul(p).sum().clamp_min(tiny)
        g = g + alpha * p
        r = r - alpha * ap
        rr_new = r.square().sum()
        p = r + (rr_new / rr.clamp_min(tiny)) * p
        rr = rr_new
        if tol is not None and (it + 1) % max(check_every, 1) == 0:
            if float((rr / bb.clamp_min(tiny)).sqrt()) < tol:
                break
    return g


def _adam(xn: torch.Tensor, y: torch.Tensor, k: int, lam_n: torch.Tensor, iters: int, lr: float) -> torch.Tensor:
    """Adam on Eq. 9 (normalised features) from ``g = 0``."""
    g = torch.zeros(1, xn.shape[1], k, k, device=xn.device, dtype=xn.dtype, requires_grad=True)
    opt = torch.optim.Adam([g], lr=lr)
    for _ in range(iters):
        opt.zero_grad(set_to_none=True)
        loss = ranking_loss(g, xn, y, lam1=float(lam_n))
        loss.backward()
        opt.step()
    return g.detach()
