r"""Offline training of the ranking updater (PreNet + ConvLSTM) with Eq. 9, N = 1 (paper §2.1, §3.1).

The paper trains "the ranking network" offline on UAV123 + TC128 with the loss of Eq. 9 and the
ranking length set to N = 1, so that the ranking "degrades to a normal ConvLSTM": the only
kernel is both :math:`c^{(1st)}_t` and :math:`c^{(Nth)}_t`, and the new cell state replaces it.
This module holds the reusable parts; ``rankatt train`` (:mod:`rankatt_lib.training.cli`) is the command line.

Data: clips (:func:`select_clips`, :func:`clip_geometry`, :func:`cache_clip_features`)
-------------------------------------------------------------------------------------
A clip is ``T`` frames of one sequence, ``frame_step`` frames apart (``T = 8``, step 2 by
default), all with valid ground truth (rows with a value ``<= 0`` or NaN, e.g. the ``0,0,0,0`` of
an out-of-view target, are never used). ``clips_per_sequence`` windows are taken evenly spaced
over each sequence. Every frame is cropped *as a tracker would see it*: frame ``j > 0`` of the clip
is cropped around the ground-truth centre of the previous clip frame ``j - 1``, with the search
side ``search_area_factor x sqrt(w h)`` of that previous box (2.9, the geometry of
:class:`rankatt_lib.trackers.base.SearchGeometry`: the target is about 88 px = 11 cells in the
255 px patch); frame 0 (the initialisation) around its own box. The target's centre and size in
the patch are stored in conv4_3 cell coordinates (cell ``i`` centred on patch pixel ``8 i + 3.5``,
:func:`rankatt_lib.features.vgg16.cell_centre`), so the label :math:`y^S` can be rebuilt with any sigma
without recomputing features.

The frozen VGG16 runs once per frame: :func:`cache_clip_features` writes one file per clip
(``xS`` ``(T, 512, 31, 31)`` in float16, about 1 MB per frame) under a cache folder, atomically,
named by the clip and a hash of everything the features depend on; clips whose file exists are
skipped, so an interrupted caching run resumes. Training holds every clip's features in host
memory (:class:`PreparedClips`, float16) and moves one batch at a time to the device.

Model: :func:`unroll` (Eq. 6-9 with N = 1)
-----------------------------------------
For a batch of clips: :math:`h_0` = :func:`rankatt_lib.components.init_kernel.init_kernel` on frame 1 (the
same initialisation as the tracker; computed once per clip, no gradient), the ranking holds
:math:`c = h_0`; for ``t = 2..T``:

.. math::
    x^{pre}_t = \mathrm{PreNet}(c, x^S_t) \;(7), \qquad
    (h_t, c) = \mathrm{ConvLSTM}(h_{t-1}, c, x^{pre}_t) \;(6), \qquad
    \ell_t = L(h_t) \;(9)

— exactly :meth:`rankatt_lib.components.convlstm.RankingUpdater.step` with N = 1 (tested), batched over
clips (one kernel per sample; the correlations of Eq. 1/8/9 are
:func:`rankatt_lib.components.init_kernel.correlate`'s batched matrix products, 5-10x faster on a CPU than
``F.conv2d`` with one 11 x 11 x 512 filter). The loss of a clip is the mean of
:math:`\ell_2 .. \ell_T`; gradients flow back through time over the whole clip into PreNet and the
cell (:math:`h_0` is a constant).

Training: :func:`train`
-----------------------
Adam, gradient-norm clipping, epochs over the training clips in a seeded order (the order of
epoch ``e`` depends only on ``seed`` and ``e``, so a resumed run sees the same batches). The
objective is Eq. 9 times a constant ``loss_scale`` = 1 / (mean squared label over the training
clips) — the Eq. 9 value of the all-zero kernel — which leaves the minimiser unchanged and keeps
the gradients well above Adam's epsilon (raw Eq. 9 values are about 1e-3). Reported numbers are
raw Eq. 9 (``lam1`` = 1e-10) and the same relative to the zero kernel (``rel`` < 1 beats
predicting nothing).

Two options the command line turns on (off in :class:`TrainConfig` by default):
``reverse_augment`` plays each training clip backwards with probability 1/2 every epoch, starting
from :math:`h_0` fitted on its last frame (in a reversed clip each patch is centred on the
ground truth of the frame that now comes *next*, i.e. the displacement is reversed; the label
is still exactly where the target is), which doubles the distinct clips at no feature cost; and
``lr_schedule="cosine"`` decays the learning rate to 0 over the epochs (per step, from the
global step number, so a resumed run continues the same schedule as long as ``epochs`` is
unchanged).

Validation uses clips from held-out *sequences of the training data* (``val_fraction``, chosen by
``seed``); the test split is never read. Baselines on the same clips (:func:`evaluate`):

* ``zero``: :math:`h_t = 0` (the loss is the label's mean square);
* ``fixed``: :math:`h_t = h_0` — keep the frame-1 kernel, no update;
* ``untrained``: the updater at its initialisation (with the default gate biases a running
  average of the kernel with rate about 0.05 that also shrinks it by the output gate's 0.95, see
  :mod:`rankatt_lib.components.convlstm`; with forget/output biases +6 nearly the identity);
* ``refit`` (:func:`evaluate_refit`): :math:`h_t` = :func:`~rankatt_lib.components.init_kernel.init_kernel`
  on frame ``t - 1`` with *its ground-truth label* — an oracle the updater cannot match in
  principle (it never sees labels), a reference for what re-fitting on the latest frame gives.

After every epoch the full training state (model, optimizer, epoch, history, best model so far)
goes to one file, atomically; :func:`train` with ``resume=True`` continues from it.

What it gave on the synthetic training split (``results/training/``; 128 training clips from 32
sequences, 32 validation clips from 8 held-out sequences; Eq. 9 relative to the zero kernel):

* ``h0`` kept fixed: 0.352 train, 0.246 validation; re-fitting on frame ``t - 1`` with its label
  (oracle): 0.174 validation — updating can pay, if the update knows where the target is.
* Default gate biases (-3, +3, +3): the untrained updater is worse than no update (0.421 / 0.322:
  it shrinks and blurs the kernel); training reaches 0.282 train but only ties the fixed kernel
  on validation (0.247 at its best epoch): it learns an update that helps on hard clips and
  hurts on easy ones, and overfits 32 sequences.
* Forget and output biases +6 (near-identity start, 0.363 / 0.257 untrained): 0.307 train and
  0.239 validation at the best epoch (5 of 12), 3% below the fixed kernel — the shipped
  checkpoint. Per update step it beats the fixed kernel at t = 3..7 and loses at t = 2 and 8;
  it is better on 16 of the 32 validation clips (106 of 128 training clips).

The gap to the oracle and the modest validation gain are the honest state of this reproduction on
40 synthetic sequences; the paper trains on UAV123 + TC128.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rankatt_lib.components.attention import ranking_loss
from rankatt_lib.components.convlstm import RankingUpdater, RankingUpdaterConfig
from rankatt_lib.components.init_kernel import (
    DEFAULT_INIT_ITERS,
    DEFAULT_SIGMA_FACTOR,
    correlate,
    init_kernel,
    target_label,
)
from rankatt_lib.components.pnr import pnr
from rankatt_lib.components.ranking import Ranking
from rankatt_lib.data.otb import OTBFormatDataset
from rankatt_lib.features.geometry import box_to_center, crop_patches
from rankatt_lib.features.vgg16 import LAYER_STRIDES, VGG16Features, cell_centre

__all__ = [
    "CACHE_FORMAT",
    "STATE_FORMAT",
    "ClipConfig",
    "ClipFeatures",
    "ClipSpec",
    "PreparedClips",
    "TrainConfig",
    "TrainResult",
    "cache_clip_features",
    "cache_path",
    "clip_geometry",
    "eq9_loss",
    "evaluate",
    "evaluate_refit",
    "load_clip",
    "prepare_clips",
    "select_clips",
    "split_by_sequence",
    "train",
    "unroll",
    "unroll_ranked",
    "unroll_with_step",
    "valid_box",
]

CACHE_FORMAT = "rankatt-clip-features"
CACHE_VERSION = 1
STATE_FORMAT = "rankatt-ranking-training"
STATE_VERSION = 1


# =========================================================================== clips


@dataclass(frozen=True)
class ClipConfig:
    """How clips are cut and cropped (everything the cached features depend on).

    Attributes:
        length: ``T``, frames per clip (frame 1 initialises, ``T - 1`` update steps).
        frame_step: frames between consecutive clip frames (1 = every frame).
        clips_per_sequence: windows per sequence, evenly spaced over its valid windows.
        search_area_factor: search square side / ``sqrt(w h)`` of the previous box (2.9).
        patch_size: side of the resampled search patch (255).
        layer: backbone layer of :math:`x^S` (conv4_3).
    """

    length: int = 8
    frame_step: int = 2
    clips_per_sequence: int = 4
    search_area_factor: float = 2.9
    patch_size: int = 255
    layer: str = "conv4_3"

    def __post_init__(self) -> None:
        if self.length < 2:
            raise ValueError(f"a clip needs at least 2 frames, got length={self.length}")
        if self.frame_step < 1 or self.clips_per_sequence < 1:
            raise ValueError("frame_step and clips_per_sequence must be >= 1")
        if not (self.search_area_factor > 0) or self.patch_size < 8:
            raise ValueError("search_area_factor must be > 0 and patch_size >= 8")
        if self.layer not in LAYER_STRIDES:
            raise ValueError(f"unknown layer {self.layer!r}")

    @property
    def stride(self) -> int:
        """Stride of :attr:`layer` in patch pixels (8 for conv4_3)."""
        return LAYER_STRIDES[self.layer]


@dataclass(frozen=True)
class ClipSpec:
    """One clip: a sequence of a dataset and the 0-based indices of its ``T`` frames."""

    dataset_root: str
    dataset_name: str
    sequence: str
    frames: tuple[int, ...]

    @property
    def clip_id(self) -> str:
        """``dataset/sequence/first_Tn_sk``: unique within a run."""
        step = self.frames[1] - self.frames[0] if len(self.frames) > 1 else 1
        return f"{self.dataset_name}/{self.sequence}/{self.frames[0]:05d}_T{len(self.frames)}_s{step}"


def valid_box(box: np.ndarray) -> np.ndarray:
    """``(..., 4)`` -> ``(...)`` bool: finite with positive ``w, h`` and no value ``<= 0`` in ``w, h``.

    OTB-format ground truth marks absent targets with ``0,0,0,0`` (or NaN); such frames are never
    used for training.
    """
    b = np.asarray(box, dtype=np.float64)
    return np.all(np.isfinite(b), axis=-1) & (b[..., 2] > 0) & (b[..., 3] > 0)


def select_clips(dataset: OTBFormatDataset, config: ClipConfig) -> list[ClipSpec]:
    """The clips of every sequence of ``dataset`` (see the module docstring).

    A window ``s, s + step, ..., s + (T - 1) step`` qualifies when all its frames have valid
    ground truth; ``clips_per_sequence`` of the qualifying windows are taken evenly spaced
    (without repeats; fewer when a sequence has fewer). Deterministic.
    """
    out: list[ClipSpec] = []
    root = str(Path(dataset.root).resolve())
    span = (config.length - 1) * config.frame_step
    for seq in dataset:
        ok = valid_box(seq.gt)
        starts = [s for s in range(len(seq) - span) if ok[s : s + span + 1 : config.frame_step].all()]
        if not starts:
            continue
        picks = np.unique(np.round(np.linspace(0, len(starts) - 1, config.clips_per_sequence)).astype(int))
        for p in picks:
            s = starts[int(p)]
            frames = tuple(range(s, s + span + 1, config.frame_step))
            out.append(ClipSpec(root, dataset.name, seq.name, frames))
    return out


def clip_geometry(gt: np.ndarray, config: ClipConfig) -> dict[str, np.ndarray]:
    """Where each clip frame is cropped and where its target lies in the patch.

    Args:
        gt: ``(T, 4)`` ground-truth boxes of the clip's frames (1-based ``x, y, w, h``, valid).
        config: the geometry.

    Returns:
        ``centres`` ``(T, 2)`` crop centres (1-based image coordinates: frame 0's own centre,
        then the previous clip frame's), ``sides`` ``(T,)`` search sides in image pixels,
        ``target_xy`` ``(T, 2)`` the target centre in cells and ``target_wh`` ``(T, 2)`` its size
        in cells (float64).
    """
    cb = np.asarray(box_to_center(np.asarray(gt, dtype=np.float64)), dtype=np.float64)  # (T, 4) cx, cy, w, h
    prev = np.concatenate([cb[:1], cb[:-1]], axis=0)
    centres = prev[:, :2]
    sides = config.search_area_factor * np.sqrt(prev[:, 2] * prev[:, 3])
    s = config.stride
    centre_cell = cell_centre(config.layer, 0.0)  # pixel of cell 0's centre: (s - 1) / 2
    c0 = ((config.patch_size - 1) / 2 - centre_cell) / s  # cell coordinate of the patch centre
    ppc = s * sides / config.patch_size  # image pixels per cell
    target_xy = c0 + (cb[:, :2] - centres) / ppc[:, None]
    target_wh = cb[:, 2:] / ppc[:, None]
    return {"centres": centres, "sides": sides, "target_xy": target_xy, "target_wh": target_wh}


def _backbone_tag(backbone: VGG16Features) -> str:
    return f"{backbone.source}:{backbone.convention}:ceil{int(backbone.ceil_mode)}"


def cache_path(cache_dir: str | os.PathLike[str], spec: ClipSpec, config: ClipConfig, backbone_tag: str) -> Path:
    """The cache file of a clip: ``cache_dir/<dataset>-<hash of its path>/<sequence>/<first>_T<T>_s<step>_<key>.pt``.

    ``key`` hashes the crop geometry (search area factor, patch size, layer), the frames and the
    backbone (source, input convention, pooling), so changing any of them never reuses stale
    features, while a clip selected again by another ``clips_per_sequence`` is reused.
    """
    geometry = [config.search_area_factor, config.patch_size, config.layer]
    key = json.dumps([geometry, list(spec.frames), backbone_tag])
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    root_digest = hashlib.sha256(spec.dataset_root.encode()).hexdigest()[:8]
    step = spec.frames[1] - spec.frames[0]
    name = f"{spec.frames[0]:05d}_T{len(spec.frames)}_s{step}_{digest}.pt"
    return Path(cache_dir) / f"{spec.dataset_name}-{root_digest}" / spec.sequence / name


def _atomic_save(payload: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def cache_clip_features(
    backbone: VGG16Features,
    clips: Sequence[ClipSpec],
    config: ClipConfig,
    cache_dir: str | os.PathLike[str],
    *,
    progress: bool = True,
    on_clip: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Compute and store :math:`x^S` of every clip frame (one backbone batch per clip); skip cached clips.

    Each file holds ``xS`` ``(T, C, H8, W8)`` float16, ``target_xy`` / ``target_wh`` ``(T, 2)``
    (cells), ``centres`` / ``sides`` (the crops), ``gt`` ``(T, 4)`` and the clip's identity.

    Args:
        backbone: the frozen VGG16 (its device does the work; must return ``config.layer``).
        clips: from :func:`select_clips`.
        config: the geometry the clips were selected with.
        cache_dir: root folder of the cache.
        progress: show a tqdm bar.
        on_clip: called with ``(done, total)`` after each clip (e.g. for logging).

    Returns:
        The cache file of every clip, in order.
    """
    from tqdm.auto import tqdm

    tag = _backbone_tag(backbone)
    paths = [cache_path(cache_dir, spec, config, tag) for spec in clips]
    datasets: dict[str, OTBFormatDataset] = {}
    todo = [i for i, p in enumerate(paths) if not p.is_file()]
    bar = tqdm(
        todo, desc="caching xS", unit="clip", disable=not progress, initial=len(clips) - len(todo), total=len(clips)
    )
    for done, i in enumerate(bar):
        spec = clips[i]
        ds = datasets.get(spec.dataset_root)
        if ds is None:
            ds = datasets[spec.dataset_root] = OTBFormatDataset(spec.dataset_root, name=spec.dataset_name)
        seq = ds[spec.sequence]
        gt = seq.gt[list(spec.frames)]
        geo = clip_geometry(gt, config)
        patches = torch.cat(
            [
                crop_patches(
                    seq.image(f), geo["centres"][j], float(geo["sides"][j]), config.patch_size, device=backbone.device
                )
                for j, f in enumerate(spec.frames)
            ]
        )
        with torch.no_grad():
            xs = backbone(patches)[config.layer]
        payload = {
            "format": CACHE_FORMAT,
            "version": CACHE_VERSION,
            "clip_id": spec.clip_id,
            "dataset": spec.dataset_name,
            "sequence": spec.sequence,
            "frames": list(spec.frames),
            "clip_config": asdict(config),
            "backbone": tag,
            "gt": torch.as_tensor(gt, dtype=torch.float64),
            "centres": torch.as_tensor(geo["centres"], dtype=torch.float64),
            "sides": torch.as_tensor(geo["sides"], dtype=torch.float64),
            "target_xy": torch.as_tensor(geo["target_xy"], dtype=torch.float32),
            "target_wh": torch.as_tensor(geo["target_wh"], dtype=torch.float32),
            "xS": xs.to("cpu", torch.float16).contiguous(),
        }
        _atomic_save(payload, paths[i])
        if on_clip is not None:
            on_clip(len(clips) - len(todo) + done + 1, len(clips))
    return paths


@dataclass
class ClipFeatures:
    """One cached clip in memory.

    Attributes:
        clip_id: :attr:`ClipSpec.clip_id`.
        sequence: the sequence name (the unit of the train/validation split).
        xS: ``(T, C, H8, W8)`` float16 features.
        target_xy: ``(T, 2)`` target centre in cells.
        target_wh: ``(T, 2)`` target size in cells.
    """

    clip_id: str
    sequence: str
    xS: torch.Tensor
    target_xy: torch.Tensor
    target_wh: torch.Tensor

    @property
    def length(self) -> int:
        return int(self.xS.shape[0])


def load_clip(path: str | os.PathLike[str]) -> ClipFeatures:
    """Read a file written by :func:`cache_clip_features`."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if (
        not isinstance(payload, dict)
        or payload.get("format") != CACHE_FORMAT
        or payload.get("version") != CACHE_VERSION
    ):
        raise ValueError(f"{path} is not a {CACHE_FORMAT} v{CACHE_VERSION} file")
    return ClipFeatures(
        clip_id=payload["clip_id"],
        sequence=f"{payload['dataset']}/{payload['sequence']}",
        xS=payload["xS"],
        target_xy=payload["target_xy"],
        target_wh=payload["target_wh"],
    )


def split_by_sequence(
    clips: Sequence[ClipFeatures], val_fraction: float, seed: int = 0
) -> tuple[list[ClipFeatures], list[ClipFeatures]]:
    """Split clips into (train, validation) by *sequence* (no sequence in both), seeded.

    ``round(val_fraction x number of sequences)`` sequences go to validation (at least one when
    ``val_fraction > 0`` and there are two or more sequences).
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    names = sorted({c.sequence for c in clips})
    n_val = int(round(val_fraction * len(names)))
    if val_fraction > 0 and len(names) >= 2:
        n_val = min(max(n_val, 1), len(names) - 1)
    perm = np.random.default_rng(seed).permutation(len(names))
    val_names = {names[i] for i in perm[:n_val]}
    return [c for c in clips if c.sequence not in val_names], [c for c in clips if c.sequence in val_names]


# =========================================================================== prepared tensors


@dataclass
class PreparedClips:
    """Clips stacked for training: features, labels and :math:`h_0`.

    Attributes:
        ids: clip ids, length ``M``.
        xS: ``(M, T, C, H8, W8)`` features (float16 on the CPU; moved per batch).
        yS: ``(M, T, H8, W8)`` float32 labels.
        h0: ``(M, C, k, k)`` float32 frame-1 kernels.
        h0_reversed: ``(M, C, k, k)`` kernels fitted on the *last* frame, for the clips played
            backwards (time-reversal augmentation); ``None`` when not prepared.
    """

    ids: list[str]
    xS: torch.Tensor
    yS: torch.Tensor
    h0: torch.Tensor
    h0_reversed: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, index: Sequence[int] | torch.Tensor, device: torch.device | str) -> tuple[torch.Tensor, ...]:
        """``(h0, xS, yS)`` of the clips ``index`` on ``device``, float32.

        An index ``M + i`` means clip ``i`` played backwards (frames ``T..1``, starting from
        :attr:`h0_reversed`); it needs ``h0_reversed``.
        """
        idx = torch.as_tensor(index, dtype=torch.long)
        m = len(self.ids)
        if bool((idx >= m).any()):
            if self.h0_reversed is None:
                raise ValueError("reversed clips asked for, but h0_reversed was not prepared")
            h0s, xss, yss = [], [], []
            for i in idx.tolist():
                j = i % m
                rev = i >= m
                h0s.append((self.h0_reversed if rev else self.h0)[j])
                xss.append(self.xS[j].flip(0) if rev else self.xS[j])
                yss.append(self.yS[j].flip(0) if rev else self.yS[j])
            return (
                torch.stack(h0s).to(device, torch.float32),
                torch.stack(xss).to(device).to(torch.float32),
                torch.stack(yss).to(device, torch.float32),
            )
        return (
            self.h0[idx].to(device, torch.float32),
            self.xS[idx].to(device).to(torch.float32),
            self.yS[idx].to(device, torch.float32),
        )

    def subset(self, index: Sequence[int]) -> PreparedClips:
        """The clips ``index`` (forward only)."""
        idx = torch.as_tensor(list(index), dtype=torch.long)
        rev = None if self.h0_reversed is None else self.h0_reversed[idx]
        return PreparedClips([self.ids[i] for i in idx.tolist()], self.xS[idx], self.yS[idx], self.h0[idx], rev)


def prepare_clips(
    clips: Sequence[ClipFeatures],
    *,
    kernel_size: int = 11,
    lam1: float = 1e-10,
    sigma_factor: float = DEFAULT_SIGMA_FACTOR,
    init_iters: int = DEFAULT_INIT_ITERS,
    reversed_h0: bool = False,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> PreparedClips:
    """Labels (:func:`~rankatt_lib.components.init_kernel.target_label`) and :math:`h_0` (:func:`init_kernel`
    on frame 1) of each clip.

    All clips must have the same ``T`` and map size. ``device`` is where :math:`h_0` is solved.
    ``reversed_h0`` also fits the kernel of the last frame (for time-reversed clips).
    """
    from tqdm.auto import tqdm

    if not clips:
        raise ValueError("no clips")
    t, _, hh, ww = clips[0].xS.shape
    if any(tuple(c.xS.shape) != tuple(clips[0].xS.shape) for c in clips):
        raise ValueError("all clips must have the same number of frames and feature shape")
    ys = torch.stack(
        [
            torch.stack(
                [target_label((hh, ww), c.target_xy[j], c.target_wh[j], sigma_factor, device="cpu") for j in range(t)]
            )
            for c in clips
        ]
    )
    h0, h0r = [], []
    for i, c in enumerate(tqdm(clips, desc="h0 (frame 1)", unit="clip", disable=not progress)):
        x1 = c.xS[:1].to(device, torch.float32)
        h0.append(init_kernel(x1, ys[i, 0].to(device), kernel_size, lam1, iters=init_iters).cpu())
        if reversed_h0:
            xl = c.xS[-1:].to(device, torch.float32)
            h0r.append(init_kernel(xl, ys[i, -1].to(device), kernel_size, lam1, iters=init_iters).cpu())
    return PreparedClips(
        ids=[c.clip_id for c in clips],
        xS=torch.stack([c.xS for c in clips]),
        yS=ys,
        h0=torch.cat(h0),
        h0_reversed=torch.cat(h0r) if reversed_h0 else None,
    )


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


# =========================================================================== training


@dataclass
class TrainConfig:
    """Every number of :func:`train` (stored in the checkpoints).

    Attributes:
        epochs: passes over the training clips.
        lr: Adam learning rate.
        batch_size: clips per optimiser step.
        grad_clip: max gradient norm (of the scaled objective); ``0`` disables clipping.
        weight_decay: Adam's L2 penalty on the parameters (0).
        lam1: :math:`\\lambda_1` of Eq. 9 (the paper: 1e-10).
        seed: model initialisation, validation split and batch order.
        val_fraction: share of the sequences held out for validation.
        sigma_factor: label sigma / target size in cells (0.1).
        init_iters: CG iterations of :func:`init_kernel` for :math:`h_0`.
        kernel_size: ``k`` (11).
        reverse_augment: every epoch, play each training clip backwards with probability 1/2
            (needs ``PreparedClips.h0_reversed``): twice the clips at no feature cost.
        lr_schedule: ``"cosine"`` (from ``lr`` to 0 over ``epochs``, per step) or ``"constant"``.
        train_eval_clips: the per-epoch ``train_loss`` is measured on this many training clips
            (a fixed, evenly spaced subset; forward clips, no update); 0 = all.
        updater: :class:`RankingUpdaterConfig` as a dict (defaults when empty).
        ranking_n, ranking_init, cell_input: a sketch (issue #20): with ``ranking_n > 1`` the
            training objective unrolls the N-kernel ranking (:func:`unroll_ranked`) instead of the
            paper's N = 1 (validation and the baselines still use :func:`unroll`, N = 1). Default
            1: the paper's training, unchanged.
    """

    epochs: int = 20
    lr: float = 3e-4
    batch_size: int = 4
    grad_clip: float = 1.0
    weight_decay: float = 0.0
    lam1: float = 1e-10
    seed: int = 0
    val_fraction: float = 0.2
    sigma_factor: float = DEFAULT_SIGMA_FACTOR
    init_iters: int = DEFAULT_INIT_ITERS
    kernel_size: int = 11
    reverse_augment: bool = False
    lr_schedule: str = "constant"
    train_eval_clips: int = 0
    updater: dict[str, Any] = field(default_factory=dict)
    ranking_n: int = 1
    ranking_init: str = "copies"
    cell_input: str = "best"


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        model: the updater with the best validation loss (the last epoch's without validation clips).
        history: one dict per epoch (``epoch``, ``train_loss``, ``val_loss``, ``train_rel``,
            ``val_rel``, ``lr``, ``grad_norm``, ``seconds``).
        baselines: ``{"train": {...}, "val": {...}}`` of :func:`evaluate` for ``zero``, ``fixed``,
            ``untrained`` (and ``refit`` when computed by the caller).
        best_epoch: the epoch of ``model``.
        loss_scale: the constant the objective was multiplied by.
        state_path: the training-state file.
    """

    model: RankingUpdater
    history: list[dict[str, Any]]
    baselines: dict[str, dict[str, Any]]
    best_epoch: int
    loss_scale: float
    state_path: Path | None


def _state_dict_cpu(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").clone() for k, v in module.state_dict().items()}


def train(
    train_clips: PreparedClips,
    val_clips: PreparedClips | None,
    config: TrainConfig,
    *,
    state_path: str | os.PathLike[str] | None = None,
    resume: bool = False,
    device: torch.device | str = "cpu",
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train PreNet + ConvLSTM on Eq. 9 with N = 1 (see the module docstring).

    Args:
        train_clips, val_clips: from :func:`prepare_clips` (``val_clips`` may be ``None``).
        config: the numbers; must match the state file's when resuming.
        state_path: where the training state goes after every epoch (``None``: nowhere).
        resume: continue from ``state_path`` if it exists (model, optimizer, epoch, history).
        device: where the updater trains.
        progress: tqdm bar over the batches of each epoch.
        log: called with one line per epoch (and on resume).
        on_epoch: called with each epoch's history entry after the state is saved.

    Returns:
        A :class:`TrainResult`.
    """
    from tqdm.auto import tqdm

    dev = torch.device(device)
    say = log or (lambda s: None)
    ucfg = RankingUpdaterConfig(**config.updater)
    model = RankingUpdater(ucfg, seed=config.seed, device=dev)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    zero_train = float(train_clips.yS[:, 1:].double().square().mean())
    loss_scale = 1.0 / max(zero_train, 1e-12)

    history: list[dict[str, Any]] = []
    baselines: dict[str, dict[str, Any]] = {}
    best: dict[str, Any] = {"epoch": 0, "val": math.inf, "state": _state_dict_cpu(model)}
    start_epoch = 0
    path = Path(state_path) if state_path is not None else None
    cfg_dict = asdict(config)
    if resume and path is not None and path.is_file():
        st = torch.load(path, map_location="cpu", weights_only=False)
        if st.get("format") != STATE_FORMAT:
            raise ValueError(f"{path} is not a {STATE_FORMAT} file")
        saved = {k: v for k, v in st["config"].items() if k != "epochs"}
        for k in ("ranking_n", "ranking_init", "cell_input"):  # states saved before these options
            saved.setdefault(k, getattr(TrainConfig, k))
        now = {k: v for k, v in cfg_dict.items() if k != "epochs"}
        if saved != now:
            diff = {k: (saved.get(k), now.get(k)) for k in set(saved) | set(now) if saved.get(k) != now.get(k)}
            raise ValueError(f"cannot resume {path}: the training config differs (saved, now): {diff}")
        if st["train_ids"] != train_clips.ids or st["val_ids"] != (val_clips.ids if val_clips else []):
            raise ValueError(f"cannot resume {path}: the training/validation clips differ")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        history = list(st["history"])
        baselines = dict(st["baselines"])
        best = dict(st["best"])
        start_epoch = int(st["epoch"])
        say(f"resumed {path} at epoch {start_epoch}")

    if config.train_eval_clips and config.train_eval_clips < len(train_clips):
        pick = np.unique(np.linspace(0, len(train_clips) - 1, config.train_eval_clips).round().astype(int))
        train_eval_set = train_clips.subset(pick.tolist())
    else:
        train_eval_set = train_clips
    if not baselines:
        untrained = RankingUpdater(ucfg, seed=config.seed, device=dev)
        sets = [("train", train_clips), ("val", val_clips)]
        if train_eval_set is not train_clips:
            sets.insert(1, ("train_eval", train_eval_set))
        for name, clips in sets:
            if clips is None or len(clips) == 0:
                continue
            baselines[name] = {
                "fixed": evaluate(None, clips, lam1=config.lam1, device=dev),
                "untrained": evaluate(untrained, clips, lam1=config.lam1, device=dev),
            }
            baselines[name]["zero"] = {"loss": baselines[name]["fixed"]["zero"], "rel": 1.0}
        for name, b in baselines.items():
            say(
                f"baselines {name}: zero {b['zero']['loss']:.3e}, fixed h0 {b['fixed']['loss']:.3e} "
                f"(rel {b['fixed']['rel']:.3f}), untrained {b['untrained']['loss']:.3e} "
                f"(rel {b['untrained']['rel']:.3f})"
            )

    def save_state(epoch: int) -> None:
        if path is None:
            return
        _atomic_save(
            {
                "format": STATE_FORMAT,
                "version": STATE_VERSION,
                "epoch": epoch,
                "config": cfg_dict,
                "model": _state_dict_cpu(model),
                "optimizer": opt.state_dict(),
                "history": history,
                "baselines": baselines,
                "best": best,
                "loss_scale": loss_scale,
                "train_ids": train_clips.ids,
                "val_ids": val_clips.ids if val_clips else [],
                "torch": torch.__version__,
            },
            path,
        )

    if config.lr_schedule not in ("cosine", "constant"):
        raise ValueError(f"lr_schedule must be 'cosine' or 'constant', got {config.lr_schedule!r}")
    if config.reverse_augment and train_clips.h0_reversed is None:
        raise ValueError("reverse_augment needs prepare_clips(..., reversed_h0=True)")
    n = len(train_clips)
    per_epoch = -(-n // config.batch_size)
    total_steps = per_epoch * config.epochs
    for epoch in range(start_epoch + 1, config.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        rng = np.random.default_rng([config.seed, epoch])
        order = rng.permutation(n)
        if config.reverse_augment:  # each clip once per epoch, forward or backward at random
            order = order + n * (rng.random(n) < 0.5)
        batches = [order[s : s + config.batch_size].tolist() for s in range(0, n, config.batch_size)]
        total, count, gnorms = 0.0, 0, []
        bar = tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", unit="batch", disable=not progress, leave=False)
        for b_i, idx in enumerate(bar):
            step = (epoch - 1) * per_epoch + b_i  # 0-based global step
            lr = config.lr
            if config.lr_schedule == "cosine":
                lr = 0.5 * config.lr * (1.0 + math.cos(math.pi * step / max(total_steps, 1)))
            for group in opt.param_groups:
                group["lr"] = lr
            h0, xs, ys = train_clips.batch(idx, dev)
            if config.ranking_n > 1:
                losses = unroll_ranked(
                    model,
                    h0,
                    xs,
                    ys,
                    config.lam1,
                    n=config.ranking_n,
                    init=config.ranking_init,
                    cell_input=config.cell_input,
                )
            else:
                losses = unroll(model, h0, xs, ys, config.lam1)  # (B, T - 1)
            loss = losses.mean()
            opt.zero_grad(set_to_none=True)
            (loss * loss_scale).backward()
            if config.grad_clip > 0:
                gn = nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            else:
                gn = torch.sqrt(sum(p.grad.square().sum() for p in model.parameters() if p.grad is not None))
            opt.step()
            value = float(loss.detach())
            gnorms.append(float(gn))
            total += value * len(idx)
            count += len(idx)
            bar.set_postfix(loss=f"{value * loss_scale:.3f}")
        train_eval = evaluate(model, train_eval_set, lam1=config.lam1, device=dev)
        entry: dict[str, Any] = {
            "epoch": epoch,
            "train_loss_running": total / max(count, 1),
            "train_loss": train_eval["loss"],
            "train_rel": train_eval["rel"],
            "lr": lr,
            "grad_norm_median": float(np.median(gnorms)) if gnorms else 0.0,
        }
        if val_clips is not None and len(val_clips):
            val_eval = evaluate(model, val_clips, lam1=config.lam1, device=dev)
            entry["val_loss"] = val_eval["loss"]
            entry["val_rel"] = val_eval["rel"]
            entry["val_per_step"] = val_eval["per_step"]
            score = val_eval["loss"]
        else:
            score = train_eval["loss"]
        if score < best["val"]:
            best = {"epoch": epoch, "val": score, "state": _state_dict_cpu(model)}
        entry["seconds"] = time.perf_counter() - t0
        history.append(entry)
        save_state(epoch)
        say(
            f"epoch {epoch}: train {entry['train_loss']:.4e} (rel {entry['train_rel']:.3f})"
            + (f", val {entry['val_loss']:.4e} (rel {entry['val_rel']:.3f})" if "val_loss" in entry else "")
            + f", |g| {entry['grad_norm_median']:.3g}, {entry['seconds']:.0f} s"
        )
        if on_epoch is not None:
            on_epoch(entry)

    final = RankingUpdater(ucfg, device=dev)
    final.load_state_dict(best["state"])
    return TrainResult(
        model=final,
        history=history,
        baselines=baselines,
        best_epoch=int(best["epoch"]),
        loss_scale=loss_scale,
        state_path=path,
    )


# =========================================================================== init sweep


def sweep_init_iters(
    clips: PreparedClips,
    iters: Sequence[int],
    *,
    kernel_size: int = 11,
    lam1: float = 1e-10,
    device: torch.device | str = "cpu",
) -> list[dict[str, float]]:
    """How many CG iterations :func:`init_kernel` needs: for each ``iters`` value, the Eq. 9 fit of
    :math:`h_0` on frame 1 and the loss of :math:`h_0` kept fixed on frames ``2..T`` (the ``fixed``
    baseline), both absolute and relative to the all-zero kernel, averaged over ``clips``.

    ``clips.h0`` is ignored (recomputed per value); ``clips.yS`` gives the labels.
    """
    rows = []
    y2 = clips.yS.double().square().mean(dim=(-2, -1))  # (M, T)
    for n_it in iters:
        fit, nxt = [], []
        t0 = time.perf_counter()
        for i in range(len(clips)):
            x = clips.xS[i].to(device, torch.float32)
            y = clips.yS[i].to(device)
            h = init_kernel(x[:1], y[0], kernel_size, lam1, iters=int(n_it))
            loss = eq9_loss(h, x, y, lam1).double().cpu()
            fit.append(float(loss[0]))
            nxt.append(float(loss[1:].mean()))
        seconds = (time.perf_counter() - t0) / max(len(clips), 1)
        rows.append(
            {
                "iters": int(n_it),
                "fit_loss": float(np.mean(fit)),
                "fit_rel": float(np.mean(fit) / y2[:, 0].mean()),
                "fixed_loss": float(np.mean(nxt)),
                "fixed_rel": float(np.mean(nxt) / y2[:, 1:].mean()),
                "seconds_per_clip": seconds,
            }
        )
    return rows
