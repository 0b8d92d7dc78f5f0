"""Training clips: which windows of which sequences, their crops, the cached conv4_3 features,
and the prepared tensors the training loop reads."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rankatt_lib.components.init_kernel import (
    DEFAULT_INIT_ITERS,
    DEFAULT_SIGMA_FACTOR,
    init_kernel,
    target_label,
)
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
    "cache_clip_features",
    "cache_path",
    "clip_geometry",
    "load_clip",
    "prepare_clips",
    "select_clips",
    "split_by_sequence",
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
