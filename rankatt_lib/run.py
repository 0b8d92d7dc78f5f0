"""Run a tracker over a dataset, one-pass evaluation (OPE), resumable.

For every sequence the tracker is built fresh, initialised on frame 1 with the ground-truth box
and updated on every later frame; the boxes (frame 1 = the initial box) and the seconds each
tracker call took are written to ``<results_root>/<benchmark>/<tracker>/`` (see
:mod:`rankatt_lib.results`) when the sequence ends. The timing file is written first and the box
file last, atomically, so a box file that exists marks a finished sequence: a rerun skips it.

A tracker that raises on one sequence does not stop the run: the sequence is recorded as failed
(in the returned :class:`RunReport` and, with the traceback, in ``failures.log`` beside the
results) and the run goes on.

Only this interface of a dataset is used: iterating it yields sequences with ``name``, ``gt``
(``(N, 4)``), ``len(seq)``, ``seq.image(i)`` (RGB ``uint8``) and ``attributes``; ``dataset.name`` is
the default benchmark name.

Command line::

    python -m rankatt_lib.run --tracker NAME --dataset DIR --results DIR \\
        [--benchmark NAME] [--sequences a,b] [--device cpu|cuda] [--overwrite] [--protocol otb] \\
        [--option KEY=VALUE ...] [--name FOLDER]

``--option`` passes a config field to the tracker's factory (repeatable; the value is read as
JSON when it parses, else as a string), e.g. ``--option precision=bf16 --option channels_last=true``;
``--name`` is then the results folder (default: the tracker's name), so that a setting does not
overwrite the default's results.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from . import evaluation, registry, results

__all__ = ["FAILURES_LOG", "RunReport", "main", "parse_option", "run_tracker"]

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
        skipped: sequences whose result file already existed (resumed).
        failed: sequence -> ``"ExceptionType: message"``.
        seconds: sequence -> total tracker time in this run (done sequences only).
        frames: sequence -> frames tracked in this run (done sequences only).
    """

    tracker: str
    benchmark: str
    results_dir: Path
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """Frames per second over the sequences tracked in this run (NaN if none)."""
        total = sum(self.seconds.values())
        return sum(self.frames.values()) / total if total > 0 else float("nan")

    @property
    def completed(self) -> list[str]:
        """Sequences with a result on disk after the run (done + skipped)."""
        return [*self.skipped, *self.done]

    def summary(self) -> str:
        """A few lines for humans."""
        lines = [
            f"{self.tracker} on {self.benchmark}: {len(self.done)} done, {len(self.skipped)} skipped "
            f"(already done), {len(self.failed)} failed; results in {self.results_dir}",
        ]
        if self.done:
            lines.append(f"speed: {self.fps:.1f} fps over {sum(self.frames.values())} frames")
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


def _select(dataset: Iterable[Any], sequences: Sequence[str] | None) -> list[Any]:
    seqs = list(dataset)
    if sequences is None:
        return seqs
    wanted = list(dict.fromkeys(sequences))
    by_name = {s.name: s for s in seqs}
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise KeyError(f"sequences not in the dataset: {', '.join(unknown)}; it has {', '.join(by_name)}")
    return [by_name[n] for n in wanted]


def _as_box(value: Any, frame: int) -> np.ndarray:
    box = np.asarray(value, dtype=np.float64).reshape(-1)
    if box.shape != (4,):
        raise ValueError(f"tracker returned {box.shape[0]} values at frame {frame}, expected x, y, w, h")
    return box


def _track(make: Callable[[], Any], seq: Any, progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """Track one sequence; ``(N, 4)`` boxes and ``(N,)`` seconds per tracker call."""
    n = len(seq)
    gt = np.asarray(seq.gt, dtype=np.float64)
    if n < 1 or gt.shape != (n, 4):
        raise ValueError(f"sequence {seq.name!r}: {n} frames but ground truth of shape {gt.shape}")
    boxes = np.empty((n, 4))
    times = np.empty(n)
    tracker = make()
    frames = tqdm(range(n), desc=str(seq.name), leave=False, disable=not progress, unit="fr")
    for i in frames:
        image = seq.image(i)  # loading is not timed
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

    Returns:
        A :class:`RunReport` listing done, skipped and failed sequences.
    """
    name, make = _resolve_factory(tracker_name_or_factory, tracker_name, tracker_kwargs)
    bench = benchmark if benchmark is not None else getattr(dataset, "name", None)
    if not bench:
        raise ValueError("pass benchmark=: the dataset has no name to use as the benchmark folder")
    chosen = _select(dataset, sequences)
    folder = results.tracker_dir(results_root, bench, name)
    report = RunReport(tracker=name, benchmark=bench, results_dir=folder)

    bar = tqdm(chosen, desc=f"{name} on {bench}", disable=not progress, unit="seq")
    for seq in bar:
        box_file = results.result_path(results_root, bench, name, seq.name)
        if box_file.exists() and not overwrite:
            report.skipped.append(seq.name)
            continue
        try:
            boxes, times = _track(make, seq, progress)
        except Exception as exc:  # one broken sequence must not end the run
            report.failed[seq.name] = f"{type(exc).__name__}: {exc}"
            _log_failure(folder, seq.name, exc)
            continue
        results.write_times(results.times_path(results_root, bench, name, seq.name), times)
        results.write_boxes(box_file, boxes)  # last: its existence marks the sequence as done
        report.done.append(seq.name)
        report.seconds[seq.name] = float(times.sum())
        report.frames[seq.name] = len(times)
    bar.close()
    return report


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


def _load_dataset(path: str) -> Any:
    """The dataset behind ``--dataset`` (a folder of OTB-format sequences)."""
    from .data import OTBFormatDataset

    return OTBFormatDataset(path)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m rankatt_lib.run",
        description="Run a registered tracker over a folder of OTB-format sequences (resumable); score it.",
    )
    p.add_argument("--tracker", required=True, help="registered tracker name")
    p.add_argument("--dataset", required=True, help="folder of OTB-format sequences")
    p.add_argument("--results", default="results", help="results root (default: ./results)")
    p.add_argument("--benchmark", default=None, help="benchmark folder name (default: the dataset's name)")
    p.add_argument("--sequences", default=None, help="comma-separated sequence names (default: all)")
    p.add_argument("--device", default=None, help="passed to the tracker factory as device=... (e.g. cpu, cuda)")
    p.add_argument("--overwrite", action="store_true", help="track again sequences that already have results")
    p.add_argument("--protocol", default="otb", choices=evaluation.PROTOCOLS, help="scoring protocol (default otb)")
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
    """Command-line entry point; returns the exit status (1 when a sequence failed)."""
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
    dataset = _load_dataset(args.dataset)
    names = [s.strip() for s in args.sequences.split(",") if s.strip()] if args.sequences else None
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
    report = run_tracker(
        args.tracker,
        dataset,
        args.results,
        benchmark=args.benchmark,
        sequences=names,
        progress=not args.no_progress,
        overwrite=args.overwrite,
        tracker_name=args.name,
        tracker_kwargs=kwargs,
    )
    print(report.summary())
    completed = report.completed
    if completed:
        trajectories = {
            n: results.read_boxes(results.result_path(args.results, report.benchmark, report.tracker, n))
            for n in completed
        }
        score = evaluation.score_dataset(trajectories, dataset, protocol=args.protocol, names=completed)
        print(
            f"{args.protocol} protocol, {score.n_sequences} sequence(s): "
            f"precision@20 {score.precision:.3f}  AUC {score.auc:.3f}"
        )
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
