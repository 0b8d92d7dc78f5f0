r"""The ranking: an ordered set of N convolution kernels, re-scored every frame (paper Eq. 1-5).

The paper's ranking is an ordered set :math:`\{c^1_t, c^2_t, \ldots, c^N_t\}`,
:math:`c^i_t \in \mathbb{R}^{11 \times 11 \times 512}` (N = 3). Every frame it

1. scores each kernel on the current search features, :math:`s^i_t = \mathrm{PNR}(c^i_t * x^S_t)`
   (Eq. 1-2, :func:`rankatt_lib.components.pnr.pnr` of :func:`rankatt_lib.components.pnr.response`);
2. re-orders the set by the scores, best first (Eq. 3);
3. hands out the best kernel :math:`c^{(1st)}_t = \arg\max_i s^i_t` (Eq. 4) and marks the worst
   :math:`c^{(Nth)}_t = \arg\min_i s^i_t` (Eq. 5) for replacement by the ConvLSTM's new cell state
   (Eq. 6, :mod:`rankatt_lib.components.convlstm`).

:class:`Ranking` keeps the kernels as one ``(N, C, k, k)`` tensor *in ranked order*. After
:meth:`Ranking.rank` the best kernel is slot 0 and the worst is slot ``N - 1``, so the positions
of Eq. 4-5 are known without reading the scores back to the host: everything stays on the
device (a stable ``torch.sort``, ``index_select``, ``torch.cat``) and the per-frame path never
synchronises.

Ties (book appendix, reading-method: "ties broken by index, deterministic"): the sort is stable, so kernels with
equal scores keep their current order — the one ranked higher before stays higher. With all N
slots initialised to the same :math:`h_0` (:meth:`Ranking.from_kernel`), the first ranking leaves
the order unchanged: slot 0 is the best, slot ``N - 1`` the one replaced.

Autograd: :meth:`Ranking.rank` and :meth:`Ranking.replace_worst` are differentiable
(out-of-place), as offline training with N = 1 needs (the paper: "the ranking network will
degrade to normal ConvLSTM"). When tracking, run under ``torch.no_grad()`` /
``torch.inference_mode()``, or the stored kernels keep the graph of every past frame alive.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rankatt_lib.components.pnr import DEFAULT_PNR_EPS, pnr, response

__all__ = ["RankResult", "Ranking"]


@dataclass(frozen=True)
class RankResult:
    r"""What :meth:`Ranking.rank` returns (all tensors on the ranking's device; no host sync).

    Attributes:
        scores: ``(N,)`` PNR scores :math:`s^i_t` (Eq. 1), in the *new* order (non-increasing).
        order: ``(N,)`` int64 permutation: new slot ``j`` holds the kernel that was in slot
            ``order[j]`` before this ranking (Eq. 3).
        responses: ``(N, H, W)`` response maps :math:`c^i_t * x^S_t` in the new order
            (``responses[0]`` is the best kernel's, which PreNet can reuse).
        best: ``(1, C, k, k)`` :math:`c^{(1st)}_t` (Eq. 4), the kernel now in slot 0.
        worst_index: ``N - 1``, the slot of :math:`c^{(Nth)}_t` (Eq. 5) in the new order — a
            Python int, known without reading the scores. The worst kernel's slot *before* the
            re-ordering is ``order[-1]``.
    """

    scores: torch.Tensor
    order: torch.Tensor
    responses: torch.Tensor
    best: torch.Tensor
    worst_index: int

    @property
    def best_index(self) -> int:
        """Slot of :math:`c^{(1st)}_t` in the new order: always 0."""
        return 0


class Ranking:
    r"""An ordered set of N kernels :math:`\{c^1_t, \ldots, c^N_t\}` (paper §2.1, Fig. 1, Eq. 1-5).

    Args:
        kernels: ``(N, C, k, k)`` initial kernels, slot 0 first (``(C, k, k)`` means N = 1). The
            tensor is not copied; the ranking never modifies it in place.
        pnr_eps: passed to :func:`rankatt_lib.components.pnr.pnr`.

    The kernels keep their dtype and device; :meth:`score` and :meth:`rank` need features on the
    same device.
    """

    def __init__(self, kernels: torch.Tensor, *, pnr_eps: float = DEFAULT_PNR_EPS) -> None:
        if kernels.ndim == 3:
            kernels = kernels.unsqueeze(0)
        if kernels.ndim != 4 or kernels.shape[0] < 1 or kernels.shape[-1] != kernels.shape[-2]:
            raise ValueError(
                f"kernels must be (N, C, k, k) with N >= 1 (or one (C, k, k) kernel), got shape {tuple(kernels.shape)}"
            )
        if not kernels.is_floating_point():
            raise ValueError(f"kernels must be a floating tensor, got {kernels.dtype}")
        self._kernels = kernels
        self.pnr_eps = pnr_eps

    @classmethod
    def from_kernel(cls, h0: torch.Tensor, n: int = 3, *, pnr_eps: float = DEFAULT_PNR_EPS) -> Ranking:
        r"""N copies of one kernel: book appendix, reading-method, "all N ranking slots start as :math:`h_0`".

        Args:
            h0: ``(1, C, k, k)`` or ``(C, k, k)`` initial kernel.
            n: ranking length N (the paper: 3).
        """
        if h0.ndim == 4 and h0.shape[0] == 1:
            h0 = h0[0]
        if h0.ndim != 3:
            raise ValueError(f"h0 must be (1, C, k, k) or (C, k, k), got shape {tuple(h0.shape)}")
        if n < 1:
            raise ValueError(f"the ranking length n must be >= 1, got {n}")
        return cls(h0.unsqueeze(0).expand(n, -1, -1, -1).clone(), pnr_eps=pnr_eps)

    # ------------------------------------------------------------------ state

    @property
    def kernels(self) -> torch.Tensor:
        """``(N, C, k, k)`` the kernels in their current (ranked) order."""
        return self._kernels

    @property
    def n(self) -> int:
        """Ranking length N."""
        return self._kernels.shape[0]

    def __len__(self) -> int:
        return self.n

    @property
    def kernel_shape(self) -> tuple[int, int, int]:
        """``(C, k, k)`` of one kernel."""
        c, kh, kw = self._kernels.shape[1:]
        return (c, kh, kw)

    @property
    def device(self) -> torch.device:
        return self._kernels.device

    def to(self, device: torch.device | str) -> Ranking:
        """Move the kernels (in place); returns ``self``."""
        self._kernels = self._kernels.to(device)
        return self

    def detach_(self) -> Ranking:
        """Cut the stored kernels from the autograd graph (in place; truncated BPTT); returns ``self``."""
        self._kernels = self._kernels.detach()
        return self

    def __repr__(self) -> str:
        return f"Ranking(n={self.n}, kernel_shape={self.kernel_shape}, device={self.device})"

    # ------------------------------------------------------------------ Eq. 1-5

    def _check_features(self, xS: torch.Tensor) -> None:
        c = self._kernels.shape[1]
        if xS.ndim != 4 or xS.shape[0] != 1 or xS.shape[1] != c:
            raise ValueError(
                f"xS must be (1, {c}, H, W) (the features of the one chosen search patch), got shape {tuple(xS.shape)}"
            )

    def responses(self, xS: torch.Tensor) -> torch.Tensor:
        r"""``(N, H, W)`` response maps :math:`c^i_t * x^S_t` of the kernels, current order."""
        self._check_features(xS)
        return response(self._kernels, xS)[0]

    def score(self, xS: torch.Tensor) -> torch.Tensor:
        r"""Eq. 1: ``(N,)`` scores :math:`s^i_t = \mathrm{PNR}(c^i_t * x^S_t)`, current order.

        Args:
            xS: ``(1, C, H, W)`` features of the search patch (for a batch of scales, the chosen
                patch's).
        """
        return pnr(self.responses(xS), eps=self.pnr_eps)

    def rank(self, xS: torch.Tensor) -> RankResult:
        r"""Score (Eq. 1-2) and re-order (Eq. 3) the kernels, best first; pick Eq. 4-5's kernels.

        The re-ordering is a stable descending sort of the scores: equal scores keep their
        current order (ties broken by index). The stored kernels are re-ordered.

        Args:
            xS: ``(1, C, H, W)`` features of the search patch.

        Returns:
            A :class:`RankResult`; ``best`` is the kernel now in slot 0.
        """
        maps = self.responses(xS)
        scores = pnr(maps, eps=self.pnr_eps)
        sorted_scores, order = torch.sort(scores, descending=True, stable=True)
        self._kernels = self._kernels.index_select(0, order)
        return RankResult(
            scores=sorted_scores,
            order=order,
            responses=maps.index_select(0, order),
            best=self._kernels[:1],
            worst_index=self.n - 1,
        )

    def _one_kernel(self, new_kernel: torch.Tensor) -> torch.Tensor:
        """``new_kernel`` as ``(1, C, k, k)`` on the stored kernels' device and dtype; a shape that
        is not the stored kernels' is a ``ValueError``."""
        if new_kernel.ndim == 3:
            new_kernel = new_kernel.unsqueeze(0)
        expected = (1, *self.kernel_shape)
        if tuple(new_kernel.shape) != expected:
            raise ValueError(f"new_kernel must be {expected} (or {expected[1:]}), got shape {tuple(new_kernel.shape)}")
        return new_kernel.to(device=self._kernels.device, dtype=self._kernels.dtype)

    def replace_worst(self, new_kernel: torch.Tensor) -> None:
        r"""Put :math:`c^{(Nth)}_t` (Eq. 6's new cell state) in the last slot, the worst one.

        The last slot is the worst as of the latest :meth:`rank`; the new kernel stays there
        until the next :meth:`rank` re-orders the set. With N = 1 it replaces the only kernel.

        Args:
            new_kernel: ``(1, C, k, k)`` or ``(C, k, k)``, same shape as the stored kernels.
        """
        new_kernel = self._one_kernel(new_kernel)
        self._kernels = torch.cat([self._kernels[:-1], new_kernel], dim=0)

    def append(self, new_kernel: torch.Tensor) -> None:
        r"""Add a kernel in a new last slot (N grows by one); nothing is replaced.

        The ``"first_frames"`` reading of the ranking's initialisation
        (:attr:`rankatt_lib.trackers.rankatt.RankingAttentionConfig.ranking_init`): the ranking
        starts with :math:`h_0` alone and keeps every new cell state until it holds N kernels.

        Args:
            new_kernel: ``(1, C, k, k)`` or ``(C, k, k)``, same kernel shape as the stored ones.
        """
        new_kernel = self._one_kernel(new_kernel)
        self._kernels = torch.cat([self._kernels, new_kernel], dim=0)
