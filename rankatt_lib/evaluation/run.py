"""Run a tracker over a dataset, one-pass evaluation (OPE), resumable.

For every sequence the tracker is built fresh, initialised on frame 1 with the ground-truth box
and updated on every later frame; the boxes (frame 1 = the initial box) and the seconds each
tracker call took are written to ``<results_root>/<benchmark>/<tracker>/`` (see
:mod:`rankatt_lib.evaluation.results`) when the sequence ends. The timing file is written first and the box
file last, atomically, so a box file with one row per frame marks a finished sequence: a rerun
skips it. A box file with another number of rows (truncated, empty, unreadable) is not finished:
it is set aside as ``<sequence>.txt.bad`` and the sequence is tracked again.

The results folder is checked for writability before anything is tracked. While a sequence is
tracked its lock (``.<sequence>.lock``, see :class:`rankatt_lib.evaluation.results.SequenceLock`) is held:
a second run into the same folder skips that sequence and says so (``busy``).

A sequence that cannot be loaded (a broken ground truth, a missing or damaged frame) or whose
tracker raises does not stop the run: it is recorded as failed (in the returned
:class:`RunReport` and, with the traceback, in ``failures.log`` beside the results) and the run
goes on.

Only this interface of a dataset is used: iterating it yields sequences with ``name``, ``gt``
(``(N, 4)``), ``len(seq)``, ``seq.image(i)`` (RGB ``uint8``) and ``attributes``; ``dataset.name`` is
the default benchmark name. A dataset that also has ``names`` and ``dataset[name]`` (the classes
of :mod:`rankatt_lib.data.otb`) is not iterated: only the chosen sequences are loaded, one at a time.

Command line::

    rankatt run --tracker NAME --dataset DIR --results DIR \\
        [--benchmark NAME|otb2013|otb2015] [--sequences a,b] [--device cpu|cuda] [--overwrite] \\
        [--protocol otb] [--option KEY=VALUE ...] [--name FOLDER]

A ``--dataset`` folder whose sequence folders all carry OTB names (``Basketball``, ``Jogging``...),
or ``--benchmark otb2013|otb2015``, is read with the OTB loader (:class:`rankatt_lib.data.otb.OTB`,
which knows the benchmark's frame ranges and multi-target folders) and its results go to the
``OTB2015`` (or ``OTB2013``) folder, got10k's names, as ``rankatt report --track`` does; a
finished result of the other version's folder (same frames) is copied, not tracked again; without
``--sequences`` the sequences of the version that are on disk are run. Exit status: 0 when every
chosen sequence has a finished result, 1 when some failed or were busy (listed at the end), 2 for
a usage error, 130 when interrupted (finished sequences are kept; the same command resumes).

``--option`` passes a config field to the tracker's factory (repeatable; the value is read as
JSON when it parses, else as a string), e.g. ``--option precision=bf16 --option channels_last=true``;
``--name`` is then the results folder (default: the tracker's name), so that a setting does not
overwrite the default's results.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from rankatt_lib import evaluation, registry
from rankatt_lib.data import otb_meta
from rankatt_lib.evaluation import results

__all__ = [
    "FAILURES_LOG",
    "LEGACY_OTB_FOLDER",
    "OTB_RESULTS_FOLDERS",
    "RunReport",
    "main",
    "otb_sibling_folders",
    "parse_option",
    "run_tracker",
    "track_sequence",
]

OTB_RESULTS_FOLDERS: dict[int, str] = {2013: "OTB2013", 2015: "OTB2015"}
"""Benchmark folder of results on each version of the real OTB: got10k's names
(``<results>/OTB2015/<tracker>/<sequence>.txt``), where its ``ExperimentOTB`` looks."""

LEGACY_OTB_FOLDER = "OTB"
"""The one folder both OTB versions shared before 0.2 of this library; its finished results are
copied into the version folders (:func:`otb_sibling_folders`), never tracked again."""

FAILURES_LOG = "failures.log"
"""Name of the file, beside the results, where failed sequences are logged (appended)."""


@dataclass
class RunReport:
    """What :func:`run_tracker` did.

    Attributes:
        tracker: the tracker's name (the results folder).
        benchmark: the benchmark's name.
        results_dir: ``<results_root>/<benchmark>/<tracker>``.
        done: sequences tracked in this run.
        skipped: sequences whose result file already existed, finished (resumed).
        failed: sequence -> ``"ExceptionType: message"`` (could not be loaded, or the tracker
            raised); no result file was written.
        busy: sequence -> who holds its lock (another run is tracking it); not tracked here.
        redone: sequence -> why its old result file was not finished, and where it was set aside
            (the sequence was then tracked, see ``done`` / ``failed``).
        reused: sequence -> the folder whose finished result (same frames: OTB2013 within OTB2015)
            was copied here instead of tracking again.
        seconds: sequence -> total tracker time in this run (done sequences only).
        frames: sequence -> frames tracked in this run (done sequences only).
    """

    tracker: str
    benchmark: str
    results_dir: Path
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    busy: dict[str, str] = field(default_factory=dict)
    redone: dict[str, str] = field(default_factory=dict)
    reused: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """Frames per second over the sequences tracked in this run (NaN if none)."""
        total = sum(self.seconds.values())
        return sum(self.frames.values()) / total if total > 0 else float("nan")

    @property
    def completed(self) -> list[str]:
        """Sequences with a result on disk after the run (done + skipped + reused)."""
        return [*self.skipped, *self.reused, *self.done]

    def summary(self) -> str:
        """A few lines for humans."""
        lines = [
            f"{self.tracker} on {self.benchmark}: {len(self.done)} done, {len(self.skipped)} skipped "
            f"(already done)"
            + (f", {len(self.reused)} copied from another folder with the same frames" if self.reused else "")
            + f", {len(self.failed)} failed"
            + (f", {len(self.busy)} busy (another run is tracking them)" if self.busy else "")
            + f"; results in {self.results_dir}",
        ]
        if self.done:
            lines.append(f"speed: {self.fps:.1f} fps over {sum(self.frames.values())} frames")
        for name, msg in self.redone.items():
            lines.append(f"re-tracked {name}: {msg}")
        for name, holder in self.busy.items():
            lines.append(f"BUSY {name}: locked by {holder}; not tracked by this run")
        for name, msg in self.failed.items():
            lines.append(f"FAILED {name}: {msg}")
        return "\n".join(lines)


def _resolve_factory(
    tracker: str | Callable[..., Any], tracker_name: str | None, tracker_kwargs: Mapping[str, Any] | None
) -> tuple[str, Callable[[], Any]]:
    kwargs = dict(tracker_kwargs or {})
    if isinstance(tracker, str):
        factory = registry.get_factory(tracker)  # KeyError listing the names, before any work
        return tracker_name or tracker, lambda: factory(**kwargs)
    if not callable(tracker):
        raise TypeError(f"tracker must be a registered name or a factory callable, got {type(tracker).__name__}")
    name = tracker_name or getattr(tracker, "__name__", None)
    if not name or name == "<lambda>":
        raise ValueError("pass tracker_name= when the tracker is given as an anonymous factory")
    return name, lambda: tracker(**kwargs)


def _select(dataset: Iterable[Any], sequences: Sequence[str] | None) -> list[tuple[str, Callable[[], Any]]]:
    """``(name, load)`` for each chosen sequence, before any is loaded where the dataset allows.

    A dataset with ``names`` and ``dataset[name]`` is not iterated (that would load every
    sequence, and one broken sequence would stop the run before it starts): each sequence is
    loaded by ``load()`` when its turn comes, so a broken one fails alone.
    """
    names = getattr(dataset, "names", None)
    if names is not None and hasattr(dataset, "__getitem__") and not callable(names):
        known = list(names)

        def loader(n: str) -> Callable[[], Any]:
            return lambda: dataset[n]  # type: ignore[index]

        by_name: dict[str, Callable[[], Any]] = {n: loader(n) for n in known}
    else:
        by_name = {}
        for s in dataset:
            by_name[s.name] = (lambda s=s: s)
        known = list(by_name)
    if sequences is None:
        return [(n, by_name[n]) for n in known]
    wanted = list(dict.fromkeys(sequences))
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise KeyError(f"sequences not in the dataset: {', '.join(unknown)}; it has {', '.join(known)}")
    return [(n, by_name[n]) for n in wanted]


def _check_writable(folder: Path) -> None:
    """Create ``folder`` and write a file in it, or raise an ``OSError`` naming the folder."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # an unnamed file where the OS allows (O_TMPFILE): a run killed here leaves nothing behind
        with tempfile.TemporaryFile(prefix=".write-test.", dir=folder):
            pass
    except OSError as exc:
        raise OSError(
            exc.errno, f"cannot write results to {folder} ({exc.strerror or exc}); nothing was tracked"
        ) from exc


def _as_box(value: Any, frame: int) -> np.ndarray:
    box = np.asarray(value, dtype=np.float64).reshape(-1)
    if box.shape != (4,):
        raise ValueError(f"tracker returned {box.shape[0]} values at frame {frame}, expected x, y, w, h")
    return box


OnFrame = Callable[[int, np.ndarray, np.ndarray, Any], None]
"""``on_frame(i, image, box, tracker)``: called by :func:`track_sequence` after every frame."""


def track_sequence(
    tracker: Any,
    sequence: Any,
    on_frame: OnFrame | None = None,
    progress: bool = False,
    n_frames: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Track one sequence, one-pass: ``init`` on frame 1 with the ground-truth box, ``update`` on
    every later frame. The loop every chapter and the runner share.

    Args:
        tracker: an object with ``init(image, box)`` and ``update(image) -> box`` (x, y, w, h), as
            built by :func:`rankatt_lib.registry.make_tracker`; it is used as it is (not copied),
            so a fresh one per sequence.
        sequence: ``len(sequence)`` frames, ``sequence.gt`` ``(N, 4)`` (row 0 is the initial box),
            ``sequence.image(i)`` an RGB ``uint8`` array, ``sequence.name``; the sequences of
            :mod:`rankatt_lib.data` have them.
        on_frame: called as ``on_frame(i, image, box, tracker)`` after frame ``i`` (0-based; frame 0
            after ``init``, with the initial box), e.g. to read what the tracker holds
            (``tracker.last``) or to draw the frame. Its time is not counted.
        progress: a tqdm bar over the frames.
        n_frames: track only the first ``n_frames`` frames (default: all).

    Returns:
        ``(boxes, times)``: ``(N, 4)`` boxes (row 0 = the initial box) and ``(N,)`` seconds of each
        tracker call (loading a frame and ``on_frame`` are not timed).

    Raises:
        ValueError: the sequence is empty or its ground truth is not ``(N, 4)``, ``n_frames`` is
            not between 1 and the sequence's length, or the tracker returned something other than
            4 numbers (the message names the frame, 1-based).
    """
    n = len(sequence)
    gt = np.asarray(sequence.gt, dtype=np.float64)
    if n < 1 or gt.shape != (n, 4):
        raise ValueError(f"sequence {sequence.name!r}: {n} frames but ground truth of shape {gt.shape}")
    if n_frames is not None:
        if not 1 <= n_frames <= n:
            raise ValueError(f"sequence {sequence.name!r} has {n} frames; n_frames={n_frames} is not 1 to {n}")
        n = n_frames
    boxes = np.empty((n, 4))
    times = np.empty(n)
    frames = tqdm(range(n), desc=str(sequence.name), leave=False, disable=not progress, unit="fr")
    for i in frames:
        image = sequence.image(i)  # loading is not timed
        if i == 0:
            t0 = time.perf_counter()
            tracker.init(image, gt[0].copy())
            times[0] = time.perf_counter() - t0
            boxes[0] = gt[0]
        else:
            t0 = time.perf_counter()
            out = tracker.update(image)
            times[i] = time.perf_counter() - t0
            boxes[i] = _as_box(out, i + 1)
        if on_frame is not None:
            on_frame(i, image, boxes[i].copy(), tracker)
    return boxes, times


def _log_failure(folder: Path, name: str, exc: BaseException) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    with (folder / FAILURES_LOG).open("a", encoding="utf-8") as fh:
        fh.write(f"=== {stamp} {name}: {type(exc).__name__}: {exc}\n{tb}\n")


def run_tracker(
    tracker_name_or_factory: str | Callable[..., Any],
    dataset: Iterable[Any],
    results_root: str | Path,
    benchmark: str | None = None,
    sequences: Sequence[str] | None = None,
    progress: bool = True,
    overwrite: bool = False,
    tracker_name: str | None = None,
    tracker_kwargs: Mapping[str, Any] | None = None,
    reuse_from: Sequence[str] = (),
    fresh_in: Mapping[str, str] | None = None,
) -> RunReport:
    """Run a tracker on every (selected) sequence of a dataset and store the trajectories.

    Args:
        tracker_name_or_factory: a name registered in :mod:`rankatt_lib.registry`, or a factory
            (a callable returning a tracker with ``init(image, box)`` / ``update(image) -> box``).
            A fresh tracker is built for each sequence.
        dataset: iterable of sequences (``name``, ``gt``, ``len``, ``image(i)``).
        results_root: the ``results`` folder; trajectories go to ``<root>/<benchmark>/<tracker>/``.
        benchmark: folder name of the benchmark; default ``dataset.name``.
        sequences: names to run (in this order); default all.
        progress: tqdm bars (one over sequences, a nested one over frames).
        overwrite: track again even where a result file exists.
        tracker_name: folder name of the tracker; default the registered name or the factory's
            ``__name__``.
        tracker_kwargs: keyword arguments for the factory (e.g. ``{"device": "cuda"}``).
        reuse_from: other benchmark folders under ``results_root`` holding the *same frames* of a
            sequence (for OTB, :func:`otb_sibling_folders`): a finished result of this tracker
            there is copied (boxes and times) instead of tracking the sequence again. Not with
            ``overwrite``.
        fresh_in: sequence -> the folder where it was tracked moments ago (``overwrite`` in a run
            over both OTB versions): that result is copied over the old one here, not tracked twice.

    Returns:
        A :class:`RunReport` listing done, skipped and failed sequences.
    """
    name, make = _resolve_factory(tracker_name_or_factory, tracker_name, tracker_kwargs)
    bench = benchmark if benchmark is not None else getattr(dataset, "name", None)
    if not bench:
        raise ValueError("pass benchmark=: the dataset has no name to use as the benchmark folder")
    chosen = _select(dataset, sequences)
    folder = results.tracker_dir(results_root, bench, name)
    for seq_name, _ in chosen:
        results.result_path(results_root, bench, name, seq_name)  # a name that is no file name
    _check_writable(folder)  # before hours of tracking, not after
    report = RunReport(tracker=name, benchmark=bench, results_dir=folder)

    bar = tqdm(chosen, desc=f"{name} on {bench}", disable=not progress, unit="seq")
    for seq_name, load in bar:
        try:
            seq = load()
        except Exception as exc:  # one unloadable sequence must not end the run
            report.failed[seq_name] = f"{type(exc).__name__}: {exc}"
            _log_failure(folder, seq_name, exc)
            continue
        lock = results.SequenceLock(folder, seq_name)
        if not lock.acquire():
            report.busy[seq_name] = lock.holder() or "another process"
            continue
        try:
            fresh = (fresh_in or {}).get(seq_name)
            _run_one(
                make, seq, seq_name, results_root, bench, name, folder, overwrite and fresh is None, progress,
                report, (fresh,) if fresh is not None else () if overwrite else reuse_from, fresh is not None,
            )
        finally:
            lock.release()
    bar.close()
    return report


def _run_one(
    make: Callable[[], Any],
    seq: Any,
    seq_name: str,
    results_root: str | Path,
    bench: str,
    name: str,
    folder: Path,
    overwrite: bool,
    progress: bool,
    report: RunReport,
    reuse_from: Sequence[str] = (),
    replace_with_reuse: bool = False,
) -> None:
    """One sequence, its lock held: skip it if finished, copy a finished result of the same frames
    from a ``reuse_from`` folder, else track it and write its files. ``replace_with_reuse``: the
    ``reuse_from`` result replaces a finished one here (it was tracked moments ago with overwrite)."""
    results.remove_stale_temps(folder, seq_name)  # left by a run that was killed while writing
    box_file = results.result_path(results_root, bench, name, seq_name)
    if box_file.exists() and not overwrite and not replace_with_reuse:
        why = results.check_result(box_file, len(seq))
        if why is None:
            report.skipped.append(seq_name)
            return
        aside = results.set_aside(box_file)
        report.redone[seq_name] = f"{why}: not finished; kept as {aside.name}, tracked again"
    for other in reuse_from:
        source = results.result_path(results_root, other, name, seq_name)
        if other == bench or not source.is_file() or results.check_result(source, len(seq)) is not None:
            continue
        timing = results.find_times(source.parent, seq_name)
        if timing is not None:
            results.write_times(results.times_path(results_root, bench, name, seq_name), results.read_times(timing))
        results.write_boxes(box_file, results.read_boxes(source))
        report.reused[seq_name] = other
        return
    try:
        boxes, times = track_sequence(make(), seq, progress=progress)
    except Exception as exc:  # one broken sequence must not end the run
        report.failed[seq_name] = f"{type(exc).__name__}: {exc}"
        _log_failure(folder, seq_name, exc)
        return
    results.write_times(results.times_path(results_root, bench, name, seq_name), times)
    results.write_boxes(box_file, boxes)  # last: a box file with one row per frame marks it done
    report.done.append(seq_name)
    report.seconds[seq_name] = float(times.sum())
    report.frames[seq_name] = len(times)


# --------------------------------------------------------------------------- command line


def parse_option(text: str) -> tuple[str, Any]:
    """``"KEY=VALUE"`` -> ``(KEY, value)``, the value read as JSON (``12``, ``true``, ``[1, 0.95]``)
    when it parses, else kept as a string (``bf16``).

    Raises:
        ValueError: no ``=``, or an empty key.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"--option takes KEY=VALUE, got {text!r}")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


class UsageError(ValueError):
    """A command-line argument that cannot work (printed as ``error: ...``, exit status 2)."""


_OTB_FOLDERS = frozenset(info.folder for info in otb_meta.SEQUENCES.values())
_OTB_BENCHMARKS = {"otb2013": 2013, "otb2015": 2015}


def otb_sibling_folders(folder: str) -> tuple[str, ...]:
    """The results folders holding the same OTB frames as ``folder`` (``OTB2013`` <-> ``OTB2015``,
    and the old shared ``OTB``); ``()`` for a folder that is not an OTB version's."""
    if folder not in OTB_RESULTS_FOLDERS.values():
        return ()
    return tuple(f for f in (*OTB_RESULTS_FOLDERS.values(), LEGACY_OTB_FOLDER) if f != folder)


def _is_otb_folder(root: Path) -> bool:
    """True when every sequence folder (a sub-folder with ``img/``) under ``root`` has an OTB
    folder name, and there is at least one."""
    seqs = [d.name for d in root.iterdir() if not d.name.startswith(".") and (d / "img").is_dir()]
    return bool(seqs) and all(n in _OTB_FOLDERS for n in seqs)


def _load_dataset(
    path: str, benchmark: str | None = None, sequences: Sequence[str] | None = None
) -> tuple[Any, str | None, list[str] | None]:
    """The dataset behind ``--dataset``: ``(dataset, benchmark folder, sequence names)``.

    An OTB folder (or ``--benchmark otb2013|otb2015``) is read with :class:`rankatt_lib.data.otb.OTB`,
    only the named sequences (any toolkit's spelling) or else those of the version on disk; its
    results folder is ``OTB2013`` or ``OTB2015`` (got10k's names) unless ``--benchmark`` names
    another. Any other folder is an
    :class:`rankatt_lib.data.otb.OTBFormatDataset`. Nothing is loaded here but the list of sequences.

    Raises:
        UsageError: no such folder, no sequences, names that are not in the dataset.
    """
    from rankatt_lib import data

    root = Path(path)
    if not root.is_dir():
        raise UsageError(f"--dataset {path}: no such folder")
    version = _OTB_BENCHMARKS.get((benchmark or "").lower().replace("-", ""))
    if version is None and _is_otb_folder(root):
        version = 2015
    if version is None:
        try:
            ds = data.OTBFormatDataset(root, names=sequences)
        except data.MissingDataError as exc:
            raise UsageError(str(exc)) from None
        return ds, benchmark, sequences
    folder = (
        benchmark
        if benchmark is not None and benchmark.lower().replace("-", "") not in _OTB_BENCHMARKS
        else OTB_RESULTS_FOLDERS[version]
    )
    try:
        if sequences is not None:
            ds = data.OTB(root, version=version, names=sequences)
        else:
            members = otb_meta.OTB2013 if version == 2013 else otb_meta.OTB2015
            present = [
                n
                for n in members
                if (root / otb_meta.SEQUENCES[n].folder / otb_meta.SEQUENCES[n].gt_file).is_file()
            ]
            if not present:
                raise data.MissingDataError(f"no OTB{version} sequence under {root}")
            if len(present) < len(members):
                print(
                    f"note: {len(present)} of the {len(members)} OTB{version} sequences are under {root}; "
                    f"running those (rankatt download --dataset otb{version} --dest {root} "
                    "fetches the others)",
                    file=sys.stderr,
                )
            ds = data.OTB(root, version=version, names=present)
    except (data.MissingDataError, KeyError) as exc:
        raise UsageError(exc.args[0] if isinstance(exc, KeyError) else str(exc)) from None
    return ds, folder, list(ds.names)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="rankatt run",
        description="Run a registered tracker over a folder of OTB-format sequences (resumable); score it.",
    )
    p.add_argument("--tracker", required=True, help="registered tracker name")
    p.add_argument("--dataset", required=True, help="folder of OTB-format sequences, or the OTB folder")
    p.add_argument("--results", default="results", help="results root (default: ./results)")
    p.add_argument(
        "--benchmark",
        default=None,
        help="benchmark folder name (default: the dataset's name; OTB2015 for an OTB folder); "
        "otb2013 or otb2015 reads --dataset as that version of OTB",
    )
    p.add_argument("--sequences", default=None, help="comma-separated sequence names (default: all)")
    p.add_argument("--device", default=None, help="passed to the tracker factory as device=... (e.g. cpu, cuda)")
    p.add_argument("--overwrite", action="store_true", help="track again sequences that already have results")
    p.add_argument(
        "--protocol",
        default="otb",
        choices=(*evaluation.ALL_PROTOCOLS, *evaluation.PROTOCOL_ALIASES),
        help="scoring protocol (default otb)",
    )
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config field for the tracker (repeatable), e.g. precision=bf16",
    )
    p.add_argument("--name", default=None, help="results folder of the tracker (default: --tracker)")
    p.add_argument(
        "--exact-fp32",
        action="store_true",
        help="float32 convolutions in full float32 on GPUs, not TF32 (rankatt_lib.exact_float32)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 all done, 1 some sequence failed or was
    busy, 2 a usage error, 130 interrupted)."""
    args = _parse_args(argv)
    try:
        factory_known = args.tracker in registry.available_trackers()
    except ImportError as exc:
        print(f"error: could not import the tracker modules: {exc}", file=sys.stderr)
        return 2
    if not factory_known:
        print(
            f"error: unknown tracker {args.tracker!r}; available: {', '.join(registry.available_trackers())}",
            file=sys.stderr,
        )
        return 2
    if args.exact_fp32:
        from rankatt_lib import exact_float32

        exact_float32()
    names = [s.strip() for s in args.sequences.split(",") if s.strip()] if args.sequences else None
    try:
        dataset, benchmark, names = _load_dataset(args.dataset, args.benchmark, names)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    kwargs: dict[str, Any] = {"device": args.device} if args.device else {}
    try:
        kwargs.update(parse_option(o) for o in args.option)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.option:  # a misspelt option fails here, once, not on every sequence
        try:
            registry.make_tracker(args.tracker, **kwargs)
        except (TypeError, ValueError) as exc:
            print(f"error: {args.tracker} does not accept {args.option}: {exc}", file=sys.stderr)
            return 2
    old_term = _terminate_as_interrupt()
    try:
        report = run_tracker(
            args.tracker,
            dataset,
            args.results,
            benchmark=benchmark,
            sequences=names,
            progress=not args.no_progress,
            overwrite=args.overwrite,
            tracker_name=args.name,
            tracker_kwargs=kwargs,
            reuse_from=otb_sibling_folders(benchmark or ""),
        )
    except KeyError as exc:  # sequences not in the dataset: raised before any work
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a benchmark, tracker or sequence name that is no file name
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the results folder cannot be written: checked before any work
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\ninterrupted: every finished sequence is saved; run the same command again to go on",
            file=sys.stderr,
        )
        return 130
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    print(report.summary())
    status = 1 if report.failed or report.busy else 0
    if report.failed:
        print(
            f"{len(report.failed)} sequence(s) failed (tracebacks in {report.results_dir / FAILURES_LOG}); "
            "fix them and run the same command again: finished sequences are skipped",
            file=sys.stderr,
        )
    completed = report.completed
    if completed:
        trajectories = {
            n: results.read_boxes(results.result_path(args.results, report.benchmark, report.tracker, n))
            for n in completed
        }
        try:
            score = evaluation.score_dataset(
                trajectories, _sequences(dataset, completed), protocol=args.protocol, names=completed
            )
        except (ValueError, KeyError) as exc:
            print(f"error: could not score the results in {report.results_dir}: {exc}", file=sys.stderr)
            return 1
        print(
            f"{args.protocol} protocol, {score.n_sequences} sequence(s): "
            f"precision@20 {score.precision:.3f}  AUC {score.auc:.3f}"
        )
    return status


def _sequences(dataset: Any, names: list[str]) -> list[Any]:
    """The named sequences, loading only those where the dataset allows."""
    if getattr(dataset, "names", None) is not None and hasattr(dataset, "__getitem__"):
        return [dataset[n] for n in names]
    wanted = set(names)
    return [s for s in dataset if s.name in wanted]


def _terminate_as_interrupt() -> Any:
    """Make SIGTERM raise ``KeyboardInterrupt`` (as SIGINT does), so that a terminated run
    cleans up as an interrupted one; returns the old handler (``None`` when not possible)."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        return None


if __name__ == "__main__":
    sys.exit(main())
