"""Track an object through your own video (or a folder of frames) with any registered tracker.

    python -m rankatt_lib track VIDEO --box x,y,w,h [--tracker NAME] [--out boxes.txt] [--render out.mp4]

Boxes on the command line and in the output file use the convention of image editors and
``cv2.selectROI``: ``x, y`` is the top-left pixel, counted from 0. (Internally the trackers work
in OTB's 1-based convention; the conversion is done here, once, in both directions.)
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm.auto import tqdm

from .geometry import check_box
from .registry import available_trackers, make_tracker
from .results import atomic_write_text

__all__ = ["VideoError", "VideoSource", "open_video", "parse_box", "track_video", "DEFAULT_TRACKER"]

DEFAULT_TRACKER = "rankatt"
"""The paper's tracker; :func:`default_tracker` falls back to CSRT while it is not registered."""

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


class VideoError(RuntimeError):
    """A video or frame folder that cannot be read."""


def default_tracker() -> str:
    """``rankatt`` when it is registered, else ``csrt``."""
    return DEFAULT_TRACKER if DEFAULT_TRACKER in available_trackers() else "csrt"


@dataclass
class VideoSource:
    """Frames of a video file or of a folder of images, as RGB uint8 arrays ``(H, W, 3)``."""

    path: Path
    frame_count: int | None
    fps: float
    size: tuple[int, int]  # (width, height)
    _files: list[Path] | None = None

    def frames(self) -> Iterator[np.ndarray]:
        if self._files is not None:
            for f in self._files:
                img = cv2.imread(str(f), cv2.IMREAD_COLOR)
                if img is None:
                    raise VideoError(f"cannot read frame {f}")
                yield cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
            return
        cap = cv2.VideoCapture(str(self.path))
        try:
            while True:
                ok, img = cap.read()
                if not ok:
                    break
                yield cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()


def open_video(path: str | os.PathLike[str]) -> VideoSource:
    """Open a video file or a folder of frames (sorted by name); check the first frame reads."""
    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p} does not exist")
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise VideoError(f"{p} is a folder with no image files ({', '.join(IMAGE_SUFFIXES)})")
        first = cv2.imread(str(files[0]), cv2.IMREAD_COLOR)
        if first is None:
            raise VideoError(f"cannot read frame {files[0]}")
        return VideoSource(p, len(files), 30.0, (first.shape[1], first.shape[0]), files)
    cap = cv2.VideoCapture(str(p))
    try:
        ok, first = cap.read() if cap.isOpened() else (False, None)
        if not ok or first is None:
            raise VideoError(f"cannot read {p} as a video (OpenCV could not decode a first frame)")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = cap.get(cv2.CAP_PROP_FPS)
    finally:
        cap.release()
    fps = fps if fps and math.isfinite(fps) and fps > 0 else 30.0
    return VideoSource(p, count if count > 0 else None, float(fps), (first.shape[1], first.shape[0]))


def parse_box(text: str) -> np.ndarray:
    """Parse ``"x,y,w,h"`` (commas or spaces) into a float array; a clear error otherwise."""
    parts = [t for t in text.replace(",", " ").split() if t]
    try:
        values = [float(t) for t in parts]
    except ValueError as exc:
        raise ValueError(f"--box must be four numbers x,y,w,h; got {text!r}") from exc
    if len(values) != 4:
        raise ValueError(f"--box must be four numbers x,y,w,h; got {len(values)} in {text!r}")
    return np.asarray(values, dtype=np.float64)


def _format_boxes(boxes: np.ndarray) -> str:
    return "".join(",".join(f"{v:.2f}" for v in b) + "\n" for b in boxes)


def track_video(
    source: str | os.PathLike[str],
    box: Any,
    tracker: str | None = None,
    out: str | os.PathLike[str] | None = None,
    render: str | os.PathLike[str] | None = None,
    progress: bool = True,
    **tracker_kwargs: Any,
) -> np.ndarray:
    """Track the object in ``box`` (0-based ``x, y, w, h`` in the first frame) through ``source``.

    Returns the boxes ``(N, 4)`` in the same 0-based convention, one per frame (frame 1 = ``box``).
    ``out`` receives them as ``x,y,w,h`` lines (written atomically); ``render`` a copy of the video
    with the boxes drawn (``.mp4`` or ``.avi``). If the tracker fails part-way, the boxes tracked so
    far are written to ``<out>.partial`` before the error is raised.
    """
    video = open_video(source)
    box0 = np.asarray(box, dtype=np.float64).reshape(-1)
    # check_box works in OTB's 1-based convention: shift once here.
    check_box(box0 + [1, 1, 0, 0], (video.size[1], video.size[0]))
    name = tracker or default_tracker()
    trk = make_tracker(name, **tracker_kwargs)

    writer = None
    if render is not None:
        render = Path(render)
        render.parent.mkdir(parents=True, exist_ok=True)
        fourcc = cv2.VideoWriter_fourcc(*("MJPG" if render.suffix.lower() == ".avi" else "mp4v"))
        writer = cv2.VideoWriter(str(render), fourcc, video.fps, video.size)
        if not writer.isOpened():
            raise VideoError(f"cannot write {render}: OpenCV has no encoder for {render.suffix!r}")

    boxes: list[np.ndarray] = []
    bar = tqdm(total=video.frame_count, desc=f"{name} on {video.path.name}", unit="frame", disable=not progress)
    try:
        for i, frame in enumerate(video.frames()):
            if i == 0:
                trk.init(frame, box0 + [1, 1, 0, 0])
                b = box0
            else:
                b = np.asarray(trk.update(frame), dtype=np.float64).reshape(4) - [1, 1, 0, 0]
            boxes.append(b)
            if writer is not None:
                bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
                x, y, w, h = (int(round(v)) for v in b)
                cv2.rectangle(bgr, (x, y), (x + w - 1, y + h - 1), (0, 165, 255), 2)
                writer.write(bgr)
            bar.update(1)
    except BaseException:
        if out is not None and boxes:
            atomic_write_text(f"{out}.partial", _format_boxes(np.array(boxes)))
        raise
    finally:
        bar.close()
        if writer is not None:
            writer.release()
    result = np.array(boxes)
    if out is not None:
        atomic_write_text(out, _format_boxes(result))
    return result
