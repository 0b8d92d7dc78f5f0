"""The updater unrolled over a clip with Eq. 9 as the loss (N = 1, and with the ranking in the
loop), and its evaluation against keeping or refitting the kernel."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from rankatt_lib.components.attention import ranking_loss
from rankatt_lib.components.convlstm import RankingUpdater
from rankatt_lib.components.init_kernel import (
    DEFAULT_INIT_ITERS,
    correlate,
    init_kernel,
)
from rankatt_lib.components.pnr import pnr
from rankatt_lib.components.ranking import Ranking
from rankatt_lib.training.clips import PreparedClips

__all__ = ["eq9_loss", "evaluate", "evaluate_refit", "unroll", "unroll_ranked", "unroll_with_step"]


# =========================================================================== the unrolled model


def eq9_loss(h: torch.Tensor, xS: torch.Tensor, yS: torch.Tensor, lam1: float = 1e-10) -> torch.Tensor:
    r"""Eq. 9 per sample with :func:`~rankatt_lib.components.init_kernel.correlate`: ``(B,)``, the same values as
    :func:`rankatt_lib.components.attention.ranking_loss` with ``reduction="none"`` (tested).

    Args:
        h: ``(B, C, k, k)`` kernels; xS: ``(B, C, H, W)``; yS: ``(B, H, W)`` labels.
    """
    m = correlate(h, xS)[:, 0]
    return (m - yS).square().mean(dim=(-2, -1)) + lam1 * h.square().sum(dim=(1, 2, 3))


def unroll(
    updater: RankingUpdater | None,
    h0: torch.Tensor,
    xS: torch.Tensor,
    yS: torch.Tensor,
    lam1: float = 1e-10,
) -> torch.Tensor:
    r"""Run Eq. 6-7 with N = 1 over a batch of clips and return Eq. 9 at every update step.

    Args:
        updater: the PreNet + ConvLSTM; ``None`` keeps :math:`h_t = h_0` (the ``fixed`` baseline).
        h0: ``(B, C, k, k)`` frame-1 kernels.
        xS: ``(B, T, C, H8, W8)`` features.
        yS: ``(B, T, H8, W8)`` labels.
        lam1: :math:`\lambda_1` of Eq. 9.

    Returns:
        ``(B, T - 1)`` losses :math:`L(h_t)`, ``t = 2..T`` (differentiable w.r.t. the updater).
    """
    if xS.ndim != 5 or yS.ndim != 4 or h0.ndim != 4:
        raise ValueError(f"expected h0 (B,C,k,k), xS (B,T,C,H,W), yS (B,T,H,W); got {h0.shape}, {xS.shape}, {yS.shape}")
    t_len = xS.shape[1]
    c = h0  # the ranking's only kernel (N = 1): c^(1st) = c^(Nth)
    h = h0
    losses = []
    for t in range(1, t_len):
        x = xS[:, t]
        if updater is not None:
            r = correlate(c, x)  # Eq. 1's response of the best kernel, reused by PreNet
            x_pre = updater.prenet(c, x, response=r)  # Eq. 7
            h, c = updater.cell(h, c, x_pre)  # Eq. 6; the new cell state replaces the only kernel
        losses.append(eq9_loss(h.expand(x.shape[0], -1, -1, -1), x, yS[:, t], lam1))  # Eq. 9
    return torch.stack(losses, dim=1)


def unroll_ranked(
    updater: RankingUpdater,
    h0: torch.Tensor,
    xS: torch.Tensor,
    yS: torch.Tensor,
    lam1: float = 1e-10,
    *,
    n: int = 3,
    init: str = "copies",
    cell_input: str = "best",
) -> torch.Tensor:
    r"""A sketch (issue #20): :func:`unroll` with the tracker's N-kernel ranking in the loop.

    Per sample the ranking holds ``n`` kernels ``(B, n, C, k, k)``; every step scores them by PNR
    (Eq. 1-2) on :math:`x^S_t`, re-orders them (Eq. 3; the *selection* is not differentiable, an
    ``argsort`` of detached scores, but the gathered kernels carry their gradients), feeds the best
    to PreNet (Eq. 7) and the cell (Eq. 6; ``cell_input="carried"`` feeds the cell's own previous
    state instead, as the tracker's ``cell_input`` switch) and puts the new cell state in the
    worst slot. ``init="copies"``: ``n`` copies of :math:`h_0` (the tracker's default);
    ``"first_frames"``: :math:`h_0` alone, new states appended until ``n`` exist. With ``n=1`` it
    is :func:`unroll` (tested). Returns ``(B, T - 1)`` Eq. 9 losses of :math:`h_t`.
    """
    if init not in ("copies", "first_frames") or cell_input not in ("best", "carried") or n < 1:
        raise ValueError(f"bad options n={n}, init={init!r}, cell_input={cell_input!r}")
    b = h0.shape[0]
    kernels = h0.unsqueeze(1).expand(-1, 1 if init == "first_frames" else n, -1, -1, -1)
    h, c_carried = h0, h0
    rows = torch.arange(b, device=h0.device)
    losses = []
    for t in range(1, xS.shape[1]):
        x = xS[:, t]
        m = kernels.shape[1]
        maps = correlate(kernels.reshape(b * m, *kernels.shape[2:]), x.repeat_interleave(m, dim=0))
        maps = maps.reshape(b, m, *maps.shape[-2:])  # Eq. 1
        order = torch.sort(pnr(maps.detach()), dim=1, descending=True, stable=True).indices  # Eq. 2-3
        kernels = kernels[rows[:, None], order]
        c1st, r = kernels[:, 0], maps[rows, order[:, 0]].unsqueeze(1)  # Eq. 4
        x_pre = updater.prenet(c1st, x, response=r)  # Eq. 7
        h, c_new = updater.cell(h, c1st if cell_input == "best" else c_carried, x_pre)  # Eq. 6
        c_carried = c_new
        if m < n and init == "first_frames":
            kernels = torch.cat([kernels, c_new.unsqueeze(1)], dim=1)
        else:  # Eq. 5: the new cell state replaces the worst kernel
            kernels = torch.cat([kernels[:, :-1], c_new.unsqueeze(1)], dim=1)
        losses.append(eq9_loss(h, x, yS[:, t], lam1))  # Eq. 9
    return torch.stack(losses, dim=1)


def unroll_with_step(
    updater: RankingUpdater, h0: torch.Tensor, xS: torch.Tensor, yS: torch.Tensor, lam1: float = 1e-10
) -> torch.Tensor:
    """The same as :func:`unroll` for one clip (``h0`` ``(1, C, k, k)``, ``xS`` ``(T, C, H, W)``,
    ``yS`` ``(T, H, W)``) through the tracker's own path, a :class:`~rankatt_lib.components.ranking.Ranking`
    with N = 1 and :meth:`RankingUpdater.step`. Returns ``(T - 1,)``. Used to test :func:`unroll`."""
    ranking = Ranking.from_kernel(h0, n=1)
    h = h0
    out = []
    for t in range(1, xS.shape[0]):
        h, _ = updater.step(ranking, h, xS[t : t + 1])
        out.append(ranking_loss(h, xS[t : t + 1], yS[t], lam1))
    return torch.stack(out)


# =========================================================================== evaluation


def _batches(n: int, size: int) -> Iterable[list[int]]:
    for s in range(0, n, size):
        yield list(range(s, min(n, s + size)))


@torch.no_grad()
def evaluate(
    updater: RankingUpdater | None,
    clips: PreparedClips,
    *,
    lam1: float = 1e-10,
    batch_size: int = 8,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """Mean Eq. 9 over the update steps of ``clips`` (``updater=None``: the ``fixed`` baseline).

    Returns:
        ``{"loss": mean, "rel": loss / zero-kernel loss, "zero": zero-kernel loss,
        "per_step": [mean over clips at t = 2..T], "per_clip": [mean over steps]}``.
    """
    if updater is not None:
        was_training = updater.training
        updater.eval()
    per = []
    for idx in _batches(len(clips), batch_size):
        h0, xs, ys = clips.batch(idx, device)
        per.append(unroll(updater, h0, xs, ys, lam1).cpu())
    if updater is not None:
        updater.train(was_training)
    losses = torch.cat(per).double()  # (M, T - 1)
    zero = clips.yS[:, 1:].double().square().mean(dim=(-2, -1))  # (M, T - 1)
    return {
        "loss": float(losses.mean()),
        "rel": float(losses.mean() / zero.mean()),
        "zero": float(zero.mean()),
        "per_step": losses.mean(dim=0).tolist(),
        "per_clip": losses.mean(dim=1).tolist(),
    }


@torch.no_grad()
def evaluate_refit(
    clips: PreparedClips,
    *,
    kernel_size: int = 11,
    lam1: float = 1e-10,
    init_iters: int = DEFAULT_INIT_ITERS,
    lag: int = 1,
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """The ``refit`` reference: :math:`h_t` = :func:`init_kernel` on frame ``t - lag`` with that
    frame's ground-truth label, scored on frame ``t``.

    ``lag = 1`` (default) is the best a label-informed per-frame update of this kind could do with
    perfect labels of the previous frame (a tracker only has its own estimate); ``lag = 0`` fits the
    scored frame itself (nearly 0: 61,952 unknowns for 961 equations).
    """
    t_len = clips.xS.shape[1]
    if not 0 <= lag < t_len:
        raise ValueError(f"lag must be in 0..{t_len - 1}, got {lag}")
    losses = torch.zeros(len(clips), t_len - 1, dtype=torch.float64)
    for i in range(len(clips)):
        for t in range(1, t_len):
            src = max(t - lag, 0)
            xf = clips.xS[i, src : src + 1].to(device, torch.float32)
            h = init_kernel(xf, clips.yS[i, src].to(device), kernel_size, lam1, iters=init_iters)
            x = clips.xS[i, t : t + 1].to(device, torch.float32)
            losses[i, t - 1] = float(ranking_loss(h, x, clips.yS[i, t].to(device), lam1))
    zero = clips.yS[:, 1:].double().square().mean(dim=(-2, -1))
    return {
        "loss": float(losses.mean()),
        "rel": float(losses.mean() / zero.mean()),
        "zero": float(zero.mean()),
        "per_step": losses.mean(dim=0).tolist(),
        "per_clip": losses.mean(dim=1).tolist(),
    }
