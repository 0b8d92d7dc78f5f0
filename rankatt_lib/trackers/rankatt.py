r"""The ranking-attention tracker of Peng, Kamata & Breckon (ICIP 2019), wired from the library's pieces.

Per frame ``t >= 2`` (paper §2, Fig. 1-2; book appendix, reading-method):

1. crop the scale pyramid around the previous centre (one :func:`~.base.crop_pyramid` call) and run
   VGG16 **once** on the batch of scales: :math:`x^S_t` = conv4_3 ``(S, 512, 31, 31)``,
   :math:`x^L_t` = conv3_3 ``(S, 256, 63, 63)``;
2. the ranking scores and re-orders its N kernels on the reference (scale-1) patch's
   :math:`x^S_t` (Eq. 1-5, :class:`~rankatt_lib.components.ranking.Ranking`), PreNet + ConvLSTM give the
   attention kernel :math:`h_t` and replace the worst kernel (Eq. 6-7,
   :class:`~rankatt_lib.components.convlstm.RankingUpdater`);
3. attention for every scale: :math:`m_t = h_t * x^S_t` (Eq. 8), upsampled and applied to
   :math:`x^L_t` with the residual connection, :math:`\tilde x^L = x^L (1 + a(m))`
   (:func:`~rankatt_lib.components.attention.apply_attention`);
4. the part-based tracker's 9 channels on :math:`\tilde x^L_t`, combined into one map by the prior
   kernel (:class:`~rankatt_lib.components.parts.PartTracker`), times CREST's motion prior;
5. peak over scales -> scale selection (penalty, confidence gate) -> new centre and damped size;
6. online update of the part tracker (Eq. 10) on its schedule, from a ring buffer of the last
   T = 12 frames whose labels are the tracked boxes; frames with a low peak are not learned from.

Frame 1: :math:`h_0` = the kernel minimising Eq. 9 on frame 1 (:func:`~rankatt_lib.components.init_kernel.init_kernel`),
the ranking = N copies of :math:`h_0`, the hidden state :math:`h = h_0`, and the part tracker
is trained on frame 1's attended :math:`\tilde x^L_1` (attention by :math:`h_0`).

The ranking updater (PreNet + ConvLSTM) is the checkpoint trained offline
(``rankatt_lib/checkpoints/ranking_synthetic.pt``, ``rankatt train``) when it is
present; otherwise the untrained updater (whose initialisation makes it a running average of the
best kernel, :mod:`rankatt_lib.components.convlstm`). Which one was used is
:attr:`RankingAttentionTracker.updater_source` (``"checkpoint"`` or ``"untrained"``), never guessed.

Ablations (config switches, also registered by name): ``use_ranking=False`` (``"rankatt-noranking"``:
the attention kernel is :math:`h_0`, fixed for the whole sequence), ``n_kernels=1``
(``"rankatt-n1"``), ``use_attention=False`` (``"rankatt-noattention"``: :math:`x^L` unchanged, no
ranking network run at all), ``single_channel=True`` (``"rankatt-single"``: one channel on the whole
target instead of 9 parts), ``attention_variant="multiply"`` (``"rankatt-multiply"``) and
``updater="untrained"`` (``"rankatt-untrained"``), ``T=4`` (``"rankatt-t4"``: a ring buffer of 4
frames instead of the paper's 12).

Synchronisation: per frame the tracker reads one small tensor back (peak position and value, the
chosen scale, the peaks of every scale). Frame 1 reads a few more (the part tracker's first-frame
loss, every ``init_check_every`` steps). Everything in :attr:`RankingAttentionTracker.last` stays
on the device.

Execution: steps 1-5 of a frame are one pure function of tensors, :func:`detect_step`, which
``config.compile`` hands to ``torch.compile`` (``"reduce-overhead"``: CUDA graphs on a GPU); the
crop before it and the Eq. 10 update after it stay eager. Under CUDA graphs the tensors of
:attr:`RankingAttentionTracker.last` live in the graph's output buffers, which the next frame
overwrites: read them before calling ``update`` again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np
import torch

from rankatt_lib.components.attention import (
    ATTENTION_VARIANTS,
    AttentionConfig,
    AttentionVariant,
    apply_attention,
    attention_map,
)
from rankatt_lib.components.convlstm import RankingUpdater
from rankatt_lib.components.init_kernel import DEFAULT_INIT_ITERS, init_kernel, target_label
from rankatt_lib.components.parts import PartInitInfo, PartTracker, PartTrackerConfig
from rankatt_lib.components.pnr import DEFAULT_PNR_EPS
from rankatt_lib.components.ranking import Ranking
from rankatt_lib.configs import check_groups, make_config
from rankatt_lib.features.vgg16 import VGG16Features
from rankatt_lib.registry import register
from rankatt_lib.trackers.base import (
    COMPILE_MODES,
    PART_TRACKER_SCALE_NORMALISATIONS,
    DeepTrackerBase,
    ExecutionConfig,
    Profiler,
    SearchConfig,
    SearchGeometry,
    backbone_autocast,
    choose_scale,
    crop_pyramid,
    damped_size,
    find_peaks,
    motion_prior,
    scale_calibration,
    scale_trend_calibration,
)

__all__ = [
    "COMPILE_MODES",
    "DEFAULT_CHECKPOINT",
    "DetectConfig",
    "DetectOutputs",
    "RankingAttentionConfig",
    "RankingAttentionFrameInfo",
    "RankingAttentionInitInfo",
    "RankingAttentionTracker",
    "compiled_detect_step",
    "detect_step",
    "kernel_scale_scores",
    "part_layout_scores",
]

#: Where the offline-trained ranking updater ships (``rankatt train`` writes it).
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "ranking_synthetic.pt"

UpdaterChoice = Literal["auto", "checkpoint", "untrained"]
_UPDATER_CHOICES = ("auto", "checkpoint", "untrained")

#: ``RankingAttentionConfig.ranking_init`` (the readings of issue #20, ``data_scripts/screen_readings.py``):
#: ``"copies"`` (N copies of h0, our reading, the default), ``"augmented"`` (h0 and N - 1
#: kernels fitted on augmented copies of frame 1's patch), ``"first_frames"`` (h0 alone; each
#: frame's new cell state is appended until the ranking holds N kernels).
RankingInit = Literal["copies", "augmented", "first_frames"]
RANKING_INITS: tuple[str, ...] = ("copies", "augmented", "first_frames")
#: ``RankingAttentionConfig.cell_input``: the cell state that goes into the ConvLSTM: ``"best"``
#: (:math:`c^{(1st)}_t`, Eq. 6 as printed, the default) or ``"carried"`` (the cell's own previous
#: output, as in the N = 1 offline training).
CellInput = Literal["best", "carried"]
CELL_INPUTS: tuple[str, ...] = ("best", "carried")
#: The augmentations of frame 1's patch that ``ranking_init="augmented"`` can fit kernels on.
#: Default order = most distinct from h0 first among plausible appearance changes (cosine with h0 on
#: two validation sequences: scale 0.68-0.71, scale_down 0.73-0.75, flip 0.22-0.41, blur 0.92-0.95,
#: shift 0.97, brightness 0.97-0.98), so N = 3 fills its two extra slots with the two scalings.
AUGMENTATIONS: tuple[str, ...] = ("scale", "scale_down", "flip", "blur", "shift", "brightness")

# --------------------------------------------------------------------------- configuration


@dataclass
class RankingAttentionConfig:
    """Every number of the ranking-attention tracker: the paper's value where it gives one, else
    our reading's / CREST's (marked), else *ours* (marked). Its own settings first; then, nested,
    the search and scale settings it shares with the other deep trackers (``search``), the part
    tracker's (``parts``) and how it runs (``execution``). Overrides may use the plain names of
    the nested fields (``RankingAttentionConfig`` through :func:`~rankatt_lib.configs.make_config`,
    ``make_tracker("rankatt", T=4)``); the old flat names ``part_grid``, ``part_kernel``,
    ``part_init_max_steps``, ``part_init_lr``, ``part_update_lr`` and ``part_seed`` still work.

    Paper (§2, §3.1):
        n_kernels: ranking length N (paper: 3).
        kernel_size: side of the ranking's kernels and of h (paper: 11 cells of conv4_3).
        lambda1: Eq. 9's weight on ``||h||^2`` (paper: 1e-10), used by the frame-1 init of h0.

    Ranking and attention (switches for the ablation chapter):
        use_attention: apply the attention map to xL (False: xL unchanged and the ranking network
            is not run).
        use_ranking: update the ranking / h with the ConvLSTM every frame (False: the "without
            ranking" baseline, a single fixed h0 as the attention kernel).
        attention_variant: ``"residual"`` (our reading: ``xL (1 + a)``), ``"multiply"`` or ``"none"``.
        attention_upsample: ``"cells"`` (on the backbone's cell geometry) or ``"resize"``.
        init_iters: CG iterations of the Eq. 9 solve for h0 (*ours*, :data:`DEFAULT_INIT_ITERS`).
        init_sigma_factor: sigma of Eq. 9's Gaussian label / target size in cells (CREST: 0.1).
        updater: ``"auto"`` (the checkpoint if the file exists, else untrained), ``"checkpoint"``
            (the file must exist) or ``"untrained"`` (the ConvLSTM's initialisation, seeded, with the
            checkpoint's :class:`~rankatt_lib.components.convlstm.RankingUpdaterConfig` when the
            file exists, so that the ablation compares the trained updater with its own starting point).
        checkpoint: path of the updater checkpoint; ``None`` = :data:`DEFAULT_CHECKPOINT`.
        updater_seed: seed of the untrained updater's initialisation (*ours*).

    Readings of the ranking and attention (defaults = the book's behaviour;
    ``data_scripts/screen_readings.py`` screens them on a validation split):
        ranking_init: what fills the N slots on frame 1 (:data:`RANKING_INITS`): ``"copies"`` (N
            copies of h0, our reading), ``"augmented"`` (slot 0 = h0, slot k = the Eq. 9 kernel
            fitted, with the same solver and label width, on frame 1's patch altered by
            ``augmentations[k - 1]``) or ``"first_frames"`` (the ranking starts as h0 alone and the
            new cell state of frames 2, 3, ... is appended, not swapped for the worst kernel,
            until N kernels exist: slot k holds the kernel written on frame k).
        augmentations: the alterations used by ``"augmented"``, in slot order (*ours*;
            :data:`AUGMENTATIONS`:
            ``"shift"`` the crop moved by a quarter of the target's size (right and down), the label
            with it; ``"flip"`` mirrored left-right; ``"blur"`` a Gaussian blur of sigma 2 patch
            pixels; ``"scale"`` / ``"scale_down"`` the search region 1.15x larger / smaller, the
            label's target size accordingly; ``"brightness"`` the pixels x 0.7).
        cell_input: the cell state fed to the ConvLSTM (:data:`CELL_INPUTS`): ``"best"`` (Eq. 6 as
            printed: :math:`c^{(1st)}_t`) or ``"carried"`` (the cell's own new state of the
            previous frame, h0 on frame 2, as in the N = 1 offline training; the ranking still
            ranks, PreNet still reads :math:`c^{(1st)}_t`, and the new state still replaces the worst).
        init_sigma_factor (above) is the attention label's width: it is used for h0 (and the
        augmented kernels) only, never by the part tracker; 0.5 makes the label cover the target.

    Groups:
        search: the search region and the scale search (:class:`~.base.SearchConfig`; CREST's
            values, with ``scale_normalisation="attention"``, *ours*: the peak of the whole-target
            attention kernel's response on each scale, Eq. 8's map refined between cells,
            :func:`kernel_scale_scores`, :math:`h_0`'s map without attention). The other values:
            ``"attention_h0"`` (*ours*: the same on :math:`h_0`'s map, which the ConvLSTM's updates
            do not move), ``"none"`` (CREST's rule, the ``rankatt-crestscale`` variant: the parts'
            raw weighted peaks), ``"frame1"`` and ``"trend"`` (*ours*: calibrated by frame 1's
            peaks, :func:`~.base.scale_calibration`, :func:`~.base.scale_trend_calibration`) or
            ``"parts"`` (*ours*: how well the parts agree on one centre, :func:`part_layout_scores`,
            divided by the same score on frame 1's scales; the single-channel variant, which has no
            parts, uses ``"frame1"`` instead). The part tracker's 7 x 7 kernels are smaller than
            the target and respond more to a target that looks smaller, so with ``"none"`` the 1.05
            scale outscores scale 1 on an unchanged frame and the boxes grow (median size ratio
            1.10 over frames 51+ of the synthetic test split); the attention kernel covers the
            whole target, as CREST's does, and picks the right scale on a repeated or magnified
            frame. The position, the peak value and the confidence gates always read the parts'
            response.
        parts: the part-based tracker (:class:`~rankatt_lib.components.parts.PartTrackerConfig`:
            the paper's 3 x 3 parts of 7 x 7 cells, T = 12 frames, lambda2 = 1e-7, CREST's update
            schedule and 0.15 gate); its ``channels`` are set from the backbone by :meth:`part_config`.
        execution: precision, memory format and compilation (:class:`~.base.ExecutionConfig`).
    """

    #: old flat names of nested settings, accepted by make_config
    ALIASES: ClassVar[dict[str, str]] = {
        "part_grid": "parts.grid",
        "part_kernel": "parts.kernel",
        "part_init_max_steps": "parts.init_max_steps",
        "part_init_lr": "parts.init_lr",
        "part_update_lr": "parts.update_lr",
        "part_seed": "parts.seed",
    }

    n_kernels: int = 3
    kernel_size: int = 11
    lambda1: float = 1e-10

    use_attention: bool = True
    use_ranking: bool = True
    attention_variant: AttentionVariant = "residual"
    attention_upsample: Literal["cells", "resize"] = "cells"
    init_iters: int = DEFAULT_INIT_ITERS
    init_sigma_factor: float = 0.1
    updater: UpdaterChoice = "auto"
    checkpoint: str | None = None
    updater_seed: int = 0
    ranking_init: RankingInit = "copies"
    augmentations: tuple[str, ...] = AUGMENTATIONS
    cell_input: CellInput = "best"

    search: SearchConfig = field(default_factory=lambda: SearchConfig(scale_normalisation="attention"))
    parts: PartTrackerConfig = field(default_factory=PartTrackerConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)

    def __post_init__(self) -> None:
        check_groups(self, search=SearchConfig, parts=PartTrackerConfig, execution=ExecutionConfig)
        if int(self.n_kernels) < 1:
            raise ValueError(f"n_kernels must be >= 1, got {self.n_kernels}")
        k = int(self.kernel_size)
        if k < 1 or k % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {k}")
        if int(self.init_iters) < 0:
            raise ValueError(f"init_iters must be >= 0, got {self.init_iters}")
        if not self.init_sigma_factor > 0:
            raise ValueError(f"init_sigma_factor must be > 0, got {self.init_sigma_factor}")
        if self.search.motion_sigma_factor is None:
            raise ValueError("the ranking-attention tracker needs a motion prior: search.motion_sigma_factor > 0")
        if self.lambda1 < 0:
            raise ValueError("lambda1 must be >= 0")
        if self.attention_variant not in ATTENTION_VARIANTS:
            raise ValueError(f"attention_variant must be one of {ATTENTION_VARIANTS}, got {self.attention_variant!r}")
        if self.ranking_init not in RANKING_INITS:
            raise ValueError(f"ranking_init must be one of {RANKING_INITS}, got {self.ranking_init!r}")
        if self.cell_input not in CELL_INPUTS:
            raise ValueError(f"cell_input must be one of {CELL_INPUTS}, got {self.cell_input!r}")
        self.augmentations = tuple(str(a) for a in self.augmentations)
        bad = [a for a in self.augmentations if a not in AUGMENTATIONS]
        if bad:
            raise ValueError(f"augmentations must be among {AUGMENTATIONS}, got {bad}")
        if self.ranking_init == "augmented" and self.use_ranking and len(self.augmentations) < self.n_kernels - 1:
            raise ValueError(f"ranking_init='augmented' needs n_kernels - 1 = {self.n_kernels - 1} augmentations")
        if self.updater not in _UPDATER_CHOICES:
            raise ValueError(f"updater must be one of {_UPDATER_CHOICES}, got {self.updater!r}")

    @property
    def checkpoint_path(self) -> Path:
        """The updater checkpoint's path (:data:`DEFAULT_CHECKPOINT` unless ``checkpoint`` is set)."""
        return DEFAULT_CHECKPOINT if self.checkpoint is None else Path(self.checkpoint)

    def part_config(self, channels: int = 256) -> PartTrackerConfig:
        """The :class:`~rankatt_lib.components.parts.PartTrackerConfig` of the tracker's parts, with
        the backbone's ``channels``."""
        return dataclasses.replace(self.parts, channels=channels)


# --------------------------------------------------------------------------- internals exposed


@dataclass
class RankingAttentionInitInfo:
    """What ``init`` did on frame 1.

    Attributes:
        h0: ``(1, 512, k, k)`` the Eq. 9 kernel (device tensor).
        label_S: ``(31, 31)`` Eq. 9's label on frame 1.
        target_cells_S: target ``(w, h)`` in conv4_3 cells; target_cells_L: in conv3_3 cells.
        parts: the part tracker's :class:`~rankatt_lib.components.parts.PartInitInfo`.
        updater_source: ``"checkpoint"`` or ``"untrained"``.
    """

    h0: torch.Tensor
    label_S: torch.Tensor
    target_cells_S: tuple[float, float]
    target_cells_L: tuple[float, float]
    parts: PartInitInfo
    updater_source: str


@dataclass
class RankingAttentionFrameInfo:
    """Internals of one frame (for the chapters and tests). Tensors stay on the device.

    Attributes:
        frame: 1-based frame number (1 = init).
        scores: ``(N,)`` PNR scores of the ranking, in the new order (non-increasing); ``None``
            when the ranking was not run (``use_attention=False``).
        order: ``(N,)`` the permutation of Eq. 3 (new slot j held kernel ``order[j]`` before).
        kernel: ``(1, 512, k, k)`` the attention kernel h_t used this frame.
        attention: ``(S, 1, 31, 31)`` m_t = h_t * xS (Eq. 8) per scale (``None`` without attention).
        xL: ``(S, 256, 63, 63)`` conv3_3 features; attended: the same after attention (the same
            tensor object when no attention is applied).
        parts: ``(S, 9, 63, 63)`` part responses (``(S, 1, ...)`` single-channel).
        response: ``(S, 63, 63)`` combined responses; weighted: times the motion prior.
        scale_index, scale: the chosen scale; peak_value, peak_cell: the chosen peak (conv3_3 cells).
        peaks: ``(S,)`` numpy, the weighted peak of every scale.
        stored, updated: whether the part tracker stored the frame / trained on it.
        xS: ``(S, 512, 31, 31)`` conv4_3 features of every scale (what the ranking scores on the
            reference scale and Eq. 8 correlates with h_t).
    """

    frame: int
    scores: torch.Tensor | None
    order: torch.Tensor | None
    kernel: torch.Tensor | None
    attention: torch.Tensor | None
    xL: torch.Tensor
    attended: torch.Tensor
    parts: torch.Tensor
    response: torch.Tensor
    weighted: torch.Tensor
    scale_index: int
    scale: float
    peak_value: float
    peak_cell: tuple[float, float]
    peaks: np.ndarray
    stored: bool = False
    updated: bool = False
    xS: torch.Tensor | None = None


# --------------------------------------------------------------------------- the per-frame step


@dataclass(frozen=True)
class DetectConfig:
    """The constants of :func:`detect_step` (a compiled step is specialised on them).

    Attributes:
        use_attention, use_ranking: the tracker's switches.
        attention: how the map is applied to xL.
        reference: index of the scale-1 patch in the batch.
        precision: the backbone's precision (:data:`~.base.PRECISIONS`).
        scale_penalty, scale_min_peak: :func:`~.base.choose_scale`'s settings.
        subpixel: parabolic peak refinement.
        pnr_eps: the ranking's PNR guard.
        scale_score: ``"peak"`` (the weighted peaks), ``"parts"`` (:func:`part_layout_scores`),
            divided by ``scale_calib`` when it is given, ``"attention"`` (:func:`kernel_scale_scores`
            of the attention kernel, :math:`h_0` without attention) or ``"attention_h0"``
            (:func:`kernel_scale_scores` of :math:`h_0`'s map).
    """

    use_attention: bool
    use_ranking: bool
    attention: AttentionConfig
    reference: int
    precision: str
    scale_penalty: float
    scale_min_peak: float
    subpixel: bool
    pnr_eps: float
    scale_score: str = "peak"


class DetectOutputs(NamedTuple):
    """What :func:`detect_step` returns (device tensors; ``None`` where a switch skips the step).

    ``read`` is the one tensor the tracker copies to the host: the chosen peak ``(x, y, value)``,
    the chosen scale index and the peak of every scale.
    """

    kernels: torch.Tensor
    h: torch.Tensor | None
    scores: torch.Tensor | None
    order: torch.Tensor | None
    attention: torch.Tensor | None
    xS: torch.Tensor
    xL: torch.Tensor
    attended: torch.Tensor
    parts: torch.Tensor
    response: torch.Tensor
    weighted: torch.Tensor
    pick: torch.Tensor
    read: torch.Tensor
    c_new: torch.Tensor | None = None


def _attention_maps(
    h: torch.Tensor, xS: torch.Tensor, xL: torch.Tensor, config: AttentionConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 8 for every scale and the attention on xL: ``(m (S, 1, 31, 31), x~L)``."""
    m = attention_map(h, xS)
    return m, apply_attention(xL, m, config=config)


def part_layout_scores(parts: PartTracker, p: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """The scale score of ``scale_normalisation="parts"``: how well the parts agree on one centre.

    Each part channel of each scale is divided by the height of its own peak, refined between
    cells by a parabola per axis (a channel whose maximum is not positive counts 0), the
    normalised channels are combined by the prior kernel and weighted by the motion prior, and
    the score of a scale is the peak of that map: about 1 when every
    part peaks exactly where the frame-1 layout puts it. A wrong scale spreads the parts' peaks
    (offsets ``o_l / s`` instead of ``o_l``) and lowers it, in both directions alike, while the
    heights of the parts' peaks, which grow as the target looks smaller, no longer count.

    Args:
        parts: the part tracker (its prior kernel encodes the layout).
        p: ``(S, 9, h, w)`` part responses.
        prior: ``(h, w)`` the motion prior.

    Returns:
        ``(S,)`` scores (no synchronisation).
    """
    b, c, h, w = p.shape
    top = _vertex_heights(p.reshape(b * c, h, w)).reshape(b, c, 1, 1)
    q = torch.where(top > 0, p / torch.where(top > 0, top, torch.ones_like(top)), torch.zeros_like(p))
    return (_combine_parts(parts, q)[:, 0] * prior).amax(dim=(1, 2))


def kernel_scale_scores(m: torch.Tensor) -> torch.Tensor:
    """The scale score of ``scale_normalisation="attention"``: the peak of the whole-target kernel's
    response on each scale, refined between cells by a parabola per axis.

    The attention kernel (:math:`h_0` by Eq. 9, then :math:`h_t`) is fitted, like CREST's kernel, to
    the whole target on conv4_3, and its response on an unchanged frame peaks on the scale it was
    fitted on; the part tracker's 7 x 7 kernels are smaller than the target and respond more to a
    target that looks smaller, so their peaks favour the larger crop on every frame (issue #20).
    The scale is therefore read where the model covers the whole target; position, peak value and
    confidence gate still come from the parts.

    Args:
        m: ``(S, 1, h, w)`` the kernel's response on the scale pyramid (:func:`attention_map`).

    Returns:
        ``(S,)`` scores (no synchronisation).
    """
    s = m.shape[0]
    return _vertex_heights(m.reshape(s, *m.shape[-2:]))


def _vertex_heights(r: torch.Tensor) -> torch.Tensor:
    """``(N, h, w)`` -> ``(N,)`` the height of each map's peak refined by a parabola per axis
    (the peak value plus each axis' vertex excess ``(l - r)^2 / (8 (2 v - l - r))``; none at the
    border or where the three points are not concave): a peak between two cells is not read as
    the value of the nearer cell, so a sub-cell shift of a part lowers its normalised map."""
    n, h, w = r.shape
    value, idx = r.reshape(n, -1).max(dim=1)
    py, px = idx // w, idx % w
    rows = torch.arange(n, device=r.device)

    def excess(left: torch.Tensor, right: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
        den = 2 * value - left - right
        ok = (den > 0) & inside
        return torch.where(ok, (left - right).square() / (8 * torch.where(ok, den, torch.ones_like(den))), 0 * den)

    out = value
    if w > 2:
        xl, xr = (px - 1).clamp(0, w - 1), (px + 1).clamp(0, w - 1)
        out = out + excess(r[rows, py, xl], r[rows, py, xr], (px > 0) & (px < w - 1))
    if h > 2:
        yl, yr = (py - 1).clamp(0, h - 1), (py + 1).clamp(0, h - 1)
        out = out + excess(r[rows, yl, px], r[rows, yr, px], (py > 0) & (py < h - 1))
    return out


@torch.compiler.disable
def _combine_parts(parts: PartTracker, p: torch.Tensor) -> torch.Tensor:
    """``parts.combine(p)``, run eagerly even inside a compiled step (a deliberate graph break):
    the prior kernel's side follows the target's shape, and compiled code would be specialised
    on it, i.e. compiled again for every new side."""
    return parts.combine(p)


def detect_step(
    cfg: DetectConfig,
    backbone: VGG16Features,
    updater: RankingUpdater,
    parts: PartTracker,
    kernels: torch.Tensor,
    h: torch.Tensor | None,
    h0: torch.Tensor | None,
    prior: torch.Tensor,
    patches: torch.Tensor,
    profiler: Profiler | None = None,
    scale_calib: torch.Tensor | None = None,
    c_prev: torch.Tensor | None = None,
    grow: bool = False,
) -> DetectOutputs:
    r"""Steps 1-5 of a frame on a batch of scale patches, as a pure function of tensors.

    Backbone (one pass over every scale), ranking + PreNet + ConvLSTM on the reference patch
    (Eq. 1-7), attention (Eq. 8), part responses and their combination, motion prior, peaks and
    scale choice. It never reads a value back to the host and has no branch on tensor values, so
    ``torch.compile`` traces it in two graphs, before and after the combination of the part
    responses, which runs eagerly (:func:`_combine_parts`); in ``"reduce-overhead"`` mode each graph
    is replayed as a CUDA graph. The caller keeps the state: ``kernels`` (the ranking's
    ``(N, C, k, k)``, returned re-ordered with the worst slot replaced) and ``h`` (returned as
    :math:`h_t`).

    Args:
        cfg: the constants (:class:`DetectConfig`).
        backbone, updater, parts: the tracker's modules.
        kernels: ``(N, 512, k, k)`` the ranking's kernels; h: :math:`h_{t-1}`; h0: frame 1's kernel.
        prior: ``(h, w)`` CREST's motion prior (times the combined response).
        patches: ``(S, 3, P, P)`` the scale pyramid.
        profiler: time the components (eager only).
        scale_calib: ``(S,)`` divisors of the scales' scores (peaks or part-layout scores) before
            the scale is chosen (:func:`~.base.scale_calibration`); ``None``: none.
        c_prev: the cell state fed to the ConvLSTM (``cell_input="carried"``); ``None`` = the best
            kernel (Eq. 6 as printed).
        grow: append the new cell state to the ranking instead of replacing the worst kernel
            (``ranking_init="first_frames"`` while the ranking holds fewer than N kernels).
    """

    def section(name: str) -> contextlib.AbstractContextManager[Any]:
        return profiler.section(name) if profiler is not None else contextlib.nullcontext()

    with torch.no_grad():
        with section("features"), backbone_autocast(cfg.precision, patches.device):
            out = backbone(patches)
        xS, xL = out["conv4_3"], out["conv3_3"]
        scores = order = h_t = m = c_new = None
        xLa = xL
        if cfg.use_attention:
            with section("ranking"):
                ranking = Ranking(kernels, pnr_eps=cfg.pnr_eps)
                xs_ref = xS[cfg.reference : cfg.reference + 1]
                if cfg.use_ranking:  # Eq. 1-7
                    h_t, info = updater.step(ranking, h, xs_ref, c_prev=c_prev, append=grow)
                    scores, order, c_new = info.rank.scores, info.rank.order, info.c_new
                else:  # the fixed h0, scored for the record only
                    res = ranking.rank(xs_ref)
                    scores, order = res.scores, res.order
                    h_t = h0
                kernels = ranking.kernels
            if h_t is not None:
                with section("attention"):  # Eq. 8 + residual attention
                    m, xLa = _attention_maps(h_t, xS, xL, cfg.attention)
        with section("parts"):
            p = parts(xLa)
            resp = _combine_parts(parts, p)[:, 0]
            weighted = resp * prior
            peaks = find_peaks(weighted, cfg.subpixel)  # (S, 3)
            if cfg.scale_score == "attention":
                # the whole-target kernel's map on every scale: Eq. 8's m, or h0's without attention
                scale_scores = kernel_scale_scores(m if m is not None else attention_map(h0, xS))
            elif cfg.scale_score == "attention_h0":
                # the frame-1 kernel's map, whatever the ConvLSTM made of it (Eq. 8's m already is
                # h0's map when the ranking is off: not computed twice)
                h0_map = m if m is not None and not cfg.use_ranking else attention_map(h0, xS)
                scale_scores = kernel_scale_scores(h0_map)
            elif cfg.scale_score == "parts":
                scale_scores = part_layout_scores(parts, p, prior)
                if scale_calib is not None:
                    scale_scores = scale_scores / scale_calib
            else:
                scale_scores = None if scale_calib is None else peaks[:, 2] / scale_calib
            best = choose_scale(peaks[:, 2], cfg.reference, cfg.scale_penalty, cfg.scale_min_peak, scale_scores)
            pick = peaks.index_select(0, best.reshape(1))[0]  # (x, y, value) of the chosen scale
            read = torch.cat([pick, best.to(pick.dtype)[None], peaks[:, 2]])
    return DetectOutputs(kernels, h_t, scores, order, m, xS, xL, xLa, p, resp, weighted, pick, read, c_new)


_COMPILED: dict[tuple[str, str], Callable[..., DetectOutputs]] = {}
_COMPILED_LOCK = threading.Lock()


def compiled_detect_step(mode: str, backend: str = "inductor") -> Callable[..., DetectOutputs]:
    """:func:`detect_step` under ``torch.compile(mode=mode, backend=backend)``, one wrapper per
    ``(mode, backend)`` shared by every tracker (so that a new sequence reuses the compiled code
    instead of compiling again)."""
    if mode not in COMPILE_MODES or mode == "off":
        raise ValueError(f"mode must be one of {COMPILE_MODES[1:]}, got {mode!r}")
    key = (mode, backend)
    with _COMPILED_LOCK:
        fn = _COMPILED.get(key)
        if fn is None:
            kwargs: dict[str, Any] = {"backend": backend}
            if backend == "inductor":
                kwargs["mode"] = mode
            fn = torch.compile(detect_step, **kwargs)
            _COMPILED[key] = fn
    return fn


def _gaussian_blur(patches: torch.Tensor, sigma: float) -> torch.Tensor:
    """A separable Gaussian blur of ``(B, 3, P, P)`` patches (radius 3 sigma, replicate border)."""
    r = max(1, int(round(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=patches.dtype, device=patches.device)
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    g = g / g.sum()
    c = patches.shape[1]
    x = torch.nn.functional.pad(patches, (r, r, r, r), mode="replicate")
    x = torch.nn.functional.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1).contiguous(), groups=c)
    return torch.nn.functional.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1).contiguous(), groups=c)


# --------------------------------------------------------------------------- tracker


class RankingAttentionTracker(DeepTrackerBase):
    """The paper's tracker: ``init(image, box)`` then ``update(image) -> box``.

    Images are RGB ``uint8`` ``(H, W, 3)``; boxes ``x, y, w, h`` (OTB, 1-based). Options: a
    :class:`RankingAttentionConfig` and/or its fields as keywords.

    Args:
        config: the settings (default :class:`RankingAttentionConfig`).
        device: where everything runs (default: the backbone's, else :func:`rankatt_lib.device`).
        backbone: a :class:`~rankatt_lib.features.vgg16.VGG16Features` returning conv3_3 and conv4_3
            (default: one cached per device, :func:`~rankatt_lib.trackers.base.shared_backbone`).
        profile: time the components; ``profiler.summary()`` gives seconds per call of ``"crop"``,
            ``"features"``, ``"ranking"``, ``"attention"``, ``"parts"`` and ``"update"``.
        ranking_updater: an already built :class:`~rankatt_lib.components.convlstm.RankingUpdater` (then
            ``updater_source`` is ``"given"``); default: by ``config.updater``.

    Attributes:
        updater_source: ``"checkpoint"`` / ``"untrained"`` (/ ``"given"``).
        init_info: :class:`RankingAttentionInitInfo` after ``init``.
        last: :class:`RankingAttentionFrameInfo` of the latest frame.
        ranking: the :class:`~rankatt_lib.components.ranking.Ranking`; h: the current attention kernel.
        parts: the :class:`~rankatt_lib.components.parts.PartTracker`.

    Raises:
        FileNotFoundError: ``updater="checkpoint"`` and the file is missing.
        ValueError: the backbone does not return conv3_3 and conv4_3.
    """

    def __init__(
        self,
        config: RankingAttentionConfig | None = None,
        device: torch.device | str | None = None,
        backbone: VGG16Features | None = None,
        *,
        profile: bool = False,
        ranking_updater: RankingUpdater | None = None,
        **overrides: Any,
    ) -> None:
        self.config: RankingAttentionConfig = make_config(RankingAttentionConfig, config, overrides)
        super().__init__(device, backbone, "conv4_3", profile, channels_last=self.config.execution.channels_last)
        if self.config.execution.channels_last and not getattr(self.backbone, "channels_last", False):
            raise ValueError(
                "channels_last=True needs a backbone built with channels_last=True (or backbone=None, which builds one)"
            )
        if "conv3_3" not in self.backbone.layers:
            raise ValueError(f"the backbone must return conv3_3 and conv4_3; it returns {self.backbone.layers}")
        cfg = self.config
        self.geo_S = SearchGeometry.for_layer(
            "conv4_3", cfg.search.search_area_factor, cfg.search.patch_size, self.backbone
        )
        self.geo_L = SearchGeometry.for_layer(
            "conv3_3", cfg.search.search_area_factor, cfg.search.patch_size, self.backbone
        )
        self._ref = int(np.argmin(np.abs(np.asarray(cfg.search.scales) - 1.0)))
        self.attention_config = AttentionConfig(
            variant=cfg.attention_variant if cfg.use_attention else "none",
            upsample=cfg.attention_upsample,
            ratio=self.geo_S.stride // self.geo_L.stride,
        )
        if ranking_updater is not None:
            self.updater, self.updater_source = ranking_updater.to(self.device), "given"
        else:
            self.updater, self.updater_source = self._load_updater()
        self.updater.requires_grad_(False)
        self.updater.eval()
        self.ranking: Ranking | None = None
        self.h: torch.Tensor | None = None
        self.h0: torch.Tensor | None = None
        self.c_prev: torch.Tensor | None = None  # the carried cell state (cell_input="carried")
        self.parts: PartTracker | None = None
        self.init_info: RankingAttentionInitInfo | None = None
        self.last: RankingAttentionFrameInfo | None = None
        self._scale_calib: torch.Tensor | None = None  # (S,) divisors of the peaks ("frame1")
        #: the scale comparison in effect ("parts" needs parts: the single-channel variant calibrates)
        self._scale_mode = (
            "frame1"
            if cfg.search.scale_normalisation == "parts" and cfg.parts.single_channel
            else cfg.search.scale_normalisation
        )
        self._detect_config = DetectConfig(
            use_attention=cfg.use_attention,
            use_ranking=cfg.use_ranking,
            attention=self.attention_config,
            reference=self._ref,
            precision=cfg.execution.precision,
            scale_penalty=float(cfg.search.scale_penalty),
            scale_min_peak=float(cfg.search.scale_min_peak),
            subpixel=cfg.search.subpixel,
            pnr_eps=DEFAULT_PNR_EPS,
            scale_score=self._scale_mode if self._scale_mode in PART_TRACKER_SCALE_NORMALISATIONS else "peak",
        )
        self._detect = (
            None
            if cfg.execution.compile == "off"
            else compiled_detect_step(cfg.execution.compile, cfg.execution.compile_backend)
        )
        #: the compiled step replays CUDA graphs (whose outputs are rewritten by the next replay)
        self._cuda_graphs = (
            self._detect is not None
            and self.device.type == "cuda"
            and cfg.execution.compile_backend == "inductor"
            and cfg.execution.compile in ("reduce-overhead", "max-autotune")
        )

    def _load_updater(self) -> tuple[RankingUpdater, str]:
        cfg = self.config
        path = cfg.checkpoint_path
        if cfg.updater == "checkpoint" or (cfg.updater == "auto" and path.is_file()):
            if not path.is_file():
                raise FileNotFoundError(
                    f"no ranking-updater checkpoint at {path}; train one with `rankatt train` "
                    "or use updater='untrained'"
                )
            return RankingUpdater.load(path, device=self.device), "checkpoint"
        # The untrained updater is the *starting point* of the checkpoint's training: same
        # RankingUpdaterConfig (gate biases, rank, ...) when the checkpoint exists, fresh weights.
        config = RankingUpdater.load(path).config if path.is_file() else None
        return RankingUpdater(config, seed=cfg.updater_seed, device=self.device), "untrained"

    # -- pieces --
    def _features(self, frame: torch.Tensor, scales: tuple[float, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """One crop of every scale, one backbone pass: ``(xS (S, 512, 31, 31), xL (S, 256, 63, 63))``."""
        assert self.center is not None
        side = self.geo_S.search_side(self.size)
        with self.profiler.section("crop"):
            patches = crop_pyramid(
                frame, self.center, side, scales, self.config.search.patch_size, self.config.search.antialias
            )
        with self.profiler.section("features"):
            with torch.no_grad(), backbone_autocast(self.config.execution.precision, self.device):
                out = self.backbone(patches)
        return out["conv4_3"], out["conv3_3"]

    def _attend(
        self, h: torch.Tensor | None, xS: torch.Tensor, xL: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Eq. 8 for every scale and the attention on xL: ``(m (S, 1, 31, 31) or None, x~L)``."""
        if h is None or not self.config.use_attention:
            return None, xL
        with self.profiler.section("attention"):
            return _attention_maps(h, xS, xL, self.attention_config)

    def _augmented_kernels(self, frame: torch.Tensor, names: tuple[str, ...]) -> torch.Tensor:
        """``(len(names), 512, k, k)``: the Eq. 9 kernel of frame 1's patch altered by each augmentation."""
        cfg = self.config
        assert self.center is not None
        side = self.geo_S.search_side(self.size)
        nS = self.geo_S.map_size
        c0 = self.geo_S.centre_cell
        tcS = np.asarray(self.geo_S.target_cells(self.size), dtype=np.float64)
        P = cfg.search.patch_size
        w, h = (float(v) for v in np.asarray(self.size, dtype=np.float64).reshape(2))
        base = crop_pyramid(frame, self.center, side, (1.0,), P)
        patches, centres, sizes = [], [], []
        for name in names:
            cxy, tc = (c0, c0), tcS
            if name == "shift":  # crop moved up-left by a quarter target: the target sits right-down
                dx, dy = 0.25 * w, 0.25 * h
                ctr = np.asarray(self.center, dtype=np.float64) - (dx, dy)
                p = crop_pyramid(frame, ctr, side, (1.0,), P)
                cells = P / (side * self.geo_S.stride)
                cxy = (c0 + dx * cells, c0 + dy * cells)
            elif name == "flip":  # patch pixel p -> P - 1 - p: cell i -> (P - stride) / stride - i
                p = torch.flip(base, dims=(-1,))
                cxy = ((P - self.geo_S.stride) / self.geo_S.stride - c0, c0)
            elif name == "blur":
                p = _gaussian_blur(base, 2.0)
            elif name in ("scale", "scale_down"):
                f = 1.15 if name == "scale" else 1 / 1.15
                p = crop_pyramid(frame, self.center, side, (f,), P)
                tc = tcS / f
            elif name == "brightness":
                p = (base * 0.7).clamp(0, 255)
            else:  # pragma: no cover - the config checks the names
                raise ValueError(name)
            patches.append(p)
            centres.append(cxy)
            sizes.append(tc)
        with torch.no_grad(), backbone_autocast(cfg.execution.precision, self.device):
            xs = self.backbone(torch.cat(patches, dim=0))["conv4_3"]
        out = []
        for i in range(len(names)):
            y = target_label(nS, centres[i], sizes[i], cfg.init_sigma_factor, device=self.device)
            out.append(init_kernel(xs[i : i + 1], y, k=cfg.kernel_size, lam=cfg.lambda1, iters=cfg.init_iters))
        return torch.cat(out, dim=0)

    # -- tracker interface --
    def init(self, image: np.ndarray, box: Any) -> None:
        """Frame 1: h0 by Eq. 9, ranking = N copies of h0, h = h0, part tracker trained on x~L_1.

        Raises:
            ValueError: a bad box (NaN, non-positive size, outside the image).
        """
        cfg = self.config
        frame = self._start(image, box)
        dev = self.device
        with torch.no_grad():
            xS, xL = self._features(frame, (1.0,))
        nS, nL = self.geo_S.map_size, self.geo_L.map_size
        if xS.shape[-2:] != (nS, nS) or xL.shape[-2:] != (nL, nL):
            raise RuntimeError(f"feature maps {tuple(xS.shape)}, {tuple(xL.shape)} differ from the geometry's")

        tcS = self.geo_S.target_cells(self.size)
        c0S = self.geo_S.centre_cell
        label_S = target_label(nS, (c0S, c0S), tcS, cfg.init_sigma_factor, device=dev)
        with self.profiler.section("ranking"):
            h0 = init_kernel(xS, label_S, k=cfg.kernel_size, lam=cfg.lambda1, iters=cfg.init_iters)
        self.h0 = h0
        self.h = h0
        self.c_prev = h0.clone()  # not an alias of h and h0 (a compiled step would specialise on it)
        n = cfg.n_kernels if cfg.use_ranking else 1
        if cfg.ranking_init == "first_frames":
            n = 1
        self.ranking = Ranking.from_kernel(h0, n)
        if cfg.ranking_init == "augmented" and n > 1:
            with self.profiler.section("ranking"):
                extra = self._augmented_kernels(frame, cfg.augmentations[: n - 1])
            self.ranking = Ranking(torch.cat([h0, extra], dim=0))
        m, xLa = self._attend(h0 if cfg.use_attention else None, xS, xL)

        # part tracker on frame 1's attended xL
        tcL = self.geo_L.target_cells(self.size)
        c0L = self.geo_L.centre_cell
        self.parts = PartTracker(cfg.part_config(int(xL.shape[1]))).to(dev)
        self.parts.set_target_size(tcL)
        self._tcL = np.asarray(tcL, dtype=np.float64)
        y1 = self.parts.labels((c0L, c0L), tcL, nL)
        with self.profiler.section("update"):
            pinfo = self.parts.init(xLa[0].detach(), y1)
        hc, wc = float(tcL[1]), float(tcL[0])
        self._prior = motion_prior(
            (nL, nL), (c0L, c0L), (cfg.search.motion_sigma_factor * hc, cfg.search.motion_sigma_factor * wc), dev
        )

        with torch.no_grad():
            parts = self.parts(xLa)
            resp = self.parts.combine(parts)[:, 0]
            weighted = resp * self._prior
            scores = self.ranking.score(xS) if cfg.use_attention else None
        self._scale_calib = None
        if self._scale_mode in ("frame1", "parts", "trend"):
            # the detection step of the first update run on frame 1 itself (same patches, state and
            # batch): its peaks divide those of every later frame, so an unchanged frame scores 1
            side = self.geo_S.search_side(self.size)
            with self.profiler.section("crop"):
                pyramid = crop_pyramid(
                    frame, self.center, side, cfg.search.scales, cfg.search.patch_size, cfg.search.antialias
                )
            state = (self.ranking.kernels, self.h, self.h0, self._prior, pyramid)
            calib_out = detect_step(self._detect_config, self.backbone, self.updater, self.parts, *state)
            if self._scale_mode == "parts":
                frame1_scores = part_layout_scores(self.parts, calib_out.parts, self._prior)
            else:
                frame1_scores = calib_out.read[4:]
            if self._scale_mode == "trend":
                self._scale_calib = scale_trend_calibration(frame1_scores, cfg.search.scales, self._ref)
            else:
                self._scale_calib = scale_calibration(frame1_scores, self._ref)
        self.init_info = RankingAttentionInitInfo(
            h0, label_S, (float(tcS[0]), float(tcS[1])), (float(tcL[0]), float(tcL[1])), pinfo, self.updater_source
        )
        order = torch.arange(self.ranking.n, device=dev) if scores is not None else None
        self.last = RankingAttentionFrameInfo(
            frame=1,
            scores=scores,
            order=order,
            kernel=h0 if cfg.use_attention else None,
            attention=m,
            xL=xL,
            attended=xLa,
            parts=parts,
            response=resp,
            weighted=weighted,
            scale_index=0,
            scale=1.0,
            peak_value=float("nan"),
            peak_cell=(c0L, c0L),
            peaks=np.full(1, np.nan),
            xS=xS,
        )

    def update(self, image: np.ndarray) -> np.ndarray:
        """Track one frame (one crop, one backbone pass for every scale), learn, return ``x, y, w, h``."""
        cfg = self.config
        frame = self._frame(image)
        assert self.parts is not None and self.ranking is not None and self.h is not None
        side = self.geo_S.search_side(self.size)
        assert self.center is not None
        with self.profiler.section("crop"):
            patches = crop_pyramid(
                frame, self.center, side, cfg.search.scales, cfg.search.patch_size, cfg.search.antialias
            )
        args = (self._detect_config, self.backbone, self.updater, self.parts)
        state = (self.ranking.kernels, self.h, self.h0, self._prior, patches)
        extra: dict[str, Any] = {}
        if self._scale_calib is not None:
            extra["scale_calib"] = self._scale_calib
        if cfg.cell_input == "carried":
            extra["c_prev"] = self.c_prev
        if cfg.ranking_init == "first_frames" and cfg.use_ranking and self.ranking.n < cfg.n_kernels:
            extra["grow"] = True
        if self._detect is None:
            out = detect_step(*args, *state, profiler=self.profiler, **extra)
        else:
            if self._cuda_graphs:
                torch.compiler.cudagraph_mark_step_begin()
            with self.profiler.section("detect"):
                out = self._detect(*args, *state, **extra)
        kernels, h_t = out.kernels, out.h
        if self._cuda_graphs:  # the state must outlive the graph's output buffers (rewritten next frame)
            kernels = kernels.clone()
            h_t = None if h_t is None else h_t.clone()
        self.ranking = Ranking(kernels, pnr_eps=self.ranking.pnr_eps)
        if cfg.use_ranking and h_t is not None:  # h_t is None without attention
            self.h = h_t
        if out.c_new is not None:
            self.c_prev = out.c_new.clone() if self._cuda_graphs else out.c_new
        scores, order, m, xLa, pick = out.scores, out.order, out.attention, out.attended, out.pick
        read = out.read.tolist()  # the one synchronisation per frame
        px, py, value, idx = read[0], read[1], read[2], int(read[3])
        s = cfg.search.scales[idx]
        self._move(self.geo_L.cell_to_offset((px, py), side * s))
        if s != 1.0:
            self.size = damped_size(self.size, s, cfg.search.scale_damping)
            if self._clamp_size(cfg.search.min_size) and cfg.search.refresh_geometry:
                self._refresh_geometry()

        # Eq. 10 online update: label = the tracked box in the chosen patch (size after damping)
        with self.profiler.section("update"):
            new_side = self.geo_S.search_side(self.size)
            size_cells = self._tcL * new_side / (side * s)
            y = self.parts.labels(pick[:2], size_cells, tuple(xLa.shape[-2:]))
            stored, trained = self.parts.observe(self.frame_index, xLa[idx].detach(), y, value)
        self.last = RankingAttentionFrameInfo(
            frame=self.frame_index,
            scores=scores,
            order=order,
            kernel=h_t,
            attention=m,
            xL=out.xL,
            attended=xLa,
            parts=out.parts,
            response=out.response,
            weighted=out.weighted,
            scale_index=idx,
            scale=s,
            peak_value=value,
            peak_cell=(px, py),
            peaks=np.asarray(read[4:]),
            stored=stored,
            updated=trained,
            xS=out.xS,
        )
        return self.box()

    def _refresh_geometry(self) -> None:
        """After a clamp changed the aspect ratio: the target's size in conv3_3 cells (the part
        labels' size), the prior kernel and the motion prior from the current size (frame 1's
        otherwise). h0, the ranking's kernels and the part kernels keep their sizes."""
        assert self.parts is not None
        cfg = self.config
        nL = self.geo_L.map_size
        tcL = self.geo_L.target_cells(self.size)
        c0L = self.geo_L.centre_cell
        self._tcL = np.asarray(tcL, dtype=np.float64)
        self.parts.set_target_size(tcL)
        hc, wc = float(tcL[1]), float(tcL[0])
        self._prior = motion_prior(
            (nL, nL),
            (c0L, c0L),
            (cfg.search.motion_sigma_factor * hc, cfg.search.motion_sigma_factor * wc),
            self.device,
        )

    @property
    def update_frames(self) -> list[int]:
        """Frames on which the part tracker was trained."""
        return [] if self.parts is None else list(self.parts.update_frames)

    def __repr__(self) -> str:
        cfg = self.config
        return (
            f"RankingAttentionTracker(device={self.device}, N={cfg.n_kernels}, use_ranking={cfg.use_ranking}, "
            f"use_attention={cfg.use_attention}, single_channel={cfg.parts.single_channel}, "
            f"updater={self.updater_source})"
        )


# --------------------------------------------------------------------------- registry

#: Registered names and the config overrides they stand for (the ablation chapter's variants).
VARIANTS: dict[str, dict[str, Any]] = {
    "rankatt": {},
    "rankatt-noranking": {"use_ranking": False},
    "rankatt-n1": {"n_kernels": 1},
    "rankatt-noattention": {"use_attention": False},
    "rankatt-single": {"single_channel": True},
    "rankatt-multiply": {"attention_variant": "multiply"},
    "rankatt-untrained": {"updater": "untrained"},
    "rankatt-t4": {"T": 4},
    "rankatt-crestscale": {"scale_normalisation": "none"},
}


def _factory(name: str, preset: dict[str, Any]) -> Any:
    def make(**kwargs: Any) -> RankingAttentionTracker:
        return RankingAttentionTracker(**{**preset, **kwargs})

    make.__name__ = "_make_" + name.replace("-", "_")
    make.__doc__ = (
        f"The ranking-attention tracker (Peng et al. 2019){' with ' + str(preset) if preset else ''}; "
        "options: RankingAttentionConfig fields, device, backbone."
    )
    return make


for _name, _preset in VARIANTS.items():
    register(_name)(_factory(_name, _preset))
