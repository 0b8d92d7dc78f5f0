"""Track an object through your own video (or a folder of frames) with any registered tracker.

    python -m rankatt_lib track VIDEO|FOLDER|CAMERA (--box x,y,w,h | --select) [--tracker NAME]
        [--frames a:b] [--out boxes.txt] [--render out.mp4] [--skip-damaged]

The source is a video file, a folder of frames, or a webcam index (``0``, ``1``, ...: an integer
that is not an existing file opens ``cv2.VideoCapture(index)``). ``--frames a:b`` tracks frames
``a`` to ``b`` (1-based, inclusive; ``a:`` to the end); the box is the object in frame ``a`` and the
output has one row per tracked frame. ``--select`` draws the box with OpenCV's ``selectROI`` on that
first frame; without a display (or with a headless OpenCV) it is an error saying so. ``--out
boxes.txt`` also writes ``boxes_time.txt`` (the seconds of each tracker call, one per frame, as OTB
toolkits keep ``<seq>_time.txt`` beside ``<seq>.txt``). ``--render x.mp4`` writes H.264 (yuv420p,
``+faststart``: plays in browsers) with the ffmpeg binary of ``imageio-ffmpeg``; ``.avi`` is MJPG
written by OpenCV.

A folder of frames is read in frame order (numbers in the names compare as numbers: ``1.jpg,
2.jpg, ..., 10.jpg``, as :func:`rankatt_lib.data.otb.list_frames` orders OTB frames). A damaged frame
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
import sys
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

from rankatt_lib.data.otb import ImageReadError, MissingDataError, list_frames, read_bgr
from rankatt_lib.evaluation.results import atomic_write_text, write_times
from rankatt_lib.features.geometry import check_box
from rankatt_lib.registry import available_trackers, make_tracker

__all__ = [
    "check_display",
    "parse_frames",
    "select_box",
    "time_path",
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
        return read_bgr(f, ignore_orientation=False)
    except (ImageReadError, MissingDataError) as exc:
        raise DamagedFrameError(str(exc)) from None


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
    camera: int | None = None  # a webcam index; its capture stays open from open_video()
    _cap: Any = None
    _first: np.ndarray | None = None  # the camera's first frame (BGR), read by open_video()

    def frames(self, damaged: str = "error", start: int = 1) -> Iterator[np.ndarray | None]:
        """RGB frames in order from frame ``start`` (1-based). A damaged frame file raises
        :class:`DamagedFrameError`, or with ``damaged="skip"`` gives ``None`` (after a warning); a
        frame of another size than the first raises :class:`VideoError`."""
        if damaged not in ("error", "skip"):
            raise ValueError(f"damaged must be 'error' or 'skip', got {damaged!r}")
        if start < 1:
            raise ValueError(f"start is a 1-based frame number, got {start}")
        if self.camera is not None:
            yield from self._camera_frames(start)
            return
        if self._files is not None:
            for f in self._files[start - 1 :]:
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
            for _ in range(start - 1):  # decoded and dropped: exact, unlike seeking
                if not cap.grab():
                    return
            while True:
                ok, img = cap.read()
                if not ok:
                    break
                yield cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()

    def _camera_frames(self, start: int) -> Iterator[np.ndarray]:
        cap, first = self._cap, self._first
        if cap is None:
            raise VideoError(f"camera {self.camera}: its capture was already used and released")
        self._cap = self._first = None
        try:
            k = 1
            img = first
            while img is not None:
                if k >= start:
                    yield cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
                ok, img = cap.read()
                img = img if ok else None
                k += 1
        finally:
            cap.release()

    def close(self) -> None:
        """Release a camera opened by :func:`open_video` that was not read."""
        if self._cap is not None:
            self._cap.release()
            self._cap = self._first = None


def _camera_index(source: Any) -> int | None:
    """The webcam index ``source`` names (an int, or digits that are not an existing path)."""
    if isinstance(source, bool):
        return None
    if isinstance(source, int):
        return source
    if isinstance(source, str) and source.strip().isdigit() and not Path(source).exists():
        return int(source)
    return None


def open_camera(index: int) -> VideoSource:
    """Open webcam ``index`` (``cv2.VideoCapture(index)``) and read its first frame."""
    if index < 0:
        raise VideoError(f"camera index must be 0 or more, got {index}")
    cap = cv2.VideoCapture(index)
    ok, first = cap.read() if cap.isOpened() else (False, None)
    if not ok or first is None:
        cap.release()
        raise VideoError(f"cannot read camera {index} (cv2.VideoCapture({index}) gave no frame; is it connected?)")
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = fps if fps and math.isfinite(fps) and fps > 0 else 30.0
    return VideoSource(
        Path(f"camera{index}"), None, float(fps), (first.shape[1], first.shape[0]), camera=index, _cap=cap, _first=first
    )


def open_video(path: str | os.PathLike[str] | int) -> VideoSource:
    """Open a video file, a folder of frames (in frame order, :func:`rankatt_lib.data.otb.list_frames`)
    or a webcam (an integer index, or its digits as text when no such file exists); check the
    first frame reads."""
    index = _camera_index(path)
    if index is not None:
        return open_camera(index)
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


def parse_frames(text: str) -> tuple[int, int | None]:
    """Parse ``--frames a:b`` (1-based, inclusive), ``a:`` (to the end) or ``:b`` (from frame 1)."""
    a_text, sep, b_text = text.partition(":")
    try:
        if not sep:
            raise ValueError
        a = int(a_text) if a_text.strip() else 1
        b = int(b_text) if b_text.strip() else None
    except ValueError:
        raise ValueError(f"--frames must be a:b (1-based frame numbers, e.g. 10:250 or 10:), got {text!r}") from None
    check_frames((a, b))
    return a, b


def check_frames(frames: tuple[int, int | None], count: int | None = None, where: Any = None) -> None:
    """A frame range ``(a, b)`` that is well formed (and within ``count`` frames when known)."""
    a, b = frames
    shown = f"{a}:{'' if b is None else b}"
    if a < 1:
        raise ValueError(f"--frames {shown}: frame numbers start at 1")
    if b is not None and b < a:
        raise ValueError(f"--frames {shown}: the last frame is before the first")
    if count is not None and (a > count or (b is not None and b > count)):
        raise VideoError(f"--frames {shown} is out of range: {where} has {count} frames (1:{count})")


def time_path(out: str | os.PathLike[str]) -> Path:
    """Where the per-frame seconds of ``out`` go: ``boxes.txt`` -> ``boxes_time.txt``."""
    p = Path(out)
    return p.with_name(f"{p.stem}_time{p.suffix}")


def check_display() -> None:
    """Make sure ``cv2.selectROI`` can open a window; a :class:`VideoError` saying why not."""
    hint = "give the box with --box x,y,w,h instead (0-based pixels, as cv2.selectROI reports them)"
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise VideoError(f"--select needs a display to draw the box on, and there is none (DISPLAY is not set); {hint}")
    gui = [
        ln.split(":", 1)[1].strip() for ln in cv2.getBuildInformation().splitlines() if ln.strip().startswith("GUI:")
    ]
    if gui and gui[0].upper() == "NONE":
        raise VideoError(
            f"--select needs OpenCV's windows, and this OpenCV {cv2.__version__} is built without a GUI "
            f"(a -headless wheel); {hint}"
        )


def select_box(frame_rgb: np.ndarray, title: str = "rankatt: drag a box around the object, then ENTER") -> np.ndarray:
    """Let the user draw the box on ``frame_rgb`` with ``cv2.selectROI``; 0-based ``x, y, w, h``."""
    check_display()
    try:
        x, y, w, h = cv2.selectROI(title, cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR), showCrosshair=True)
    except cv2.error as exc:
        raise VideoError(f"--select: OpenCV could not open a window ({str(exc).strip()})") from None
    finally:
        try:
            cv2.destroyWindow(title)
        except cv2.error:
            pass
    if w <= 0 or h <= 0:
        raise VideoError("--select: no box was drawn (the selection was cancelled or empty)")
    return np.array([x, y, w, h], dtype=np.float64)


class _H264Writer:
    """H.264 MP4 (yuv420p, +faststart) through imageio-ffmpeg's ffmpeg; frames are RGB."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float) -> None:
        try:
            import imageio_ffmpeg
        except ImportError as exc:  # pragma: no cover - a runtime dependency
            raise VideoError(f"cannot write {path}: H.264 needs imageio-ffmpeg (pip install imageio-ffmpeg)") from exc
        self.path = path
        self._gen = imageio_ffmpeg.write_frames(
            str(path),
            size,
            pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p",
            fps=fps,
            codec="libx264",
            macro_block_size=1,
            ffmpeg_log_level="error",
            # yuv420p needs even sides: pad an odd one by a pixel instead of resizing
            output_params=["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-movflags", "+faststart"],
        )
        try:
            self._gen.send(None)
        except Exception as exc:
            raise VideoError(f"cannot write {path}: ffmpeg did not start ({exc})") from None

    def write(self, rgb: np.ndarray) -> None:
        self._gen.send(np.ascontiguousarray(rgb))

    def release(self) -> None:
        self._gen.close()


class _OpenCVWriter:
    """MJPG AVI through OpenCV; frames are RGB."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float) -> None:
        self._w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
        if not self._w.isOpened():
            raise VideoError(f"cannot write {path}: OpenCV has no MJPG encoder")

    def write(self, rgb: np.ndarray) -> None:
        self._w.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def release(self) -> None:
        self._w.release()


def _open_writer(render: Path, size: tuple[int, int], fps: float) -> Any:
    suffix = render.suffix.lower()
    if suffix == ".mp4":
        return _H264Writer(render, size, fps)
    if suffix == ".avi":
        return _OpenCVWriter(render, size, fps)
    raise VideoError(
        f"--render {render}: write .mp4 (H.264, plays in browsers) or .avi (MJPG), not {suffix or 'no suffix'!r}"
    )


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
    source: str | os.PathLike[str] | int,
    box: Any,
    tracker: str | None = None,
    out: str | os.PathLike[str] | None = None,
    render: str | os.PathLike[str] | None = None,
    progress: bool = True,
    damaged: str = "error",
    frames: tuple[int, int | None] | None = None,
    select: bool = False,
    **tracker_kwargs: Any,
) -> np.ndarray:
    """Track the object in ``box`` (0-based ``x, y, w, h`` in the first tracked frame) through ``source``.

    ``source``: a video file, a folder of frames, or a webcam index (see :func:`open_video`).
    ``frames``: ``(a, b)``, track frames ``a`` to ``b`` only (1-based, inclusive; ``b=None`` to the
    end); ``box`` is then the object in frame ``a``. A range beyond the video is a
    :class:`VideoError` naming the video and its number of frames (for a camera or a stream of
    unknown length: when it ends before ``b``). ``select``: draw the box with ``cv2.selectROI`` on
    the first tracked frame (``box`` must be ``None``); without a display a :class:`VideoError`.

    Returns the boxes ``(N, 4)`` in the same 0-based convention, one per tracked frame (the first =
    ``box``). ``out`` receives them as ``x,y,w,h`` lines (written atomically) and
    :func:`time_path` (``boxes_time.txt``) the seconds of each tracker call; ``render`` a copy of
    the video with the boxes drawn (``.mp4``: H.264 via imageio-ffmpeg; ``.avi``: MJPG). Both
    paths are checked before the first frame is tracked. If the tracker fails part-way (or the run
    is interrupted), the boxes tracked so far are written to ``<out>.partial`` before the error is
    raised; if ``out`` cannot be written at the end, the boxes go to ``<out>.partial`` or a
    temporary file and the error names it.

    ``damaged``: ``"error"`` (default) raises :class:`DamagedFrameError` naming a truncated or
    undecodable frame file; ``"skip"`` warns, skips the frame (the tracker does not see it) and
    gives it the row ``nan, nan, nan, nan`` (``render`` leaves it out). A damaged first frame is
    always an error.
    """
    if damaged not in ("error", "skip"):
        raise ValueError(f"damaged must be 'error' or 'skip', got {damaged!r}")
    if select and box is not None:
        raise ValueError("give either a box or select=True (--box or --select), not both")
    if not select and box is None:
        raise ValueError("no box: give --box x,y,w,h (or --select on a display)")
    if frames is not None:
        check_frames(frames)
    if select:
        check_display()  # before opening a camera or checking files
    first_no, last_no = frames if frames is not None else (1, None)
    video = open_video(source)
    try:
        if frames is not None:
            check_frames(frames, video.frame_count, video.path)
        if not select:
            box0 = np.asarray(box, dtype=np.float64).reshape(-1)
            check_box(box0, (video.size[1], video.size[0]), origin=0.0)  # the user's own 0-based numbers
        out = check_output_path(out, "--out") if out is not None else None
        if out is not None:
            check_output_path(time_path(out), "--out's timing file")
        if render is not None:
            render = check_output_path(render, "--render")
            if render.suffix.lower() not in (".mp4", ".avi"):
                _open_writer(render, video.size, video.fps)  # raises the suffix error
        name = tracker or default_tracker()
        trk = make_tracker(name, **tracker_kwargs)
    except BaseException:
        video.close()
        raise

    writer = None
    boxes: list[np.ndarray] = []
    times: list[float] = []
    total = None
    if video.frame_count is not None:
        total = (last_no if last_no is not None else video.frame_count) - first_no + 1
    elif last_no is not None:
        total = last_no - first_no + 1
    bar = tqdm(total=total, desc=f"{name} on {video.path.name}", unit="frame", disable=not progress)
    try:
        if render is not None:
            writer = _open_writer(render, video.size, video.fps)
        stream = video.frames(damaged, start=first_no)
        for i, frame in enumerate(stream):
            if last_no is not None and first_no + i > last_no:
                break
            if frame is None:  # damaged, skipped (damaged="skip")
                if i == 0:
                    raise DamagedFrameError(f"the first frame of {video.path} is damaged; nothing to track")
                boxes.append(np.full(4, np.nan))
                times.append(math.nan)
                bar.update(1)
                continue
            if i == 0:
                if select:
                    box0 = select_box(frame)
                    check_box(box0, (video.size[1], video.size[0]), origin=0.0)
                t0 = time.perf_counter()
                trk.init(frame, box0 + [1, 1, 0, 0])
                times.append(time.perf_counter() - t0)
                b = box0
            else:
                t0 = time.perf_counter()
                out_box = trk.update(frame)
                times.append(time.perf_counter() - t0)
                b = np.asarray(out_box, dtype=np.float64).reshape(4) - [1, 1, 0, 0]
            boxes.append(b)
            if writer is not None:
                drawn = frame.copy()
                x, y, w, h = (int(round(v)) for v in b)
                cv2.rectangle(drawn, (x, y), (x + w - 1, y + h - 1), (255, 165, 0), 2)  # orange (RGB)
                writer.write(drawn)
            bar.update(1)
        if not boxes:
            raise VideoError(
                f"--frames {first_no}:{last_no or ''} is out of range: {video.path} ended before frame {first_no}"
            )
        if last_no is not None and first_no + len(boxes) - 1 < last_no:
            raise VideoError(
                f"--frames {first_no}:{last_no} is out of range: {video.path} ended after frame "
                f"{first_no + len(boxes) - 1}"
            )
    except BaseException as exc:
        if out is not None and boxes:
            saved = _save_boxes(out, boxes, ".partial")
            if saved is not None and hasattr(exc, "add_note"):
                exc.add_note(f"the {len(boxes)} boxes tracked before this are in {saved}")
        raise
    finally:
        bar.close()
        video.close()
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
        write_times(time_path(out), np.array(times))
    return result
