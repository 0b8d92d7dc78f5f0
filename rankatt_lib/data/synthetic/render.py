"""Rendering a planned sequence frame by frame, measuring its attributes, writing it in the OTB layout."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rankatt_lib.data.synthetic.scene import _composite, _line_kernel, _overlap, _place, _plan, _Scenario
from rankatt_lib.data.synthetic.spec import (
    _FM_PIXELS,
    _LR_AREA,
    _MB_LENGTH,
    _OCC_FRACTION,
    _OV_VISIBLE,
    _SV_RATIO,
    ATTRIBUTES,
    JPEG_QUALITY,
    SequenceSpec,
)

__all__ = ['SyntheticFrame', 'SyntheticSequence', 'iter_frames', 'render_sequence', 'write_sequence']


# --------------------------------------------------------------------------------------------------
# Rendering


@dataclass
class SyntheticFrame:
    """One rendered frame.

    Attributes:
        image: ``(H, W, 3)`` RGB uint8 (before JPEG compression).
        box: ``(4,)`` float64 ground truth ``x, y, w, h`` (1-based; ``0, 0, 0, 0`` when out of view).
        full_box: the unclipped box of the whole target (may extend beyond the image).
        occlusion: fraction of the target's alpha covered by occluders.
        blur: motion blur length of the target in pixels.
        mask: ``(H, W)`` bool mask of the (unoccluded) target, or ``None`` unless requested.
    """

    image: np.ndarray
    box: np.ndarray
    full_box: np.ndarray
    occlusion: float
    blur: float
    mask: np.ndarray | None = None


def iter_frames(spec: SequenceSpec, *, draw_target: bool = True, with_masks: bool = False) -> Iterator[SyntheticFrame]:
    """Render the frames of ``spec`` one by one.

    Args:
        spec: the sequence.
        draw_target: draw the target (``False`` renders the scene without it; the ground truth is
            unchanged; used to check that the box really holds the target).
        with_masks: attach the target mask to every frame.
    """
    return _frames(_plan(spec), draw_target=draw_target, with_masks=with_masks)


def _frames(sc: _Scenario, *, draw_target: bool = True, with_masks: bool = False) -> Iterator[SyntheticFrame]:
    spec = sc.spec
    W, H = spec.image_size
    tgt = sc.target
    for t in range(spec.n_frames):
        ox, oy = sc.cam[t]
        frame = cv2.warpAffine(
            sc.background,
            np.array([[1.0, 0, -ox], [0, 1.0, -oy]]),
            (W, H),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        for obj in sc.behind:
            rgba, _, x0, y0, _ = _place(obj, t)
            _composite(frame, rgba, x0, y0)
        rgba, alpha, tx0, ty0, blur = _place(tgt, t)
        if draw_target:
            _composite(frame, rgba, tx0, ty0)
        occ = 0.0
        for obj in sc.occluders:
            op = float(obj.opacity[t]) if obj.opacity is not None else 1.0
            if op <= 0:
                continue
            orgba, oalpha, ox0, oy0, _ = _place(obj, t)
            _composite(frame, orgba, ox0, oy0, op)
            occ = max(occ, op * _overlap(alpha, tx0, ty0, oalpha, ox0, oy0))
        if sc.light_field is not None and sc.light_pos is not None:
            lx, ly = sc.light_pos[t]
            frame *= sc.light_field[ly : ly + H, lx : lx + W]
        frame *= sc.gain[t].astype(np.float32)
        if np.any(sc.shake[t] != 0):
            frame = cv2.filter2D(frame, -1, _line_kernel(*sc.shake[t]), borderType=cv2.BORDER_REFLECT)
            blur = max(blur, float(np.hypot(*sc.shake[t])))
        frame += sc.noise[t % len(sc.noise)]
        image = np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)

        m = alpha >= 0.5
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        if rows.size == 0:  # degenerate: fall back to the pose centre
            rows = cols = np.array([0])
            tx0, ty0 = int(round(tgt.cx[t])), int(round(tgt.cy[t]))
        fx0, fx1 = tx0 + cols[0], tx0 + cols[-1]
        fy0, fy1 = ty0 + rows[0], ty0 + rows[-1]
        full_box = np.array([fx0 + 1, fy0 + 1, fx1 - fx0 + 1, fy1 - fy0 + 1], np.float64)
        cx0, cx1 = max(fx0, 0), min(fx1, W - 1)
        cy0, cy1 = max(fy0, 0), min(fy1, H - 1)
        if cx1 < cx0 or cy1 < cy0:
            box = np.zeros(4)
        else:
            box = np.array([cx0 + 1, cy0 + 1, cx1 - cx0 + 1, cy1 - cy0 + 1], np.float64)
        mask = None
        if with_masks:
            mask = np.zeros((H, W), bool)
            mh, mw = m.shape
            x0c, y0c = max(tx0, 0), max(ty0, 0)
            x1c, y1c = min(tx0 + mw, W), min(ty0 + mh, H)
            if x1c > x0c and y1c > y0c:
                mask[y0c:y1c, x0c:x1c] = m[y0c - ty0 : y1c - ty0, x0c - tx0 : x1c - tx0]
        yield SyntheticFrame(image, box, full_box, occ, blur, mask)


@dataclass
class SyntheticSequence:
    """A rendered sequence held in memory.

    Attributes:
        spec: what was rendered.
        frames: RGB uint8 images.
        gt: ``(N, 4)`` float64 ground truth (OTB convention; ``0`` rows when fully out of view).
        attributes: final attribute tags (designed plus measured).
        stats: measured quantities (max centre jump, scale range, max occlusion, ...).
        masks: per-frame target masks when requested, else ``None``.
    """

    spec: SequenceSpec
    frames: list[np.ndarray]
    gt: np.ndarray
    attributes: tuple[str, ...]
    stats: dict[str, Any]
    masks: list[np.ndarray] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def __len__(self) -> int:
        return len(self.frames)


def _measure(
    spec: SequenceSpec, boxes: np.ndarray, full: np.ndarray, occ: np.ndarray, blur: np.ndarray
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """Measure the OTB attributes from the ground truth; return the final tags and the stats."""
    valid = np.all(boxes[:, 2:] > 0, axis=1)
    centres = boxes[:, :2] + (boxes[:, 2:] - 1) / 2
    both = valid[1:] & valid[:-1]
    jumps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    max_jump = float(jumps[both].max()) if both.any() else 0.0
    lin = np.sqrt(full[:, 2] * full[:, 3] / (full[0, 2] * full[0, 3]))
    visible = (boxes[:, 2] * boxes[:, 3]) / (full[:, 2] * full[:, 3])
    measured = set()
    if max_jump > _FM_PIXELS:
        measured.add("FM")
    if lin.max() > _SV_RATIO or lin.min() < 1 / _SV_RATIO:
        measured.add("SV")
    if boxes[0, 2] * boxes[0, 3] < _LR_AREA:
        measured.add("LR")
    if visible.min() < _OV_VISIBLE:
        measured.add("OV")
    if occ.max() >= _OCC_FRACTION:
        measured.add("OCC")
    if blur.max() >= _MB_LENGTH:
        measured.add("MB")
    tags = tuple(a for a in ATTRIBUTES if a in measured or a in spec.attributes)
    stats = {
        "max_centre_jump": round(max_jump, 2),
        "scale_range": [round(float(lin.min()), 3), round(float(lin.max()), 3)],
        "first_area": float(boxes[0, 2] * boxes[0, 3]),
        "min_visible_fraction": round(float(visible.min()), 3),
        "frames_out_of_view": int((~valid).sum()),
        "max_occlusion": round(float(occ.max()), 3),
        "frames_occluded_over_half": int((occ > 0.5).sum()),
        "max_blur": round(float(blur.max()), 2),
        "designed": list(spec.attributes),
        "measured": [a for a in ATTRIBUTES if a in measured],
    }
    missing = [a for a in ("FM", "SV", "LR", "OV", "OCC", "MB") if a in spec.attributes and a not in measured]
    stats["designed_not_measured"] = missing
    return tags, stats


def render_sequence(spec: SequenceSpec, *, draw_target: bool = True, with_masks: bool = False) -> SyntheticSequence:
    """Render ``spec`` into memory (see :func:`iter_frames` for the arguments)."""
    frames, boxes, full, occ, blur, masks = [], [], [], [], [], []
    for fr in iter_frames(spec, draw_target=draw_target, with_masks=with_masks):
        frames.append(fr.image)
        boxes.append(fr.box)
        full.append(fr.full_box)
        occ.append(fr.occlusion)
        blur.append(fr.blur)
        if fr.mask is not None:
            masks.append(fr.mask)
    gt = np.array(boxes)
    tags, stats = _measure(spec, gt, np.array(full), np.array(occ), np.array(blur))
    return SyntheticSequence(spec, frames, gt, tags, stats, masks if with_masks else None)


def _encode_jpeg(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg",
        cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
        [
            cv2.IMWRITE_JPEG_QUALITY,
            JPEG_QUALITY,
            cv2.IMWRITE_JPEG_OPTIMIZE,
            0,
            cv2.IMWRITE_JPEG_PROGRESSIVE,
            0,
        ],
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def _format_box(b: np.ndarray) -> str:
    return ",".join(str(int(round(v))) for v in b)


def write_sequence(spec: SequenceSpec, folder: str | Path) -> dict[str, Any]:
    """Render ``spec`` and write it in the OTB layout to ``folder/spec.name`` (atomically).

    The sequence is written to a hidden temporary folder first and renamed into place, replacing
    any previous version, so an interrupted generation never leaves a half-written sequence.

    Returns:
        The sequence's metadata (name, frames, attributes, stats, ...).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / spec.name
    tmp = folder / f".{spec.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "img").mkdir(parents=True)
    boxes, full, occ, blur = [], [], [], []
    sc = _plan(spec)
    for i, fr in enumerate(_frames(sc), start=1):
        (tmp / "img" / f"{i:04d}.jpg").write_bytes(_encode_jpeg(fr.image))
        boxes.append(fr.box)
        full.append(fr.full_box)
        occ.append(fr.occlusion)
        blur.append(fr.blur)
    gt = np.array(boxes)
    tags, stats = _measure(spec, gt, np.array(full), np.array(occ), np.array(blur))
    (tmp / "groundtruth_rect.txt").write_text("".join(_format_box(b) + "\n" for b in gt))
    (tmp / "attributes.txt").write_text(",".join(tags) + "\n")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return {
        "name": spec.name,
        "split": spec.split,
        "n_frames": spec.n_frames,
        "attributes": list(tags),
        "image_size": list(spec.image_size),
        "stats": stats,
        "scene": sc.info,
    }
