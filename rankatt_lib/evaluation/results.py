"""Trajectories on disk, in the layout pysot and got10k use.

``<root>/<benchmark>/<tracker>/<sequence>.txt`` holds one ``x,y,w,h`` line per frame (frame 1 =
the initial box) and ``<sequence>_time.txt`` the seconds each frame took (got10k keeps its timing
files in a ``times/`` sub-folder instead: :func:`find_times` reads both layouts). Every file is written
atomically (a temporary file in the same folder, then :func:`os.replace`), so a result file that
exists is complete: an interrupted run can resume by skipping the sequences whose file exists.

A result file is *finished* only when it holds one box per frame of its sequence
(:func:`check_result`); a file that is empty, truncated or unreadable is set aside as
``<sequence>.txt.bad`` (:func:`set_aside`) and the sequence is tracked again. A run holds
:class:`SequenceLock` (``.<sequence>.lock``) while it tracks a sequence, so that two runs into
the same folder never track the same sequence at once.

Numbers are written as Python's shortest round-trip ``repr`` (``12.5``, ``nan``), so reading a file
back gives exactly the array that was written.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "TIME_SUFFIX",
    "TIMES_DIR",
    "find_times",
    "result_key",
    "match_names",
    "tracker_dir",
    "result_path",
    "times_path",
    "write_boxes",
    "read_boxes",
    "write_times",
    "read_times",
    "load_results",
    "atomic_write_text",
    "check_result",
    "set_aside",
    "remove_stale_temps",
    "SequenceLock",
]

TIME_SUFFIX = "_time.txt"
"""Suffix of the per-frame timing file beside ``<sequence>.txt``."""

TIMES_DIR = "times"
"""Sub-folder where got10k's ``ExperimentOTB`` keeps ``<sequence>_time.txt`` (``experiments/otb.py``)."""

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


def find_times(folder: str | os.PathLike[str], sequence: str) -> Path | None:
    """The timing file of ``sequence`` in a tracker folder, or ``None``.

    Looks for ``<folder>/<sequence>_time.txt`` (this project, pytracking) first, then
    ``<folder>/times/<sequence>_time.txt`` (got10k's ``ExperimentOTB``).
    """
    d = Path(folder)
    for p in (d / f"{sequence}{TIME_SUFFIX}", d / TIMES_DIR / f"{sequence}{TIME_SUFFIX}"):
        if p.is_file():
            return p
    return None


# Toolkits that call a one-target folder by its folder name although the benchmark's target has a
# number: got10k's ``datasets/otb.py`` names Human4's only non-empty ground truth "Human4".
_SINGLE_TARGET_ALIASES: dict[str, str] = {"human4": "human4.2"}


def result_key(name: str) -> str:
    """The spelling-free form of a sequence name used to match results to a dataset.

    Case is ignored and ``-``, ``_`` and ``.`` are the same separator, so OTB's ``Jogging.1``,
    pysot's ``Jogging-1`` (and ``jogging_1`` in its old result sets), pytracking's ``Jogging_1`` and
    the OTB MATLAB toolkit's ``jogging-1`` all give ``jogging.1``.
    """
    return name.lower().replace("-", ".").replace("_", ".")


def match_names(result_names: Any, dataset_names: Any) -> dict[str, str]:
    """Which result belongs to which dataset sequence: dataset name -> result name.

    An exact name wins; otherwise the names are compared with :func:`result_key`, and a result
    called ``Human4`` (got10k's name) stands for ``Human4.2`` when the dataset has no ``Human4``.
    Dataset sequences without a result are left out.

    Raises:
        ValueError: two results (e.g. ``Jogging-1.txt`` and ``Jogging_1.txt``) match one sequence,
            naming both.
    """
    results_list = list(result_names)
    dataset_list = list(dataset_names)
    exact = set(results_list)
    by_key: dict[str, list[str]] = {}
    for r in results_list:
        key = result_key(r)
        by_key.setdefault(key, []).append(r)
    dataset_keys = {result_key(n) for n in dataset_list}
    for alias, target in _SINGLE_TARGET_ALIASES.items():
        if alias in by_key and alias not in dataset_keys:
            by_key.setdefault(target, []).extend(by_key[alias])
    out: dict[str, str] = {}
    for n in dataset_list:
        if n in exact:
            out[n] = n
            continue
        found = [r for r in by_key.get(result_key(n), []) if r not in dataset_list]
        if len(found) > 1:
            raise ValueError(
                f"sequence {n!r}: several results match it ({', '.join(sorted(found))}); keep one"
            )
        if found:
            out[n] = found[0]
    return out


def _umask() -> int:
    """The process's umask (read without changing it where the OS allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically: a temp file in the same folder, fsync, then rename.

    Creates missing parent folders. If anything fails, the temp file is removed and ``path`` is
    left as it was (absent, or the old complete content).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp creates the file 0600; give it the mode a plain open() would (an existing file's
        # mode, else 0666 less the umask), so that others can read results on a shared machine.
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
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


def check_result(path: str | os.PathLike[str], n_frames: int) -> str | None:
    """Why ``path`` is not a finished trajectory of ``n_frames`` boxes, or ``None`` if it is.

    A finished file exists, reads as ``x,y,w,h`` rows (:func:`read_boxes`), has exactly one row
    per frame and ends with a line break (as :func:`write_boxes` writes it: a file cut inside its
    last number still has four numbers on every row). The reason names the file (``"<path> has
    200 rows, the sequence has 400 frames"``).
    """
    p = Path(path)
    if not p.is_file():
        return f"{p} does not exist"
    try:
        with p.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() > 0:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    return f"{p} does not end with a line break (cut short while written or copied?)"
        boxes = read_boxes(p)
    except (OSError, UnicodeDecodeError) as exc:
        return f"{p} cannot be read: {exc}"
    except ValueError as exc:  # the message names the file and the line
        return str(exc)
    if len(boxes) != n_frames:
        return f"{p} has {len(boxes)} rows, the sequence has {n_frames} frames"
    return None


def set_aside(path: str | os.PathLike[str]) -> Path:
    """Rename a damaged result file to ``<name>.bad`` (``.bad.1``, ``.bad.2``... if taken); never
    overwrites an earlier one. Returns the new path."""
    p = Path(path)
    k = 0
    while True:
        target = p.with_name(f"{p.name}.bad" + (f".{k}" if k else ""))
        if not target.exists():
            os.replace(p, target)
            return target
        k += 1


def remove_stale_temps(folder: str | os.PathLike[str], sequence: str) -> list[Path]:
    """Remove the temporary files an interrupted :func:`atomic_write_text` left for ``sequence``
    (``.<sequence>.txt.*.tmp``, ``.<sequence>_time.txt.*.tmp``). Call it only while holding the
    sequence's :class:`SequenceLock`. Returns the removed paths."""
    d = Path(folder)
    if not d.is_dir():
        return []
    prefixes = (f".{sequence}.txt.", f".{sequence}{TIME_SUFFIX}.")
    removed = []
    for f in d.iterdir():
        if f.name.endswith(".tmp") and f.name.startswith(prefixes) and f.is_file():
            try:
                f.unlink()
                removed.append(f)
            except FileNotFoundError:
                pass
    return removed


class SequenceLock:
    """An exclusive lock on one sequence's results, held while a run tracks it.

    The lock is ``flock`` on ``<folder>/.<sequence>.lock`` (POSIX): the system drops it when the
    process ends, however it ends (a run killed with SIGKILL leaves no stale lock), and the file
    is removed on release. Elsewhere (no ``fcntl``) every :meth:`acquire` succeeds.

    Example::

        lock = SequenceLock(folder, "Basketball")
        if lock.acquire():        # non-blocking: False while another process holds it
            try: ...
            finally: lock.release()
    """

    def __init__(self, folder: str | os.PathLike[str], sequence: str) -> None:
        self.path = Path(folder) / f".{_check_component(sequence, 'sequence')}.lock"
        self._fd: int | None = None

    def holder(self) -> str:
        """What the lock file says about its holder (``"pid 1234 on host"``), or ``""``."""
        try:
            return self.path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return ""

    def acquire(self) -> bool:
        """Take the lock if free (never waits); True when this object holds it."""
        if self._fd is not None:
            return True
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no locking
            self._fd = -1
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            except BaseException:
                os.close(fd)
                raise
            # The holder before us may have removed the file after we opened it: then we hold a
            # lock on a file nobody else sees; open the current one and try again.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {os.uname().nodename}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        """Drop the lock and remove its file (no-op if not held)."""
        fd, self._fd = self._fd, None
        if fd is None or fd < 0:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)

    def __enter__(self) -> SequenceLock:
        if not self.acquire():
            raise BlockingIOError(f"{self.path} is held by another run ({self.holder() or 'unknown'})")
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
