"""Track an object through your own video (or a folder of frames) with any registered tracker.

    python -m rankatt_lib track VIDEO --box x,y,w,h [--tracker NAME] [--out boxes.txt] [--render out.mp4]
        [--skip-damaged]

A folder of frames is read in frame order (numbers in the names compare as numbers: ``1.jpg,
2.jpg, ..., 10.jpg``, as :func:`rankatt_lib.data.list_frames` orders OTB frames). A damaged frame
(a truncated JPEG or PNG, which OpenCV would decode with a grey part) or a frame of another size
is an error naming the file; with ``damaged="skip"`` (``--skip-damaged``) a damaged frame is
skipped with a warning and its row is ``nan,nan,nan,nan``. The output files are checked before
the first frame is tracked, and boxes already tracked are never lost: if the tracker fails, the
run is interrupted or ``out`` cannot be written, they go to ``<out>.partial`` (or, if that cannot
be written either, to a file in the temporary folder), and the error says where.

Boxes on the command line and in the output file use the convention of image editors and
``cv2.selectROI``: ``x, y`` is the top-left pixel, counted from 0. (Internally the trackers work
in OTB's 1-based convention; the conversion is done here, once, in both directions.)
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm.auto import tqdm

from .data import image_damage, list_frames
from .geometry import check_box
from .registry import available_trackers, make_tracker
from .results import atomic_write_text

__all__ = [
    "DamagedFrameError",
    "VideoError",
    "VideoSource",
    "check_output_path",
    "open_video",
    "parse_box",
    "track_video",
    "DEFAULT_TRACKER",
]

DEFAULT_TRACKER = "rankatt"
"""The paper's tracker; :func:`default_tracker` falls back to CSRT while it is not registered."""

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


class VideoError(RuntimeError):
    """A video or frame folder that cannot be read, or an output that cannot be written."""


class DamagedFrameError(VideoError):
    """A frame file that is truncated or cannot be decoded."""


def _read_frame(f: Path) -> np.ndarray:
    """One frame file as BGR (what ``cv2.imread(f, IMREAD_COLOR)`` gives), damaged ones refused."""
    try:
        data = f.read_bytes()
    except OSError as exc:
        raise DamagedFrameError(f"cannot read frame {f}: {exc.strerror or exc}") from None
    damage = image_damage(data)
    if damage is not None:
        raise DamagedFrameError(f"damaged frame {f}: {damage}")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise DamagedFrameError(f"cannot read frame {f} (OpenCV cannot decode it)")
    return img


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

    def frames(self, damaged: str = "error") -> Iterator[np.ndarray | None]:
        """RGB frames in order. A damaged frame file raises :class:`DamagedFrameError`, or with
        ``damaged="skip"`` gives ``None`` (after a warning); a frame of another size than the
        first raises :class:`VideoError`."""
        if damaged not in ("error", "skip"):
            raise ValueError(f"damaged must be 'error' or 'skip', got {damaged!r}")
        if self._files is not None:
            for f in self._files:
                try:
                    img = _read_frame(f)
                except DamagedFrameError as exc:
                    if damaged == "error":
                        raise
                    warnings.warn(f"{exc}; frame skipped", stacklevel=2)
                    yield None
                    continue
                if (img.shape[1], img.shape[0]) != self.size:
                    raise VideoError(
                        f"frame {f} is {img.shape[1]}x{img.shape[0]} but {self._files[0].name} is "
                        f"{self.size[0]}x{self.size[1]}; all frames must have one size"
                    )
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
    """Open a video file or a folder of frames (in frame order, :func:`rankatt_lib.data.list_frames`);
    check the first frame reads."""
    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p} does not exist")
    if p.is_dir():
        files = list_frames(p, IMAGE_SUFFIXES)
        if not files:
            raise VideoError(f"{p} is a folder with no image files ({', '.join(IMAGE_SUFFIXES)})")
        first = _read_frame(files[0])
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


def check_output_path(path: str | os.PathLike[str], what: str = "--out") -> Path:
    """Make sure a file can be written at ``path`` (creating its missing folders) before any work.

    Raises:
        VideoError: ``path`` is a folder, a component of it is a file, or its folder is not
            writable; the message names the path.
    """
    p = Path(path)
    if p.is_dir():
        raise VideoError(f"{what} {p} is a folder; give a file name")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(prefix=f".{p.name}.", dir=p.parent):  # unnamed where the OS allows
            pass
    except OSError as exc:
        raise VideoError(f"{what} {p} cannot be written: {exc.strerror or exc}") from None
    return p


def _save_boxes(out: Path | None, boxes: list[np.ndarray] | np.ndarray, suffix: str = "") -> Path | None:
    """Write boxes to ``<out><suffix>``; if that fails, to a new file in the temporary folder.
    Returns where they went (``None`` when there is nothing to save)."""
    if len(boxes) == 0:
        return None
    text = _format_boxes(np.asarray(boxes))
    if out is not None:
        try:
            return atomic_write_text(f"{out}{suffix}", text)
        except OSError:
            pass
    fd, fallback = tempfile.mkstemp(prefix=f"rankatt-track-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(fallback)


def track_video(
    source: str | os.PathLike[str],
    box: Any,
    tracker: str | None = None,
    out: str | os.PathLike[str] | None = None,
    render: str | os.PathLike[str] | None = None,
    progress: bool = True,
    damaged: str = "error",
    **tracker_kwargs: Any,
) -> np.ndarray:
    """Track the object in ``box`` (0-based ``x, y, w, h`` in the first frame) through ``source``.

    Returns the boxes ``(N, 4)`` in the same 0-based convention, one per frame (frame 1 = ``box``).
    ``out`` receives them as ``x,y,w,h`` lines (written atomically); ``render`` a copy of the video
    with the boxes drawn (``.mp4`` or ``.avi``). Both paths are checked before the first frame is
    tracked. If the tracker fails part-way (or the run is interrupted), the boxes tracked so far
    are written to ``<out>.partial`` before the error is raised; if ``out`` cannot be written at the
    end, the boxes go to ``<out>.partial`` or a temporary file and the error names it.

    ``damaged``: ``"error"`` (default) raises :class:`DamagedFrameError` naming a truncated or
    undecodable frame file; ``"skip"`` warns, skips the frame (the tracker does not see it) and
    gives it the row ``nan, nan, nan, nan`` (``render`` leaves it out). A damaged first frame is
    always an error.
    """
    if damaged not in ("error", "skip"):
        raise ValueError(f"damaged must be 'error' or 'skip', got {damaged!r}")
    video = open_video(source)
    box0 = np.asarray(box, dtype=np.float64).reshape(-1)
    check_box(box0, (video.size[1], video.size[0]), origin=0.0)  # the user's own 0-based numbers
    out = check_output_path(out, "--out") if out is not None else None
    if render is not None:
        render = check_output_path(render, "--render")
    name = tracker or default_tracker()
    trk = make_tracker(name, **tracker_kwargs)

    writer = None
    if render is not None:
        fourcc = cv2.VideoWriter_fourcc(*("MJPG" if render.suffix.lower() == ".avi" else "mp4v"))
        writer = cv2.VideoWriter(str(render), fourcc, video.fps, video.size)
        if not writer.isOpened():
            raise VideoError(f"cannot write {render}: OpenCV has no encoder for {render.suffix!r}")

    boxes: list[np.ndarray] = []
    bar = tqdm(total=video.frame_count, desc=f"{name} on {video.path.name}", unit="frame", disable=not progress)
    try:
        for i, frame in enumerate(video.frames(damaged)):
            if frame is None:  # damaged, skipped (damaged="skip")
                if i == 0:
                    raise DamagedFrameError(f"the first frame of {video.path} is damaged; nothing to track")
                boxes.append(np.full(4, np.nan))
                bar.update(1)
                continue
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
    except BaseException as exc:
        if out is not None and boxes:
            saved = _save_boxes(out, boxes, ".partial")
            if saved is not None and hasattr(exc, "add_note"):
                exc.add_note(f"the {len(boxes)} boxes tracked before this are in {saved}")
        raise
    finally:
        bar.close()
        if writer is not None:
            writer.release()
    result = np.array(boxes)
    if out is not None:
        try:
            atomic_write_text(out, _format_boxes(result))
        except OSError as exc:
            saved = _save_boxes(out, result, ".partial")
            raise VideoError(
                f"cannot write {out} ({exc.strerror or exc}); the {len(result)} boxes are in {saved}"
            ) from exc
    return result
