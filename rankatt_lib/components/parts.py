r"""The part-based multi-channel convolutional tracker (paper §2.2, Eq. 10, Fig. 5).

The large-scale features after attention, :math:`\tilde x^L_t \in \mathbb{R}^{256 \times H/4 \times W/4}`
(``conv3_3`` with the attention map applied, :func:`rankatt_lib.components.attention.apply_attention`;
``(B, 256, 63, 63)`` for a 255 px patch), go through one convolution layer with weights
:math:`w_t \in \mathbb{R}^{9 \times 256 \times 7 \times 7}`. Its 9 output channels are trained to
be 2-D Gaussians, each peaked on one part of the target split by a 3 x 3 grid (Fig. 5). "A
convolution kernel with prior information" then turns the 9 channels into one response map whose
peak is the target position. The weights are learnt online (Eq. 10):

.. math::
    L(w_t) = \frac{1}{\frac{H}{4} \times \frac{W}{4}} \sum_{l=1}^{9} \sum_{h, w}
        \left(w^{(l)}_t * \tilde x^L_t - y^{L(l)}_t\right)^2 + \lambda_2 \|w_t\|^2,
    \qquad \lambda_2 = 10^{-7},

averaged over the samples of the last :math:`T = 12` tracked frames (a ring buffer), with
:math:`y^{L(l)}_t` a Gaussian centred on part :math:`l` of the tracked box.

Conventions
-----------
**Cells.** Everything here is in feature-map cells of ``xL`` (stride 4). Cell ``i`` is centred on
patch pixel ``4 i + 1.5`` (0-based pixel centres, :func:`rankatt_lib.features.vgg16.cell_centre`), so a
patch pixel ``p`` is cell ``(p - 1.5) / 4`` (:func:`pixels_to_cells`); the centre pixel 127 of a
255 px patch is cell 31.375 of the 63 x 63 map. A box in cells is ``(cx, cy, w, h)``: its centre in
(fractional) cell coordinates and its size in cells (a target of ~88 px in the patch is ~22 cells,
so each part is ~7.3 cells, about the 7 x 7 kernel of the paper).

**Parts.** Part ``l = row * g + col`` (row-major, row 0 on top, col 0 on the left) of a ``g x g``
grid (``g = 3``) is centred on ``(cx + (col - (g-1)/2) w/g, cy + (row - (g-1)/2) h/g)``
(:func:`part_centres`). Its *offset* is its centre minus the target centre (:func:`part_offsets`).

**"*".** As everywhere in the library, ":math:`*`" is the CNN convolution, i.e. cross-correlation
(``F.conv2d``) with "same" zero padding.

**The prior kernel** (:func:`prior_kernel`, our reading of the paper's one sentence, book appendix, reading-method).
Part ``l``'s channel peaks at ``t + o_l`` when the target is at ``t``. The combined map is
``r[t] = agg_l sum_u K_l[u] p_l[t + u]`` (cross-correlation), so a kernel ``K_l`` that is a delta at
``+o_l`` (from the kernel centre) reads part ``l``'s channel where that part should be *if the
target were at t*: every part votes for the target centre (in convolution terms: part ``l``'s peak
is moved by ``-o_l``, from the part to the target). Fractional offsets are bilinearly splatted onto
the four nearest kernel cells (``"delta"``) or drawn as a small normalised Gaussian (``"gaussian"``).
``agg`` is the mean (default: a perfect set of part responses combines into a peak of 1, on the
scale of a single-channel response, so CREST's 0.15 confidence gate applies unchanged) or the sum.
The kernel moves with the box: rebuild it when the target's size (in cells) changes
(:meth:`PartTracker.set_target_size`).

**Single channel** (``PartTrackerConfig.single_channel``, the ablation 'parts versus a single
channel'): one output channel trained on one Gaussian on the whole target, no prior kernel.

Nothing in :meth:`PartTracker.forward`, :meth:`~PartTracker.combine`, :meth:`~PartTracker.fit` or
:meth:`~PartTracker.update` synchronises with the device; :meth:`~PartTracker.init` reads the loss
back once every ``init_check_every`` steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rankatt_lib.components.init_kernel import label_sigma as _label_sigma
from rankatt_lib.components.online import SampleBuffer, UpdateSchedule
from rankatt_lib.configs import make_config

__all__ = [
    "COMBINE_MODES",
    "PRIOR_KINDS",
    "PartInitInfo",
    "PartTracker",
    "PartTrackerConfig",
    "label_sigma",
    "part_centres",
    "part_labels",
    "part_offsets",
    "pixels_to_cells",
    "prior_kernel",
    "shift_pair",
]

CombineMode = Literal["mean", "sum"]
PriorKind = Literal["delta", "gaussian"]
OptimizerName = Literal["adam", "sgd"]
#: How the parts' votes are aggregated (:func:`prior_kernel`).
COMBINE_MODES: tuple[str, ...] = get_args(CombineMode)
#: How a vote is drawn in the prior kernel (:func:`prior_kernel`).
PRIOR_KINDS: tuple[str, ...] = get_args(PriorKind)
_OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)


# --------------------------------------------------------------------------- configuration


@dataclass
class PartTrackerConfig:
    """Every number of the part-based tracker: the paper's value where it gives one, CREST's
    (book appendix, reading-evaluation) where our reading says so, else *ours* (marked).

    Model (paper §2.2):
        grid: parts per side, ``grid x grid`` parts (paper: 3).
        kernel: side of each channel's kernel in cells (paper: 7).
        channels: input channels of ``xL`` (paper: 256, conv3_3). Small values for tests.
        bias: learn one bias per output channel (*ours*: no; Eq. 10 has none).
        init_std: std of the random initial weights (*ours*: 0, the weights start at zero as in CREST).
        seed: seed of that initialisation.
        single_channel: one channel on the whole target, no prior kernel (the ablation).

    Labels:
        label_sigma_factor: Gaussian sigma = factor x the *target's* size in cells, per axis
            (CREST: 0.1). Every part gets the same Gaussian as CREST's whole-target label, i.e.
            0.3 x the part's size; ~2.2 cells for a 22-cell target (the Gaussian falls to 0.4 %
            at the neighbouring part's centre, 7.3 cells away).
        min_label_sigma: lower bound of that sigma in cells (*ours*; keeps labels wider than a cell).

    Combination (book appendix, reading-method, our reading of "a convolution kernel with prior information"):
        combine: ``"mean"`` (default, *ours*: the peak stays on the 0..1 scale) or ``"sum"``.
        prior: ``"delta"`` (bilinear splat of each offset) or ``"gaussian"``.
        prior_sigma: sigma in cells of the ``"gaussian"`` votes (*ours*).

    Loss and optimiser (Eq. 10):
        lambda2: weight of ``||w||^2`` (paper: 1e-7).
        optimizer: ``"adam"`` (CREST) or ``"sgd"`` (with ``momentum``).
        momentum: SGD momentum (*ours*: 0.9).
        normalize_features: divide ``xL`` by its frame-1 RMS (*ours*, as in the CREST baseline: the
            learning rates then do not depend on the backbone's feature scale).

    Learning rates are in *fan-in units* (*ours*): the optimiser runs with ``lr / (channels x
    kernel^2)``, so that one Adam step changes a response by about the same amount whatever the
    number of channels (Adam moves every weight by about ``lr``; a response sums ``C k^2`` of them).
    With ``C = 256``, ``k = 7`` (fan-in 12544), ``init_lr = 0.3`` is Adam's 2.4e-5. Measured on real
    (normalised) conv3_3 features of a synthetic sequence, frame 1: Adam at 1e-4 (fan-in 1.25)
    overshoots to 15x the zero-response loss in its first 10 steps (1e-3: 1600x) before it
    recovers, 2e-5 does not; SGD at 1e-2 diverges.

    First frame (our reading: "many iterations on frame 1", CREST-like):
        init_lr: learning rate, fan-in units (*ours*).
        init_max_steps: cap on the steps (*ours*: 100 for the CPU, ~0.1-0.3 s a step on 2 cores;
            CREST: up to 4000 epochs).
        init_loss_threshold: stop once the loss is below this fraction of the loss of a zero
            response (``mean_b sum_l mean_hw y^2``; *ours*: CREST's absolute 0.02 belongs to its
            own, differently scaled loss; on real conv3_3 features Adam reaches 0.1 in ~100 steps).
        init_check_every: read the loss back every this many steps (*ours*; one synchronisation each).
        init_shifts: extra training copies of frame 1, features and labels shifted together by
            ``(dx, dy)`` cells with zero fill (*ours*, off by default: the convolution is
            translation-equivariant, so such copies differ only at the map border; real
            augmentation needs new crops of the image, which :meth:`PartTracker.init` accepts as
            a batch).

    Online update (paper: last T frames; schedule CREST's):
        T: ring-buffer length, the last T tracked frames (paper: 12). Frame 1 is the first entry.
        update_interval: train every this many frames (CREST: 2).
        update_steps: optimiser steps per update (CREST: 2).
        update_lr: learning rate of the updates, fan-in units (*ours*; 1/3 of ``init_lr``).
        update_min_peak: frames whose combined peak is below it are neither stored nor trained on
            (CREST's 0.15 gate, as the CREST baseline reads it).
        fresh_update_optimizer: a new optimiser state for every update (CREST: yes).
    """

    grid: int = 3
    kernel: int = 7
    channels: int = 256
    bias: bool = False
    init_std: float = 0.0
    seed: int = 0
    single_channel: bool = False

    label_sigma_factor: float = 0.1
    min_label_sigma: float = 0.5

    combine: CombineMode = "mean"
    prior: PriorKind = "delta"
    prior_sigma: float = 1.0

    lambda2: float = 1e-7
    optimizer: OptimizerName = "adam"
    momentum: float = 0.9
    normalize_features: bool = True

    init_lr: float = 0.3
    init_max_steps: int = 100
    init_loss_threshold: float = 0.1
    init_check_every: int = 10
    init_shifts: tuple[tuple[int, int], ...] = field(default_factory=tuple)

    T: int = 12
    update_interval: int = 2
    update_steps: int = 2
    update_lr: float = 0.1
    update_min_peak: float = 0.15
    fresh_update_optimizer: bool = True

    def __post_init__(self) -> None:
        self.init_shifts = tuple((int(dx), int(dy)) for dx, dy in self.init_shifts)
        for name in ("grid", "kernel", "channels", "T", "update_interval", "init_check_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.kernel % 2 == 0:
            raise ValueError(f"kernel must be odd (a centred 'same' convolution), got {self.kernel}")
        for name in ("update_steps", "init_max_steps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("label_sigma_factor", "min_label_sigma", "prior_sigma", "init_lr", "update_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.lambda2 < 0 or self.init_std < 0 or self.init_loss_threshold < 0:
            raise ValueError("lambda2, init_std and init_loss_threshold must be >= 0")
        if self.combine not in COMBINE_MODES:
            raise ValueError(f"combine must be one of {COMBINE_MODES}, got {self.combine!r}")
        if self.prior not in PRIOR_KINDS:
            raise ValueError(f"prior must be one of {PRIOR_KINDS}, got {self.prior!r}")
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}")

    @property
    def out_channels(self) -> int:
        """Output channels: ``grid ** 2`` (9), or 1 for ``single_channel``."""
        return 1 if self.single_channel else self.grid**2



# --------------------------------------------------------------------------- geometry of the parts


def pixels_to_cells(box_px: Any, stride: int = 4) -> Any:
    """A box ``(cx, cy, w, h)`` in patch pixels (0-based pixel centres) -> the same box in cells.

    Cell ``i`` of a stride-``s`` map is centred on pixel ``s i + (s - 1) / 2``
    (:func:`rankatt_lib.features.vgg16.cell_centre`), so ``c = (p - (s - 1) / 2) / s`` and sizes are
    divided by ``s``. ``(127, 127, 88, 88)`` in a 255 px patch -> ``(31.375, 31.375, 22, 22)``.

    Args:
        box_px: ``(..., 4)`` list, array or tensor.
        stride: 4 for ``xL`` (conv3_3), 8 for ``xS`` (conv4_3).

    Returns:
        ``(..., 4)``: a tensor for a tensor input, else a float64 numpy array.
    """
    b = box_px if isinstance(box_px, torch.Tensor) else np.asarray(box_px, dtype=np.float64)
    if b.ndim == 0 or b.shape[-1] != 4:
        raise ValueError(f"a box is (cx, cy, w, h) in its last dimension, got shape {tuple(b.shape)}")
    off = (stride - 1) / 2
    parts = [(b[..., 0] - off) / stride, (b[..., 1] - off) / stride, b[..., 2] / stride, b[..., 3] / stride]
    return torch.stack(parts, dim=-1) if isinstance(b, torch.Tensor) else np.stack(parts, axis=-1)


def _grid_fractions(grid: int) -> np.ndarray:
    """``(g*g, 2)`` part centre offsets in units of the target size: ``(col - (g-1)/2) / g`` etc."""
    if int(grid) < 1:
        raise ValueError(f"grid must be >= 1, got {grid}")
    g = int(grid)
    k = (np.arange(g, dtype=np.float64) - (g - 1) / 2) / g
    fy, fx = np.meshgrid(k, k, indexing="ij")  # row-major: l = row * g + col
    return np.stack([fx.reshape(-1), fy.reshape(-1)], axis=1)


def part_offsets(size_cells: Any, grid: int = 3) -> np.ndarray:
    """Offsets ``o_l`` = part centre - target centre, in cells, for a target ``(w, h)`` cells large.

    Args:
        size_cells: ``(w, h)`` of the target in cells.
        grid: parts per side.

    Returns:
        ``(grid**2, 2)`` float64 ``(dx, dy)``, parts in row-major order (see the module docstring).
    """
    wh = np.asarray(size_cells.detach().cpu() if isinstance(size_cells, torch.Tensor) else size_cells, np.float64)
    wh = wh.reshape(-1)
    if wh.shape != (2,) or not np.all(np.isfinite(wh)) or np.any(wh <= 0):
        raise ValueError(f"size_cells must be a positive (w, h), got {size_cells!r}")
    return _grid_fractions(grid) * wh[None, :]


def part_centres(box_in_map_cells: Any, grid: int = 3) -> Any:
    """Centres of the ``grid x grid`` parts of a box, in feature-map cells.

    Args:
        box_in_map_cells: ``(cx, cy, w, h)``: the target centre in (fractional, 0-based) cell
            coordinates and its size in cells (:func:`pixels_to_cells` converts from patch pixels).
            A tensor stays on its device (no synchronisation: labels of a tracked frame can be built
            where its peak was found).
        grid: parts per side (paper: 3).

    Returns:
        ``(grid**2, 2)`` points ``(x, y)``, part ``l = row * grid + col``: a tensor (same device,
        float dtype) for a tensor input, else float64 numpy. For ``(31, 31, 21, 21)``:
        ``(24, 24), (31, 24), (38, 24), (24, 31), ..., (38, 38)``.
    """
    frac = _grid_fractions(grid)
    if isinstance(box_in_map_cells, torch.Tensor):
        b = box_in_map_cells if box_in_map_cells.is_floating_point() else box_in_map_cells.double()
        if b.shape != (4,):
            raise ValueError(f"box_in_map_cells must be (cx, cy, w, h), got shape {tuple(b.shape)}")
        f = torch.as_tensor(frac, dtype=b.dtype, device=b.device)
        return b[:2][None, :] + f * b[2:][None, :]
    b = np.asarray(box_in_map_cells, dtype=np.float64).reshape(-1)
    if b.shape != (4,) or not np.all(np.isfinite(b)):
        raise ValueError(f"box_in_map_cells must be a finite (cx, cy, w, h), got {box_in_map_cells!r}")
    if b[2] <= 0 or b[3] <= 0:
        raise ValueError(f"the box must have a positive size, got w={b[2]:g}, h={b[3]:g}")
    return b[None, :2] + frac * b[None, 2:]


def label_sigma(size_cells: Any, factor: float = 0.1, minimum: float = 0.5) -> tuple[float, float]:
    """Label sigma ``(sigma_y, sigma_x)`` in cells: ``max(factor x (h, w), minimum)`` (CREST: 0.1).

    The same for every part (see :attr:`PartTrackerConfig.label_sigma_factor`).
    """
    return _label_sigma(size_cells, factor, minimum)  # one definition, shared with h0's label


def part_labels(
    map_size: int | Sequence[int],
    part_centres: Any,
    sigma: float | Sequence[float],
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    r"""The labels :math:`y^{L(l)}` of Eq. 10: a 2-D Gaussian (peak 1) on each part centre.

    ``y[l, i, j] = exp(-(j - x_l)^2 / (2 s_x^2) - (i - y_l)^2 / (2 s_y^2))``, the same formula as
    :func:`rankatt_lib.features.geometry.gaussian_labels`, but a tensor of centres stays on its device.

    Args:
        map_size: ``n`` or ``(h, w)`` of the feature map (``(63, 63)`` for ``xL`` of a 255 px patch).
        part_centres: ``(K, 2)`` points ``(x, y)`` in cells (:func:`part_centres`); ``K = 9`` for
            the parts, 1 for the single-channel variant.
        sigma: a number or ``(sigma_y, sigma_x)`` in cells (:func:`label_sigma`).
        device: for non-tensor centres (``None``: CPU); a tensor's own device otherwise.
        dtype: float dtype of the result.

    Returns:
        ``(K, h, w)``: 1 exactly at a centre that lies on a cell.
    """
    hw = np.asarray(map_size, dtype=np.int64).reshape(-1)
    if hw.size == 1:
        hw = np.repeat(hw, 2)
    if hw.size != 2 or np.any(hw < 1):
        raise ValueError(f"map_size must be n or (h, w) with positive entries, got {map_size!r}")
    sig = np.asarray(sigma, dtype=np.float64).reshape(-1)
    if sig.size == 1:
        sig = np.repeat(sig, 2)
    if sig.size != 2 or not np.all(sig > 0):
        raise ValueError(f"sigma must be > 0 or a pair (sigma_y, sigma_x) of them, got {sigma!r}")
    if isinstance(part_centres, torch.Tensor):
        c = part_centres.to(torch.float32 if dtype != torch.float64 else torch.float64)
    else:
        arr = np.asarray(part_centres, dtype=np.float64)
        c = torch.as_tensor(arr, dtype=torch.float64, device=device)
    if c.ndim == 1:
        c = c.reshape(1, -1)
    if c.ndim != 2 or c.shape[1] != 2:
        raise ValueError(f"part_centres must be (K, 2) points (x, y), got shape {tuple(c.shape)}")
    h, w = int(hw[0]), int(hw[1])
    xs = torch.arange(w, dtype=c.dtype, device=c.device)
    ys = torch.arange(h, dtype=c.dtype, device=c.device)
    gx = torch.exp(-0.5 * ((xs[None, :] - c[:, :1]) / float(sig[1])) ** 2)  # (K, w)
    gy = torch.exp(-0.5 * ((ys[None, :] - c[:, 1:]) / float(sig[0])) ** 2)  # (K, h)
    return (gy[:, :, None] * gx[:, None, :]).to(dtype)


def prior_kernel(
    part_offsets: Any,
    size: int | None = None,
    *,
    kind: PriorKind = "delta",
    combine: CombineMode = "mean",
    sigma: float = 1.0,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The paper's "convolution kernel with prior information" (§2.2): every part votes for the target.

    For part ``l`` with offset ``o_l`` (part centre - target centre, :func:`part_offsets`), channel
    ``l`` of the kernel is a unit vote at ``c + o_l``, ``c = (size // 2, size // 2)`` the kernel
    centre. Cross-correlated with the part responses (``F.conv2d(parts, K, padding=size // 2)``,
    :meth:`PartTracker.combine`), the combined map at ``t`` reads channel ``l`` at ``t + o_l``:
    a set of channels peaking at their parts' positions combines into one peak at the target.

    Args:
        part_offsets: ``(L, 2)`` offsets ``(dx, dy)`` in cells (fractional allowed).
        size: odd kernel side; ``None``: the smallest that holds every vote. Too small: ValueError.
        kind: ``"delta"``: a fractional vote is split bilinearly over its 4 nearest cells (weights
            sum to 1, exact for integer offsets); ``"gaussian"``: a Gaussian of ``sigma`` cells at
            ``c + o_l``, normalised to sum 1 (cut at 3 sigma).
        combine: ``"mean"`` (each channel weighs 1/L) or ``"sum"`` (1).
        sigma: the Gaussian's sigma in cells (``kind="gaussian"``).
        device, dtype: of the result (``None``: CPU).

    Returns:
        ``(1, L, size, size)``.
    """
    if kind not in PRIOR_KINDS:
        raise ValueError(f"kind must be one of {PRIOR_KINDS}, got {kind!r}")
    if combine not in COMBINE_MODES:
        raise ValueError(f"combine must be one of {COMBINE_MODES}, got {combine!r}")
    off = np.asarray(
        part_offsets.detach().cpu() if isinstance(part_offsets, torch.Tensor) else part_offsets, dtype=np.float64
    )
    if off.ndim != 2 or off.shape[1] != 2 or off.shape[0] < 1 or not np.all(np.isfinite(off)):
        raise ValueError(f"part_offsets must be finite (L, 2) offsets (dx, dy), got shape {off.shape}")
    if kind == "gaussian" and not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    n_parts = off.shape[0]
    reach = float(np.abs(off).max())
    margin = math.ceil(3.0 * sigma) if kind == "gaussian" else 0
    # the farthest vote touches cells up to ceil(reach) from the centre (+ the Gaussian's tail)
    need = 2 * (math.ceil(reach - 1e-9) + margin) + 1
    if size is None:
        size = need
    if int(size) != size or size < 1 or size % 2 == 0:
        raise ValueError(f"size must be a positive odd integer, got {size}")
    size = int(size)
    if size < need:
        raise ValueError(f"a {size} x {size} kernel cannot hold offsets up to {reach:g} cells; need {need}")
    c = size // 2
    k = np.zeros((n_parts, size, size), dtype=np.float64)
    if kind == "delta":
        for i, (dx, dy) in enumerate(off):
            px, py = c + dx, c + dy
            x0, y0 = math.floor(px), math.floor(py)
            fx, fy = px - x0, py - y0
            for yy, wy in ((y0, 1 - fy), (y0 + 1, fy)):
                for xx, wx in ((x0, 1 - fx), (x0 + 1, fx)):
                    if wx * wy > 0:
                        k[i, yy, xx] += wx * wy
    else:
        u = np.arange(size, dtype=np.float64)
        for i, (dx, dy) in enumerate(off):
            gx = np.exp(-0.5 * ((u - c - dx) / sigma) ** 2)
            gy = np.exp(-0.5 * ((u - c - dy) / sigma) ** 2)
            gx[np.abs(u - c - dx) > 3 * sigma] = 0.0
            gy[np.abs(u - c - dy) > 3 * sigma] = 0.0
            g = gy[:, None] * gx[None, :]
            k[i] = g / g.sum()
    if combine == "mean":
        k /= n_parts
    return torch.as_tensor(k, dtype=dtype, device=device).unsqueeze(0)


def shift_pair(x: torch.Tensor, y: torch.Tensor, dx: int, dy: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift features and labels together by ``(dx, dy)`` cells (zero fill): ``out[..., i, j] =
    in[..., i - dy, j - dx]``. Shapes ``(..., h, w)`` are kept."""

    def shift(t: torch.Tensor) -> torch.Tensor:
        h, w = t.shape[-2:]
        if abs(dx) >= w or abs(dy) >= h:
            return torch.zeros_like(t)
        p = F.pad(t, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))
        y0, x0 = max(-dy, 0), max(-dx, 0)
        return p[..., y0 : y0 + h, x0 : x0 + w]

    return shift(x), shift(y)


# --------------------------------------------------------------------------- the tracker's model


@dataclass
class PartInitInfo:
    """What :meth:`PartTracker.init` did.

    Attributes:
        steps: optimiser steps taken.
        loss: Eq. 10 loss after the last step.
        baseline: loss of a zero response (the labels' energy); the threshold is relative to it.
        converged: the loss reached ``init_loss_threshold x baseline`` (else the step cap stopped it).
        history: ``(step, loss)`` before training and after every ``init_check_every`` steps.
    """

    steps: int
    loss: float
    baseline: float
    converged: bool
    history: list[tuple[int, float]]


def _trainable(t: torch.Tensor) -> torch.Tensor:
    """``t``, or a normal copy of it when it was made under ``torch.inference_mode()`` (autograd
    cannot save inference tensors for the backward pass of Eq. 10)."""
    return t.clone() if t.is_inference() else t


def _require_grad_mode(what: str) -> None:
    if torch.is_inference_mode_enabled():
        raise RuntimeError(
            f"PartTracker.{what} trains the part weights (Eq. 10) and cannot run inside torch.inference_mode(); "
            "call it outside (features computed under inference_mode are accepted)"
        )


class PartTracker(nn.Module):
    r"""The part-based multi-channel convolutional tracker of §2.2: weights, prior kernel, Eq. 10.

    ``w`` (:attr:`weight`) is ``(9, C, 7, 7)`` (``C = 256``; PyTorch's ``(out, in, kh, kw)`` order
    of the paper's :math:`w_t \in \mathbb{R}^{9 \times 7 \times 7 \times 256}`), applied with padding
    3. :meth:`forward` gives the 9 part responses, :meth:`combine` the single response.

    Online learning: :meth:`init` (frame 1, many steps), then per tracked frame :meth:`observe`
    (CREST's schedule, :class:`~rankatt_lib.components.online.UpdateSchedule`: store the sample of a
    confident frame in the ring buffer of the last ``T`` frames,
    :class:`~rankatt_lib.components.online.SampleBuffer`, and train on it every ``update_interval``
    frames); or :meth:`push` / :meth:`update` by hand.

    Args:
        config: a :class:`PartTrackerConfig` (default: the paper's values).
        **overrides: fields of the config to replace.
    """

    weight: nn.Parameter
    feature_scale: torch.Tensor
    prior: torch.Tensor

    def __init__(self, config: PartTrackerConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        cfg = make_config(PartTrackerConfig, config, overrides)
        self.config = cfg
        k, n_out = cfg.kernel, cfg.out_channels
        gen = torch.Generator().manual_seed(cfg.seed)
        w = torch.zeros(n_out, cfg.channels, k, k)
        if cfg.init_std > 0:
            w = torch.randn(n_out, cfg.channels, k, k, generator=gen) * cfg.init_std
        self.weight = nn.Parameter(w)
        self.bias = nn.Parameter(torch.zeros(n_out)) if cfg.bias else None
        # 1 / RMS of the frame-1 features (normalize_features), part of the state dict
        self.register_buffer("feature_scale", torch.ones(()))
        # the prior kernel (1, 9, k, k): derived from the target size, so not in the state dict
        self.register_buffer("prior", torch.zeros(0), persistent=False)
        self.target_size: tuple[float, float] | None = None

        self.schedule = UpdateSchedule(cfg.update_interval, cfg.update_min_peak)
        self.buffer: SampleBuffer | None = None
        self._optimizer: torch.optim.Optimizer | None = None
        self.init_info: PartInitInfo | None = None
        self.update_frames: list[int] = []

    # -- shapes --
    @property
    def out_channels(self) -> int:
        """9 (``grid ** 2``), or 1 for the single-channel variant."""
        return self.config.out_channels

    def _check_x(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.config.channels:
            raise ValueError(f"xL must be (B, {self.config.channels}, h, w), got shape {tuple(x.shape)}")

    def _check_xy(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self._check_x(x)
        want = (x.shape[0], self.out_channels, *x.shape[-2:])
        if tuple(y.shape) != want:
            raise ValueError(f"yL must be {want} for xL {tuple(x.shape)}, got shape {tuple(y.shape)}")

    # -- geometry --
    def set_target_size(self, size_cells: Any) -> None:
        """Rebuild the prior kernel for a target ``(w, h)`` cells large (parts move with the box).

        Call it at init and whenever the target's size in cells changes (a no-op for the
        single-channel variant, which has no prior kernel).
        """
        wh = np.asarray(size_cells, dtype=np.float64).reshape(-1)
        if wh.shape != (2,) or not np.all(wh > 0):
            raise ValueError(f"size_cells must be a positive (w, h), got {size_cells!r}")
        self.target_size = (float(wh[0]), float(wh[1]))
        if self.config.single_channel:
            return
        cfg = self.config
        self.prior = prior_kernel(
            part_offsets(wh, cfg.grid),
            kind=cfg.prior,
            combine=cfg.combine,
            sigma=cfg.prior_sigma,
            device=self.weight.device,
            dtype=self.weight.dtype,
        )

    def labels(self, centre_cells: Any, size_cells: Any, map_size: int | Sequence[int]) -> torch.Tensor:
        """The training labels of a box in cells: ``(9, h, w)`` part Gaussians (:func:`part_labels`),
        or ``(1, h, w)`` on the target centre for ``single_channel``.

        Args:
            centre_cells: ``(cx, cy)`` in cells; a tensor (e.g. a peak found on the device) stays
                on its device, no synchronisation.
            size_cells: ``(w, h)`` of the target in cells (host numbers: the tracker's state).
            map_size: ``n`` or ``(h, w)`` of the map.
        """
        cfg = self.config
        wh = np.asarray(size_cells, dtype=np.float64).reshape(-1)
        sigma = label_sigma(wh, cfg.label_sigma_factor, cfg.min_label_sigma)
        if isinstance(centre_cells, torch.Tensor):
            if centre_cells.numel() != 2:
                raise ValueError(f"centre_cells must be (cx, cy), got shape {tuple(centre_cells.shape)}")
            c = centre_cells.reshape(2).to(self.weight.dtype)
            box: Any = torch.cat([c, torch.as_tensor(wh, dtype=c.dtype).to(c.device, non_blocking=True)])
            dev = None
        else:
            box = np.concatenate([np.asarray(centre_cells, dtype=np.float64).reshape(-1), wh])
            dev = self.weight.device
        if tuple(box.shape) != (4,):
            raise ValueError(f"expected a centre (cx, cy) and a size (w, h), got {centre_cells!r}, {size_cells!r}")
        centres = box[None, :2] if cfg.single_channel else part_centres(box, cfg.grid)
        return part_labels(map_size, centres, sigma, device=dev, dtype=self.weight.dtype)

    # -- responses --
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Part responses ``w * xL``: ``(B, C, h, w)`` -> ``(B, 9, h, w)`` (``(B, 1, h, w)`` single-channel).

        With ``normalize_features`` the features are divided by their frame-1 RMS (applied to the
        output, ``conv(s x) = s conv(x)``, to spare a copy of ``x``).
        """
        self._check_x(x)
        out = F.conv2d(x, self.weight.to(x.dtype), None, padding=self.config.kernel // 2)
        out = out * self.feature_scale.to(x.dtype)
        if self.bias is not None:
            out = out + self.bias.to(x.dtype)[None, :, None, None]
        return out

    def combine(self, parts: torch.Tensor) -> torch.Tensor:
        """The prior kernel: ``(B, 9, h, w)`` part responses -> ``(B, 1, h, w)`` (identity for one channel).

        Raises:
            RuntimeError: the prior kernel was never built (:meth:`set_target_size`).
        """
        if parts.ndim != 4 or parts.shape[1] != self.out_channels:
            raise ValueError(f"parts must be (B, {self.out_channels}, h, w), got shape {tuple(parts.shape)}")
        if self.config.single_channel:
            return parts
        if self.prior.numel() == 0:
            raise RuntimeError("no prior kernel: call set_target_size((w, h)) (or init) first")
        return F.conv2d(parts, self.prior.to(parts.dtype), padding=self.prior.shape[-1] // 2)

    def response(self, x: torch.Tensor) -> torch.Tensor:
        """``combine(forward(x))``: ``(B, C, h, w)`` -> the final response ``(B, 1, h, w)``."""
        return self.combine(self.forward(x))

    # -- Eq. 10 --
    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        r"""Eq. 10, averaged over the batch of frames:
        :math:`\frac{1}{B}\sum_b \frac{1}{hw} \sum_l \sum_{h,w} (w^{(l)} * x_b - y_b^{(l)})^2 + \lambda_2 \|w\|^2`.

        ``h x w`` is the map's actual size (63 x 63 = 3969 for H = W = 255; the paper's
        ``H/4 x W/4`` = 4064 up to the pooling's rounding); the sum over parts is *not* divided
        by 9; the penalty is on the weights only (not the bias).

        Args:
            x: ``(B, C, h, w)`` features.
            y: ``(B, 9, h, w)`` labels (``(B, 1, h, w)`` single-channel).

        Returns:
            A 0-d tensor (with autograd).
        """
        self._check_xy(x, y)
        err = (self.forward(x) - y.to(x.dtype)).square()
        h, w = x.shape[-2:]
        data = err.sum(dim=(1, 2, 3)).mean() / (h * w)
        return data + self.config.lambda2 * self.weight.square().sum()

    @property
    def fan_in(self) -> int:
        """``channels x kernel^2`` (12544): learning rates are divided by it."""
        return self.config.channels * self.config.kernel**2

    def make_optimizer(self, lr: float) -> torch.optim.Optimizer:
        """Adam (default) or SGD with momentum on ``w`` (and the bias), as configured, at the
        learning rate ``lr / fan_in`` (``lr`` in fan-in units, see :class:`PartTrackerConfig`)."""
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        params = [p for p in self.parameters() if p.requires_grad]
        raw = float(lr) / self.fan_in
        if self.config.optimizer == "adam":
            return torch.optim.Adam(params, lr=raw)
        return torch.optim.SGD(params, lr=raw, momentum=self.config.momentum)

    def fit(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        steps: int,
        lr: float | None = None,
        optimizer: torch.optim.Optimizer | None = None,
    ) -> torch.Tensor:
        """``steps`` optimiser steps on Eq. 10 over the batch ``(x, y)``; no host synchronisation.

        Args:
            x: ``(B, C, h, w)``; y: ``(B, 9, h, w)``.
            steps: number of steps (0: nothing).
            lr: learning rate (fan-in units) of a fresh optimiser (default ``update_lr``); ignored
                with ``optimizer``.
            optimizer: continue with this one (keeps Adam's moments between calls).

        Returns:
            The loss of the last step (evaluated before that step), detached, on the device;
            ``float(...)`` it only when a number is wanted (a synchronisation). NaN when ``steps == 0``.
        """
        self._check_xy(x, y)
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        _require_grad_mode("fit")
        x, y = _trainable(x), _trainable(y)
        opt = optimizer if optimizer is not None else self.make_optimizer(self.config.update_lr if lr is None else lr)
        last = torch.full((), float("nan"), device=x.device)
        for _ in range(int(steps)):
            opt.zero_grad(set_to_none=True)
            loss = self.loss(x, y)
            loss.backward()
            opt.step()
            last = loss.detach()
        return last

    # -- first frame --
    def init(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        target_size: Any | None = None,
        *,
        max_steps: int | None = None,
        threshold: float | None = None,
        shifts: Sequence[tuple[int, int]] | None = None,
        lr: float | None = None,
    ) -> PartInitInfo:
        """First-frame training (CREST-like): steps until the loss is below ``threshold x baseline``
        or ``max_steps``; then the ring buffer restarts with frame 1's pair as its first entry.

        Args:
            x: ``(C, h, w)`` or ``(A, C, h, w)`` features of frame 1 (``A`` augmented crops made by
                the caller, the first being the frame itself).
            y: ``(9, h, w)`` or ``(A, 9, h, w)`` labels (:meth:`labels`).
            target_size: ``(w, h)`` of the target in cells; builds the prior kernel
                (:meth:`set_target_size`). Required unless already set (or single-channel).
            max_steps, threshold, shifts, lr: override ``init_max_steps``,
                ``init_loss_threshold``, ``init_shifts`` and ``init_lr``.

        Returns:
            :class:`PartInitInfo` (also kept as :attr:`init_info`).
        """
        cfg = self.config
        if x.ndim == 3:
            x = x[None]
        if y.ndim == 3:
            y = y[None]
        self._check_xy(x, y)
        if target_size is not None:
            self.set_target_size(target_size)
        elif self.target_size is None and not cfg.single_channel:
            raise ValueError("init needs target_size=(w, h) in cells to build the prior kernel")
        max_steps = cfg.init_max_steps if max_steps is None else int(max_steps)
        threshold = cfg.init_loss_threshold if threshold is None else float(threshold)
        shifts = cfg.init_shifts if shifts is None else tuple(shifts)
        _require_grad_mode("init")
        x = _trainable(x.detach())
        y = _trainable(y.detach().to(x.dtype))
        with torch.no_grad():
            if cfg.normalize_features:
                self.feature_scale.copy_(x[0].square().mean().sqrt().clamp_min(1e-12).reciprocal())
            else:
                self.feature_scale.fill_(1.0)
        first = (x[0], y[0])
        if shifts:
            pairs = [shift_pair(x[:1], y[:1], int(dx), int(dy)) for dx, dy in shifts]
            x = torch.cat([x, *(p[0] for p in pairs)])
            y = torch.cat([y, *(p[1] for p in pairs)])

        opt = self.make_optimizer(cfg.init_lr if lr is None else lr)
        with torch.no_grad():
            h, w = x.shape[-2:]
            baseline = float(y.square().sum(dim=(1, 2, 3)).mean() / (h * w))
            history = [(0, float(self.loss(x, y)))]
        steps = 0
        while history[-1][1] >= threshold * baseline and steps < max_steps:
            chunk = min(cfg.init_check_every, max_steps - steps)
            self.fit(x, y, chunk, optimizer=opt)
            steps += chunk
            with torch.no_grad():  # one read per chunk
                history.append((steps, float(self.loss(x, y))))
        final = history[-1][1]
        self.init_info = PartInitInfo(steps, final, baseline, final < threshold * baseline, history)


        self.buffer = SampleBuffer(cfg.T, tuple(first[0].shape), tuple(first[1].shape), x.device, x.dtype)
        self.buffer.push(*first)
        self._optimizer = None if cfg.fresh_update_optimizer else self.make_optimizer(cfg.update_lr)
        self.update_frames = []
        return self.init_info

    # -- online update --
    def push(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Store one tracked frame's pair ``x (C, h, w)``, ``y (9, h, w)`` in the ring buffer of the
        last ``T`` frames (the oldest is overwritten; a device copy, no synchronisation)."""
        if x.ndim != 3 or y.ndim != 3:
            raise ValueError(
                f"push takes one sample x (C, h, w) and y (9, h, w), got {tuple(x.shape)}, {tuple(y.shape)}"
            )
        self._check_xy(x[None], y[None])
        if self.buffer is None:

            self.buffer = SampleBuffer(self.config.T, tuple(x.shape), tuple(y.shape), x.device, x.dtype)
        self.buffer.push(x, y)

    def update(self, steps: int | None = None, lr: float | None = None) -> torch.Tensor:
        """``update_steps`` steps of Eq. 10 on the buffered frames (at most the last ``T``).

        Returns:
            The last step's loss, detached, on the device (NaN if the buffer is empty or no steps).
        """
        cfg = self.config
        steps = cfg.update_steps if steps is None else int(steps)
        if self.buffer is None or len(self.buffer) == 0 or steps == 0:
            return torch.full((), float("nan"), device=self.weight.device)
        opt = (
            self._optimizer if self._optimizer is not None else self.make_optimizer(cfg.update_lr if lr is None else lr)
        )
        return self.fit(self.buffer.features(), self.buffer.labels(), steps, optimizer=opt)

    def observe(self, frame: int, x: torch.Tensor, y: torch.Tensor, peak: float) -> tuple[bool, bool]:
        """One tracked frame: CREST's schedule decides whether to store ``(x, y)`` and whether to train.

        Args:
            frame: 1-based frame number (frame 1 is :meth:`init`'s).
            x: ``(C, h, w)`` features of the frame (the winning scale).
            y: ``(9, h, w)`` labels of the tracked box (:meth:`labels`).
            peak: the combined response's peak (a number the tracker has already read back).

        Returns:
            ``(stored, trained)``.
        """
        store, train = self.schedule.decide(frame, peak)
        if store:
            self.push(x, y)
        if train:
            self.update()
            self.update_frames.append(int(frame))
        return store, train

    def extra_repr(self) -> str:
        cfg = self.config
        kind = "single channel" if cfg.single_channel else f"{cfg.grid}x{cfg.grid} parts, {cfg.combine} of {cfg.prior}"
        return f"{cfg.channels} -> {self.out_channels} channels, kernel {cfg.kernel}, {kind}, T={cfg.T}"
