"""Trajectories on disk, in the layout pysot and got10k use.

``<root>/<benchmark>/<tracker>/<sequence>.txt`` holds one ``x,y,w,h`` line per frame (frame 1 =
the initial box) and ``<sequence>_time.txt`` the seconds each frame took. Every file is written
atomically (a temporary file in the same folder, then :func:`os.replace`), so a result file that
exists is complete: an interrupted run can resume by skipping the sequences whose file exists.

Numbers are written as Python's shortest round-trip ``repr`` (``12.5``, ``nan``), so reading a file
back gives exactly the array that was written.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "TIME_SUFFIX",
    "tracker_dir",
    "result_path",
    "times_path",
    "write_boxes",
    "read_boxes",
    "write_times",
    "read_times",
    "load_results",
    "atomic_write_text",
]

TIME_SUFFIX = "_time.txt"
"""Suffix of the per-frame timing file beside ``<sequence>.txt``."""

_SEPARATORS = re.compile(r"[,\s]+")


def _check_component(value: str, what: str) -> str:
    if not isinstance(value, str) or not value or value in (".", ".."):
        raise ValueError(f"{what} must be a non-empty name, got {value!r}")
    if "/" in value or "\\" in value or os.sep in value:
        raise ValueError(f"{what} must not contain a path separator, got {value!r}")
    return value


def tracker_dir(root: str | os.PathLike[str], benchmark: str, tracker: str) -> Path:
    """``<root>/<benchmark>/<tracker>``; each name must be a single path component."""
    return Path(root) / _check_component(benchmark, "benchmark") / _check_component(tracker, "tracker")


def result_path(root: str | os.PathLike[str], benchmark: str, tracker: str, sequence: str) -> Path:
    """``<root>/<benchmark>/<tracker>/<sequence>.txt``; each name must be a single path component."""
    return tracker_dir(root, benchmark, tracker) / f"{_check_component(sequence, 'sequence')}.txt"


def times_path(root: str | os.PathLike[str], benchmark: str, tracker: str, sequence: str) -> Path:
    """``<root>/<benchmark>/<tracker>/<sequence>_time.txt``."""
    return result_path(root, benchmark, tracker, sequence).with_name(f"{sequence}{TIME_SUFFIX}")


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically: a temp file in the same folder, fsync, then rename.

    Creates missing parent folders. If anything fails, the temp file is removed and ``path`` is
    left as it was (absent, or the old complete content).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def _format(value: float) -> str:
    return repr(float(value))


def write_boxes(path: str | os.PathLike[str], boxes: Any) -> Path:
    """Write ``(N, 4)`` boxes as ``x,y,w,h`` lines, atomically. Returns the path."""
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"write_boxes({str(path)!r}): expected boxes of shape (N, 4), got {arr.shape}")
    text = "".join(",".join(_format(v) for v in row) + "\n" for row in arr)
    return atomic_write_text(path, text)


def read_boxes(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an ``x,y,w,h`` file (separators: commas, tabs and/or spaces; blank lines skipped).

    Returns:
        ``(N, 4)`` float64 array (``(0, 4)`` for an empty file).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a line without exactly four numbers, naming the file and the 1-based line.
    """
    p = Path(path)
    rows: list[list[float]] = []
    with p.open("r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            stripped = line.strip().strip(",").strip()
            if not stripped:
                continue
            fields = _SEPARATORS.split(stripped)
            try:
                values = [float(f) for f in fields]
            except ValueError:
                raise ValueError(f"{p}:{lineno}: not a number in {line.rstrip()!r}") from None
            if len(values) != 4:
                raise ValueError(
                    f"{p}:{lineno}: expected 4 values x,y,w,h, got {len(values)} in {line.rstrip()!r}"
                )
            rows.append(values)
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def write_times(path: str | os.PathLike[str], times: Any) -> Path:
    """Write per-frame times (seconds), one per line, atomically. Returns the path."""
    arr = np.asarray(times, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(
            f"write_times({str(path)!r}): expected a 1-D array of seconds, got shape {arr.shape}"
        )
    return atomic_write_text(path, "".join(_format(v) + "\n" for v in arr))


def read_times(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a timing file written by :func:`write_times`; ``(N,)`` seconds."""
    p = Path(path)
    out: list[float] = []
    with p.open("r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            s = line.strip()
            if not s:
                continue
            try:
                out.append(float(s))
            except ValueError:
                raise ValueError(
                    f"{p}:{lineno}: expected one number (seconds), got {line.rstrip()!r}"
                ) from None
    return np.asarray(out, dtype=np.float64)


def load_results(root: str | os.PathLike[str], benchmark: str, tracker: str) -> dict[str, np.ndarray]:
    """All trajectories of one tracker on one benchmark: sequence name -> ``(N, 4)`` boxes.

    Reads every ``<sequence>.txt`` in ``<root>/<benchmark>/<tracker>/`` except the
    ``*_time.txt`` files and hidden (temporary) files. Sorted by name.

    Raises:
        FileNotFoundError: the folder does not exist.
    """
    folder = tracker_dir(root, benchmark, tracker)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no results for tracker {tracker!r} on {benchmark!r}: {folder} is not a folder"
        )
    out: dict[str, np.ndarray] = {}
    for f in sorted(folder.glob("*.txt")):
        if f.name.startswith(".") or f.name.endswith(TIME_SUFFIX) or not f.is_file():
            continue
        out[f.name[: -len(".txt")]] = read_boxes(f)
    return out
