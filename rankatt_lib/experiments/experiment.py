"""The OTB experiment of the paper: every tracker, OTB2013 and OTB2015, every protocol, resumable.

The command line is ``rankatt report`` (also ``python -m rankatt_lib report``)::

    # 1. get the benchmark (~2.7 GB, 98 zips; resumable) -> data/OTB
    rankatt download --dataset otb2015
    # 2. track with every tracker, score under the four protocols, write the report (resumable:
    #    run the same command again after an interruption; finished sequences are skipped)
    rankatt report --track --device cuda
    # only some trackers / one version / a few sequences
    rankatt report --track --trackers rankatt crest --versions 2015 --device cuda
    rankatt report --track --sequences Deer,Football1 --trackers csrt
    # score what is on disk, track nothing (the default without --track)
    rankatt report
    # the same pipeline on any folder of OTB-format sequences, e.g. the synthetic benchmark
    rankatt report --dataset data/synthetic/test --benchmark synthetic

What it does:

1. **Tracks** (only with ``--track``) with :func:`rankatt_lib.evaluation.run.run_tracker`, the library's
   resumable one-pass runner: one fresh tracker per sequence, initialised with the first ground-truth
   box; boxes and per-frame times are written atomically to ``<results>/<folder>/<tracker>/``; a
   sequence whose result file exists is skipped; a sequence on which a tracker raises is logged in
   ``failures.log`` there and the others go on. The OTB folders are named as got10k names them,
   ``OTB2013`` and ``OTB2015``: the 51 targets of OTB2013 are targets of OTB2015 with the same
   frames, so each is tracked once and its finished result copied into the other version's folder
   (and out of ``OTB``, the single folder of earlier versions of this library).
   Tiger1 is tracked from frame 6, as the OTB toolkit runs it (:class:`rankatt_lib.data.otb.OTB`).
   ``--device`` goes to the trackers that take one (the OpenCV ones run on the CPU).
2. **Scores** every tracker whose results cover every sequence of the benchmark (a tracker with
   missing sequences is listed as incomplete and left out, so that no average is over a different
   set of sequences) under the protocols of :mod:`rankatt_lib.evaluation.metrics` (``otb``, the OTB
   MATLAB toolkit, is the one the paper's numbers come from).
3. **Writes the report** (default ``<results>/otb-report/`` for OTB, ``<results>/<folder>/report/``
   for another benchmark): precision and success plots of OPE (PNG, ``otb`` protocol), a results
   table per protocol and one with all protocols side by side, the per-attribute table, the run
   times measured from the stored per-frame times, and the table of the paper's reported figures
   (Fig. 6) beside ours, as CSV and Markdown, with a ``README.md`` that shows them all. Files are
   named after the benchmark (``otb2013_...``, ``otb2015_...``, ``synthetic_...``) and every title
   names it: results on another benchmark are never called OTB.

Exit status: 0 on success, 1 if a sequence failed or no tracker could be scored, 2 on a usage error
(unknown tracker, OTB not on disk: the message says how to download it).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from tqdm import tqdm

from rankatt_lib import data, evaluation, registry
from rankatt_lib import device as pick_device
from rankatt_lib.data import otb_meta
from rankatt_lib.data.download import default_dest
from rankatt_lib.evaluation import results, run
from rankatt_lib.experiments import plots

__all__ = [
    "DEFAULT_TRACKERS",
    "VERSIONS",
    "OTB_FOLDERS",
    "OTB_REPORT_FOLDER",
    "DEFAULT_OTB_ROOT",
    "PAPER_SOURCE",
    "PAPER_FIG6",
    "PAPER_TRACKERS",
    "PAPER_COUNTERPART",
    "OTB_FRAMES",
    "OTBMissingError",
    "Benchmark",
    "BenchmarkScores",
    "Experiment",
    "otb_benchmarks",
    "format_benchmark",
    "tracker_kwargs",
    "run_all",
    "missing_results",
    "complete_trackers",
    "score_benchmark",
    "results_table",
    "protocols_table",
    "attribute_table",
    "paper_table",
    "paper_vs_here",
    "timing_table",
    "ope_figure",
    "write_report",
    "main",
]

DEFAULT_TRACKERS: tuple[str, ...] = (
    "rankatt",
    "crest",
    "deepdcf",
    "csrt",
    "kcf",
    "mosse",
    "opencv-kcf",
    "opencv-mosse",
)
"""The trackers of the reproduction: the paper's, the CREST-style baseline, the deep DCF on the same
features (the strong, simple baseline), and the classic baselines."""

VERSIONS: tuple[int, ...] = (2013, 2015)

OTB_FOLDERS: dict[int, str] = run.OTB_RESULTS_FOLDERS
"""Results folder of each OTB version (``<results>/OTB2015/<tracker>/<sequence>.txt``), got10k's names."""

OTB_REPORT_FOLDER = "otb-report"
"""The report of both OTB versions, ``<results>/otb-report/`` (beside the tracker folders, not inside
them, where pysot's and got10k's loaders would take it for a tracker)."""

DEFAULT_OTB_ROOT: Path = default_dest("otb2015")
"""Where ``rankatt download`` puts OTB by default (``data/OTB``)."""

PAPER_SOURCE = (
    "Peng, Kamata & Breckon, A Ranking Based Attention Approach for Visual Tracking, ICIP 2019, "
    "Fig. 6: the legends of its precision (at 20 px) and success (AUC) plots of OPE"
)

PAPER_FIG6: dict[str, dict[str, dict[str, float]]] = {
    "OTB2013": {
        "precision": {
            "CREST": 0.908,
            "OURS": 0.906,
            "ACT": 0.905,
            "metaCREST": 0.885,
            "siamPRN": 0.884,
            "SRDCF": 0.838,
            "siamFC3s": 0.809,
            "staple": 0.782,
        },
        "auc": {
            "CREST": 0.673,
            "metaCREST": 0.667,
            "siamPRN": 0.658,
            "ACT": 0.657,
            "SRDCF": 0.626,
            "OURS": 0.617,
            "siamFC3s": 0.607,
            "staple": 0.593,
        },
    },
    "OTB2015": {
        "precision": {
            "OURS": 0.886,
            "ACT": 0.860,
            "metaCREST": 0.858,
            "siamPRN": 0.850,
            "CREST": 0.839,
            "SRDCF": 0.792,
            "staple": 0.785,
            "siamFC3s": 0.771,
        },
        "auc": {
            "metaCREST": 0.637,
            "siamPRN": 0.635,
            "ACT": 0.625,
            "CREST": 0.624,
            "SRDCF": 0.597,
            "OURS": 0.595,
            "siamFC3s": 0.582,
            "staple": 0.579,
        },
    },
}
"""The figures the paper reports (Fig. 6), with the tracker names exactly as printed there
(``OURS`` is the paper's tracker; ``siamPRN`` is how the paper spells SiamRPN)."""

PAPER_TRACKERS: tuple[str, ...] = ("OURS", "CREST", "ACT", "metaCREST", "siamPRN", "SRDCF", "siamFC3s", "staple")
"""The trackers of the paper's Fig. 6, in the order of its OTB2013 precision legend (OURS first)."""

PAPER_COUNTERPART: dict[str, str] = {"OURS": "rankatt", "CREST": "crest"}
"""Paper's tracker -> ours: ``rankatt`` is this project's implementation of the paper's tracker,
``crest`` a CREST-style re-implementation (not CREST's released code). The others have none."""


def _otb_frames(names: Iterable[str]) -> int:
    return sum(otb_meta.SEQUENCES[n].n_annotated - otb_meta.SEQUENCES[n].init_omit for n in names)


OTB_FRAMES: dict[str, tuple[int, int]] = {
    "OTB2013": (len(otb_meta.OTB2013), _otb_frames(otb_meta.OTB2013)),
    "OTB2015": (len(otb_meta.OTB2015), _otb_frames(otb_meta.OTB2015)),
}
"""Sequences and tracked frames (Tiger1 from frame 6) of each version."""

_CPU_ONLY_MODULES = ("rankatt_lib.trackers.opencv",)


class OTBMissingError(data.MissingDataError):
    """OTB (or some of its sequences) is not on disk; the message says how to download it."""


# --------------------------------------------------------------------------- benchmarks


@dataclass
class Benchmark:
    """One benchmark of the run.

    Attributes:
        label: what titles call it: ``"OTB2013"``, ``"OTB2015"``, ``"synthetic benchmark"``.
        key: the stem of its report files (``"otb2013"``, ``"synthetic"``).
        folder: its results folder under the results root (``"OTB2015"``, ``"synthetic"``).
        dataset: the sequences (:class:`rankatt_lib.data.otb.OTB` or
            :class:`rankatt_lib.data.otb.OTBFormatDataset`).
        is_otb: the real OTB (its numbers may be set beside the paper's).
    """

    label: str
    key: str
    folder: str
    dataset: Any
    is_otb: bool

    @property
    def names(self) -> list[str]:
        """The sequences of the benchmark (as selected)."""
        return list(self.dataset.names)


def _split_names(values: Iterable[str] | None) -> list[str] | None:
    """``["a,b", "c"]`` -> ``["a", "b", "c"]``; None stays None."""
    if values is None:
        return None
    out = [n.strip() for v in values for n in str(v).split(",") if n.strip()]
    return list(dict.fromkeys(out))


def _download_command(root: Path, versions: Sequence[int]) -> str:
    dataset = "otb2015" if 2015 in versions else "otb2013"
    dest = "" if Path(root) == DEFAULT_OTB_ROOT else f" --dest {root}"
    return f"rankatt download --dataset {dataset}{dest}"


def otb_benchmarks(
    root: str | Path = DEFAULT_OTB_ROOT,
    versions: Sequence[int | str] = VERSIONS,
    sequences: Iterable[str] | None = None,
) -> list[Benchmark]:
    """The OTB versions asked for, each as a :class:`Benchmark` (results folder ``OTB2013``/``OTB2015``).

    Args:
        root: the OTB folder (holding ``Basketball/``, ``Biker/``...).
        versions: ``2013`` and/or ``2015``.
        sequences: only these (any toolkit's spelling: ``Jogging-1``, ``Human4``); each version
            keeps those it contains; a version containing none of them is left out.

    Raises:
        OTBMissingError: the root or sequences are missing; the message gives the download command.
        KeyError: a name that is in none of the versions.
    """
    root = Path(root)
    vs = [int(v) for v in versions]
    bad = [v for v in vs if v not in VERSIONS]
    if bad:
        raise ValueError(f"unknown OTB version(s) {bad}; use 2013 and/or 2015")
    if not root.is_dir():
        raise OTBMissingError(
            f"OTB is not on disk: {root} does not exist.\n"
            f"Download it first (about 2.7 GB for OTB2015, which contains OTB2013; resumable):\n"
            f"  {_download_command(root, vs)}\n"
            f"then run this command again (or pass --otb-root DIR if OTB is elsewhere; "
            f"--dataset DIR --benchmark NAME runs the same pipeline on any OTB-format folder)."
        )
    wanted = _split_names(sequences)
    if wanted is not None:
        wanted = [data.canonical_otb_name(n) for n in wanted]  # KeyError for a non-OTB name
    out = []
    for v in dict.fromkeys(vs):
        members = otb_meta.OTB2013 if v == 2013 else otb_meta.OTB2015
        names = None if wanted is None else [n for n in wanted if n in members]
        if names is not None and not names:
            continue
        try:
            ds = data.OTB(root, version=v, names=names)
        except data.MissingDataError as exc:
            raise OTBMissingError(f"{exc}\n(then run this command again)") from None
        out.append(Benchmark(ds.name, ds.name.lower(), OTB_FOLDERS[v], ds, True))
    if wanted is not None:
        covered = {n for b in out for n in b.names}
        outside = [n for n in wanted if n not in covered]
        if outside:
            raise KeyError(f"not in OTB{'/'.join(str(v) for v in vs)}: {', '.join(outside)}")
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "benchmark"


def format_benchmark(path: str | Path, name: str, sequences: Iterable[str] | None = None) -> Benchmark:
    """Any folder of OTB-format sequences as a :class:`Benchmark` named ``name``.

    Its results folder is ``name``; its label is ``"<name> benchmark"`` (``"synthetic benchmark"``),
    its report files start with ``<name>_``. It is never treated as OTB.
    """
    ds = data.OTBFormatDataset(path, names=_split_names(sequences), name=name)
    label = name if name.lower().endswith("benchmark") else f"{name} benchmark"
    return Benchmark(label, _slug(name), name, ds, False)


# --------------------------------------------------------------------------- tracking


def tracker_kwargs(name: str, device: str | None) -> dict[str, Any]:
    """``{"device": device}`` for trackers that run on a device; ``{}`` for the OpenCV ones (CPU)."""
    if device is None:
        return {}
    factory = registry.get_factory(name)
    if getattr(factory, "__module__", "") in _CPU_ONLY_MODULES:
        return {}
    return {"device": device}


def run_all(
    benchmarks: Sequence[Benchmark],
    trackers: Sequence[str],
    results_root: str | Path,
    device: str | None = None,
    progress: bool = True,
    overwrite: bool = False,
    quiet: bool = False,
) -> list[run.RunReport]:
    """Track every benchmark with every tracker through :func:`rankatt_lib.evaluation.run.run_tracker`.

    Resumable (finished sequences are skipped unless ``overwrite``); a sequence of OTB2013 that
    has a finished result in ``OTB2015`` (or the other way round, or in the old ``OTB`` folder) is
    copied, not tracked again. Prints each run's summary (done, skipped, copied, failed, speed)
    unless ``quiet``. Returns one report per (benchmark, tracker).
    """
    reports = []
    tracked: dict[str, dict[str, str]] = {}  # tracker -> sequence -> folder, tracked in this call
    jobs = [(b, t) for b in benchmarks for t in trackers]
    for k, (bench, tracker) in enumerate(jobs, start=1):
        if progress and not quiet:
            tqdm.write(f"[{k}/{len(jobs)}] {tracker} on {bench.label} ({len(bench.names)} sequences)")
        report = run.run_tracker(
            tracker,
            bench.dataset,
            results_root,
            benchmark=bench.folder,
            sequences=bench.names,
            progress=progress,
            overwrite=overwrite,
            tracker_kwargs=tracker_kwargs(tracker, device),
            reuse_from=run.otb_sibling_folders(bench.folder),
            fresh_in=tracked.get(tracker) if overwrite else None,
        )
        if bench.folder in run.OTB_RESULTS_FOLDERS.values():
            tracked.setdefault(tracker, {}).update(dict.fromkeys(report.done, bench.folder))
        reports.append(report)
        if not quiet:
            tqdm.write(report.summary())
    return reports


# --------------------------------------------------------------------------- scoring


def missing_results(bench: Benchmark, tracker: str, results_root: str | Path) -> list[str]:
    """The benchmark's sequences without a result file of ``tracker``."""
    return [n for n in bench.names if not results.result_path(results_root, bench.folder, tracker, n).is_file()]


def complete_trackers(bench: Benchmark, trackers: Iterable[str], results_root: str | Path) -> list[str]:
    """Those of ``trackers`` with a result for every sequence of the benchmark (order kept)."""
    return [t for t in trackers if not missing_results(bench, t, results_root)]


@dataclass
class BenchmarkScores:
    """Scores of the complete trackers on one benchmark.

    Attributes:
        benchmark: the benchmark.
        scores: protocol -> tracker -> :class:`rankatt_lib.evaluation.metrics.DatasetScore`.
        incomplete: tracker -> its missing sequences (not scored).
        errors: protocol -> tracker -> why that protocol refused the results (e.g. ``pytracking``
            rejects NaN boxes).
        damaged: tracker -> sequence -> why its result file is not a finished trajectory (wrong
            number of rows, unreadable); such a tracker is not scored. Tracking again (without
            ``--track``) sets the file aside as ``.bad`` and redoes the sequence.
    """

    benchmark: Benchmark
    scores: dict[str, dict[str, evaluation.DatasetScore]]
    incomplete: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)
    damaged: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def trackers(self) -> list[str]:
        """The scored trackers, best ``otb`` AUC first (else the first protocol's)."""
        for protocol in ("otb", *self.scores):
            if self.scores.get(protocol):
                return plots.ranked(self.scores[protocol], "auc")
        return []


def score_benchmark(
    bench: Benchmark,
    trackers: Sequence[str],
    results_root: str | Path,
    protocols: Sequence[str] = evaluation.PROTOCOLS,
    progress: bool = True,
) -> BenchmarkScores:
    """Score the stored results of every complete tracker under every protocol.

    Reads ``<results_root>/<bench.folder>/<tracker>/``; a tracker missing some sequence of the
    benchmark goes to ``incomplete`` and is not scored.
    """
    sequences = list(tqdm(bench.dataset, desc=f"reading {bench.label}", unit="seq", disable=not progress))
    incomplete = {t: m for t in trackers if (m := missing_results(bench, t, results_root))}
    damaged: dict[str, dict[str, str]] = {}
    for t in trackers:
        if t in incomplete:
            continue
        bad = {
            s.name: why
            for s in sequences
            if (why := results.check_result(results.result_path(results_root, bench.folder, t, s.name), len(s)))
        }
        if bad:
            damaged[t] = bad
    complete = [t for t in trackers if t not in incomplete and t not in damaged]
    trajectories = {}
    for t in complete:
        stored = results.load_results(results_root, bench.folder, t)
        trajectories[t] = {n: stored[n] for n in bench.names}
    scores: dict[str, dict[str, evaluation.DatasetScore]] = {p: {} for p in protocols}
    errors: dict[str, dict[str, str]] = {}
    bar = tqdm(total=len(complete) * len(protocols), desc=f"scoring {bench.label}", disable=not progress)
    for t in complete:
        for p in protocols:
            try:
                scores[p][t] = evaluation.score_dataset(trajectories[t], sequences, protocol=p)
            except ValueError as exc:
                errors.setdefault(p, {})[t] = str(exc)
            bar.update()
    bar.close()
    return BenchmarkScores(bench, scores, incomplete, errors, damaged)


# --------------------------------------------------------------------------- tables


def results_table(bs: BenchmarkScores, protocol: str = "otb") -> pd.DataFrame:
    """AUC, precision at 20 px and sequence count per tracker under one protocol (best AUC first)."""
    if not bs.scores.get(protocol):
        raise ValueError(f"no tracker was scored under protocol {protocol!r} on {bs.benchmark.label}")
    return plots.results_table(bs.scores[protocol])


def protocols_table(bs: BenchmarkScores) -> pd.DataFrame:
    """AUC and precision at 20 px under every protocol: rows trackers (best ``otb`` AUC first),
    columns ``"<protocol> AUC"``, ``"<protocol> P@20"`` (NaN where a protocol refused the results)."""
    order = bs.trackers
    cols: dict[str, list[float]] = {}
    for p, by_tracker in bs.scores.items():
        cols[f"{p} AUC"] = [by_tracker[t].auc if t in by_tracker else np.nan for t in order]
        cols[f"{p} P@20"] = [by_tracker[t].precision if t in by_tracker else np.nan for t in order]
    return pd.DataFrame(cols, index=pd.Index(order, name="Tracker"))


def attribute_table(bs: BenchmarkScores, protocol: str = "otb", metric: str = "AUC") -> pd.DataFrame:
    """Per-attribute ``metric`` (``"AUC"`` or ``"Precision@20"``) per tracker; the column names
    carry the number of sequences, e.g. ``"OCC (29)"``."""
    scores = bs.scores[protocol]
    table = plots.attribute_table(scores).xs(metric, axis=1, level=1)
    any_score = next(iter(scores.values()))
    table.columns = [f"{c} ({any_score.attributes[c].n_sequences})" for c in table.columns]
    table.columns.name = f"attribute {metric}"
    return table


def paper_table() -> pd.DataFrame:
    """The paper's reported figures (Fig. 6): rows its trackers, columns ``OTB2013 P@20`` ...
    ``OTB2015 AUC``, names and numbers as printed."""
    cols = {
        f"{version} {label}": [PAPER_FIG6[version][metric][t] for t in PAPER_TRACKERS]
        for version in ("OTB2013", "OTB2015")
        for metric, label in (("precision", "P@20"), ("auc", "AUC"))
    }
    return pd.DataFrame(cols, index=pd.Index(PAPER_TRACKERS, name="Tracker (as printed in the paper)"))


def paper_vs_here(here: Sequence[BenchmarkScores], protocol: str = "otb") -> pd.DataFrame:
    """The paper's figures beside ours.

    Rows: the paper's trackers (Fig. 6). Columns: ``here: tracker`` (our counterpart, see
    :data:`PAPER_COUNTERPART`), ``paper OTB2013 P@20`` ... ``paper OTB2015 AUC``, then
    ``here <label> P@20`` / ``here <label> AUC`` for each benchmark in ``here``, under ``protocol``
    (``otb``: the toolkit the paper's figures come from). NaN where there is nothing to show.
    """
    paper = paper_table()
    df = pd.DataFrame(index=paper.index)
    df["here: tracker"] = [PAPER_COUNTERPART.get(t, "-") for t in PAPER_TRACKERS]
    for c in paper.columns:
        df[f"paper {c}"] = paper[c]
    for bs in here:
        scores = bs.scores.get(protocol, {})
        for label, attr in (("P@20", "precision"), ("AUC", "auc")):
            df[f"here {bs.benchmark.label} {label}"] = [
                getattr(scores[PAPER_COUNTERPART[t]], attr)
                if t in PAPER_COUNTERPART and PAPER_COUNTERPART[t] in scores
                else np.nan
                for t in PAPER_TRACKERS
            ]
    return df


def timing_table(
    results_root: str | Path, folder: str, trackers: Iterable[str], sequences: Iterable[str]
) -> pd.DataFrame:
    """Run times measured from the stored per-frame times (``<sequence>_time.txt``), and what they
    project for a whole OTB run on the same machine.

    Columns: ``sequences`` and ``frames`` timed, ``init ms`` (mean milliseconds of the first frame:
    the tracker's initialisation), ``update ms/frame`` (mean over the other frames), ``fps`` (updates),
    ``OTB2013 h`` and ``OTB2015 h``: ``n_sequences * init + (n_frames - n_sequences) * update``
    in hours, with the sequence and frame counts of each version (:data:`OTB_FRAMES`; OTB2015
    contains OTB2013, so a run of both costs the OTB2015 figure). Only the tracker's calls are
    timed (not reading the frames). Trackers without time files are left out. The times are those
    of the machine that made the results, under its load then.
    """
    names = list(sequences)
    rows = {}
    for t in trackers:
        inits, updates = [], []
        for n in names:
            f = results.find_times(results.tracker_dir(results_root, folder, t), n)  # beside or times/
            if f is not None:
                times = results.read_times(f)
                if len(times):
                    inits.append(times[0])
                    updates.extend(times[1:])
        if not inits:
            continue
        init, update = float(np.mean(inits)), float(np.mean(updates)) if updates else float("nan")
        row = {
            "sequences": len(inits),
            "frames": len(inits) + len(updates),
            "init ms": 1000.0 * init,
            "update ms/frame": 1000.0 * update,
            "fps": 1.0 / update if update > 0 else float("nan"),
        }
        for version, (n_seq, n_frames) in OTB_FRAMES.items():
            row[f"{version} h"] = (n_seq * init + (n_frames - n_seq) * update) / 3600.0
        rows[t] = row
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index.name = "Tracker"
    return df


# --------------------------------------------------------------------------- figures and report


def ope_figure(bs: BenchmarkScores, protocol: str = "otb", axes: Sequence[Any] | None = None) -> Figure:
    """Precision and success plots of OPE side by side, titled with the benchmark's label."""
    scores = bs.scores[protocol]
    if axes is None:
        fig = Figure(figsize=(11, 4.3), layout="constrained")
        axes = fig.subplots(1, 2)
    fig = axes[0].figure
    suffix = f"{bs.benchmark.label}, {protocol} protocol"
    plots.precision_plot(scores, ax=axes[0], title=f"Precision plots of OPE ({suffix})")
    plots.success_plot(scores, ax=axes[1], title=f"Success plots of OPE ({suffix})")
    return fig


def _write_table(df: pd.DataFrame, stem: Path, title: str, note: str = "") -> list[Path]:
    csv, md = stem.with_suffix(".csv"), stem.with_suffix(".md")
    results.atomic_write_text(csv, df.to_csv(float_format="%.6f"))
    body = f"# {title}\n\n" + (f"{note}\n\n" if note else "") + plots.format_table(df) + "\n"
    results.atomic_write_text(md, body)
    return [csv, md]


def _readme_table(df: pd.DataFrame) -> str:
    return plots.format_table(df) + "\n"


def write_report(
    scored: Sequence[BenchmarkScores],
    out_dir: str | Path,
    results_root: str | Path,
    dpi: int = 100,
) -> list[Path]:
    """Write the plots, tables and ``README.md`` of the benchmarks into ``out_dir``; returns the files.

    Per benchmark ``<key>``: ``<key>_ope.png`` (``otb`` protocol), ``<key>_results_<protocol>_protocol.csv/.md``,
    ``<key>_results_by_protocol.csv/.md``, ``<key>_attributes.csv/.md`` (AUC per attribute, ``otb``),
    ``<key>_timing.csv/.md``; then ``<group>_paper_vs_here.csv/.md`` (``group``: ``otb`` for OTB,
    else the benchmark's key) and ``README.md``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    readme = []
    otb_scored = [bs for bs in scored if bs.benchmark.is_otb]
    other = [bs for bs in scored if not bs.benchmark.is_otb]
    labels = " and ".join(bs.benchmark.label for bs in scored)
    readme.append(f"# Reproduction report: {labels}\n")
    readme.append(
        "Written by `rankatt report` (`rankatt_lib/experiments/experiment.py`) from the stored trajectories. "
        "One-pass evaluation (OPE); precision = fraction of frames with centre error <= 20 px, AUC = mean of the "
        "success "
        "curve over 21 IoU thresholds. The plots and the attribute table use the `otb` protocol (the "
        "OTB MATLAB toolkit, which the paper's figures come from); the protocols are defined in "
        "`rankatt_lib/evaluation/metrics.py`.\n"
    )
    if other:
        readme.append(
            f"**These results are on the {', '.join(bs.benchmark.label for bs in other)}, not on OTB.** "
            "They are not comparable with the paper's OTB figures (different sequences, different "
            "difficulty); the paper's figures are shown beside them only for reference.\n"
        )
    for bs in scored:
        b = bs.benchmark
        readme.append(f"## {b.label}\n")
        readme.append(f"{len(b.names)} sequences; results read from `{b.folder}/<tracker>/` under the results root.\n")
        if bs.incomplete:
            lines = [f"* {t}: {len(m)} of {len(b.names)} sequences missing" for t, m in bs.incomplete.items()]
            readme.append("Not scored (incomplete results):\n\n" + "\n".join(lines) + "\n")
        for t, bad in bs.damaged.items():
            lines = [f"* {why}" for why in bad.values()]
            readme.append(
                f"Not scored, damaged result files of {t} (tracking again sets them aside as `.bad` "
                "and redoes them):\n\n" + "\n".join(lines) + "\n"
            )
        for p, errs in bs.errors.items():
            for t, msg in errs.items():
                readme.append(f"Protocol `{p}` refused the results of {t}: {msg}\n")
        if not bs.trackers:
            readme.append("No tracker has results for every sequence: nothing to score.\n")
            continue
        if bs.scores.get("otb"):
            fig = ope_figure(bs, "otb")
            png = out / f"{b.key}_ope.png"
            fig.savefig(png, dpi=dpi)
            files.append(png)
            readme.append(f"![Precision and success plots of OPE, {b.label}]({png.name})\n")
        for p in bs.scores:
            if bs.scores[p]:
                files += _write_table(
                    results_table(bs, p), out / f"{b.key}_results_{p}_protocol", f"{b.label}: results, {p} protocol"
                )
        by_protocol = protocols_table(bs)
        files += _write_table(by_protocol, out / f"{b.key}_results_by_protocol", f"{b.label}: every protocol")
        readme.append("### Results under every protocol\n")
        readme.append(_readme_table(by_protocol))
        if bs.scores.get("otb"):
            attrs = attribute_table(bs, "otb")
            files += _write_table(
                attrs,
                out / f"{b.key}_attributes",
                f"{b.label}: AUC per attribute, otb protocol",
                "Each column averages the sequences with that attribute (their number in brackets).",
            )
            readme.append("### AUC per attribute (otb protocol; sequences per attribute in brackets)\n")
            readme.append(_readme_table(attrs))
        timing = timing_table(results_root, b.folder, bs.trackers, b.names)
        if len(timing):
            note = (
                "Measured from the stored per-frame times of these results, on the machine that made "
                "them; `OTB2013 h` / `OTB2015 h` project a whole run of each version at those speeds."
            )
            files += _write_table(timing, out / f"{b.key}_timing", f"{b.label}: run times", note)
            readme.append(f"### Run times\n\n{note}\n")
            readme.append(_readme_table(timing))
    groups = ([("otb", otb_scored)] if otb_scored else []) + [(bs.benchmark.key, [bs]) for bs in other]
    for key, group in groups:
        table = paper_vs_here(group, "otb")
        if group[0].benchmark.is_otb:
            note = (
                f"Paper: {PAPER_SOURCE}. Here: this project's results on the same benchmark, `otb` "
                "protocol; `rankatt` implements the paper's tracker (OURS), `crest` is a CREST-style "
                "re-implementation, not CREST's released code."
            )
        else:
            label = group[0].benchmark.label
            note = (
                f"Paper: {PAPER_SOURCE}, on OTB. Here: this project's results on the {label}, `otb` "
                f"protocol. NOT COMPARABLE: the {label} is not OTB (other sequences, other difficulty); "
                "the columns sit side by side only to show what the reproduction on OTB would be "
                "checked against."
            )
        title = "The paper's figures (OTB) beside ours (" + ", ".join(bs.benchmark.label for bs in group) + ")"
        files += _write_table(table, out / f"{key}_paper_vs_here", title, note)
        readme.append(f"## {title}\n\n{note}\n")
        readme.append(_readme_table(table))
    readme_path = out / "README.md"
    results.atomic_write_text(readme_path, "\n".join(readme))
    files.append(readme_path)
    return files


# --------------------------------------------------------------------------- the experiment object


class Experiment:
    """One benchmark and one results folder: run trackers on it, score them, write the report.

    The object the book's chapters and ``rankatt report`` share (got10k's ``ExperimentOTB`` is the
    model)::

        from rankatt_lib.data import OTBFormatDataset
        from rankatt_lib.experiments.experiment import Experiment

        exp = Experiment(OTBFormatDataset("data/synthetic/test", name="synthetic"), "results")
        exp.run("kcf")                                  # resumable: finished sequences are kept
        scores = exp.score(["kcf", "rankatt"])          # every protocol, complete trackers only
        exp.table(scores)                               # AUC, precision, fps per tracker
        exp.report(["kcf", "rankatt"])                  # plots, tables, README under results/.../report

    Args:
        dataset: the sequences: :class:`rankatt_lib.data.otb.OTB` (the real benchmark: its results
            folder is got10k's ``OTB2013``/``OTB2015``) or any
            :class:`rankatt_lib.data.otb.OTBFormatDataset` (results folder: ``dataset.name``), or a
            :class:`Benchmark`.
        results_root: the results folder (``<root>/<benchmark>/<tracker>/<sequence>.txt``).
    """

    def __init__(self, dataset: Any, results_root: str | Path = "results") -> None:
        if isinstance(dataset, Benchmark):
            self.benchmark = dataset
        elif isinstance(dataset, data.OTB):
            self.benchmark = Benchmark(dataset.name, dataset.name.lower(), OTB_FOLDERS[dataset.version], dataset, True)
        elif hasattr(dataset, "names") and hasattr(dataset, "name"):
            name = str(dataset.name)
            label = name if name.lower().endswith("benchmark") else f"{name} benchmark"
            self.benchmark = Benchmark(label, _slug(name), name, dataset, False)
        else:
            raise TypeError(
                f"Experiment needs a dataset with .name and .names (rankatt_lib.data.OTBFormatDataset or OTB) "
                f"or a Benchmark, got {type(dataset).__name__}"
            )
        self.results_root = Path(results_root)

    def __repr__(self) -> str:
        b = self.benchmark
        return f"Experiment({b.label!r}, {len(b.names)} sequences, results in {self.results_root / b.folder})"

    @property
    def folder(self) -> Path:
        """Where the benchmark's results are: ``<results_root>/<benchmark folder>``."""
        return self.results_root / self.benchmark.folder

    def run(
        self,
        tracker: str,
        device: str | None = None,
        overwrite: bool = False,
        progress: bool = True,
        **tracker_options: Any,
    ) -> run.RunReport:
        """Track every sequence with the registered ``tracker`` (resumable), as ``rankatt run`` does.

        ``tracker_options`` go to the tracker's factory (config fields, e.g. ``T=4``); with options
        the results still go to the tracker's own folder, so pass a registered variant's name (or
        use ``rankatt run --option ... --name FOLDER``) to keep a setting apart from the default.
        """
        kwargs = {**tracker_kwargs(tracker, device), **tracker_options}
        return run.run_tracker(
            tracker,
            self.benchmark.dataset,
            self.results_root,
            benchmark=self.benchmark.folder,
            sequences=self.benchmark.names,
            progress=progress,
            overwrite=overwrite,
            tracker_kwargs=kwargs,
            reuse_from=run.otb_sibling_folders(self.benchmark.folder),
        )

    def missing(self, tracker: str) -> list[str]:
        """The sequences without a result of ``tracker``."""
        return missing_results(self.benchmark, tracker, self.results_root)

    def complete(self, trackers: Iterable[str]) -> list[str]:
        """Those of ``trackers`` with a result on every sequence (order kept)."""
        return complete_trackers(self.benchmark, trackers, self.results_root)

    def score(
        self, trackers: Sequence[str], protocols: Sequence[str] = evaluation.PROTOCOLS, progress: bool = False
    ) -> BenchmarkScores:
        """Score the stored results of every complete tracker under every protocol; trackers with
        missing or damaged results are listed in the result (``incomplete``, ``damaged``), not scored."""
        return score_benchmark(self.benchmark, list(trackers), self.results_root, protocols, progress)

    @staticmethod
    def table(scores: BenchmarkScores, protocol: str = "otb") -> pd.DataFrame:
        """AUC, precision@20 and fps of the scored trackers under ``protocol``, best first."""
        return results_table(scores, protocol)

    def report(
        self, trackers: Sequence[str] | None = None, out_dir: str | Path | None = None, progress: bool = False
    ) -> list[Path]:
        """Score ``trackers`` (default: :data:`DEFAULT_TRACKERS`) and write the report (plots,
        tables, ``README.md``) into ``out_dir`` (default ``<results_root>/<benchmark>/report``);
        returns the files written."""
        scored = self.score(list(trackers or DEFAULT_TRACKERS), progress=progress)
        out = Path(out_dir) if out_dir is not None else self.folder / "report"
        return write_report([scored], out, self.results_root)



# --------------------------------------------------------------------------- command line


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="rankatt report",
        description="Score the stored results of every tracker on OTB2013/OTB2015 (or any OTB-format "
        "benchmark) under every protocol and write plots and tables beside the paper's figures; with "
        "--track, first track what is missing (resumable: the same command goes on after an interruption).",
    )
    p.add_argument("--track", action="store_true", help="track the sequences that have no result first")
    p.add_argument("--otb-root", default=str(DEFAULT_OTB_ROOT), help=f"the OTB folder (default {DEFAULT_OTB_ROOT})")
    p.add_argument("--versions", nargs="+", type=int, choices=VERSIONS, default=list(VERSIONS), help="OTB versions")
    p.add_argument(
        "--trackers", nargs="+", default=list(DEFAULT_TRACKERS), help=f"default: {' '.join(DEFAULT_TRACKERS)}"
    )
    p.add_argument("--results", default="results", help="results root (default ./results)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N for the trackers that take one")
    p.add_argument("--sequences", nargs="+", default=None, help="only these sequences (names, or a,b,c)")
    p.add_argument("--score-only", action="store_true", help="track nothing (the default without --track)")
    p.add_argument("--overwrite", action="store_true", help="track again sequences that have results")
    p.add_argument("--dataset", default=None, help="a folder of OTB-format sequences instead of OTB")
    p.add_argument("--benchmark", default=None, help="with --dataset: its name (results folder, labels)")
    p.add_argument("--protocols", nargs="+", default=list(evaluation.PROTOCOLS), choices=evaluation.PROTOCOLS)
    p.add_argument(
        "--report",
        default=None,
        help=f"report folder (default <results>/{OTB_REPORT_FOLDER}, or <results>/<benchmark>/report)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def _error(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parse_args(argv)
    if args.track and args.score_only:
        return _error("--track and --score-only contradict each other")
    args.score_only = not args.track
    progress = not args.no_progress
    trackers = _split_names(args.trackers) or []
    known = registry.available_trackers()
    unknown = [t for t in trackers if t not in known]
    if unknown:
        return _error(f"unknown tracker(s) {', '.join(unknown)}; available: {', '.join(known)}")
    if (args.dataset is None) != (args.benchmark is None):
        return _error("--dataset and --benchmark go together")
    try:
        if args.dataset is not None:
            benchmarks = [format_benchmark(args.dataset, args.benchmark, args.sequences)]
        else:
            benchmarks = otb_benchmarks(args.otb_root, args.versions, args.sequences)
    except (data.MissingDataError, KeyError, ValueError) as exc:
        return _error(exc.args[0] if isinstance(exc, KeyError) else str(exc))
    if not args.score_only and args.device is not None:
        try:
            pick_device(args.device)
        except (RuntimeError, ValueError) as exc:
            return _error(str(exc))

    status = 0
    if not args.score_only:
        try:
            reports = run_all(benchmarks, trackers, args.results, args.device, progress, args.overwrite)
        except OSError as exc:  # the results folder cannot be written: found before any tracking
            return _error(exc.strerror or str(exc))
        for what, why in (
            ("failed", "failed (see failures.log beside the results)"),
            ("busy", "skipped, another run is tracking them"),
        ):
            pairs = [(r.tracker, n) for r in reports for n in getattr(r, what)]
            if pairs:
                status = 1
                print(f"{len(pairs)} sequence(s) {why}:", file=sys.stderr)
                for t, n in pairs:
                    print(f"  {t} on {n}", file=sys.stderr)

    scored = [score_benchmark(b, trackers, args.results, args.protocols, progress) for b in benchmarks]
    if args.report:
        out_dir = Path(args.report)
    elif benchmarks[0].is_otb:
        out_dir = Path(args.results) / OTB_REPORT_FOLDER
    else:
        out_dir = Path(args.results) / benchmarks[0].folder / "report"
    legacy = Path(args.results) / run.LEGACY_OTB_FOLDER
    otb_folders = [b.folder for b in benchmarks if b.is_otb]
    if otb_folders and legacy.is_dir() and args.score_only:
        print(
            f"note: {legacy} holds results in the old shared OTB folder; `rankatt report --track` copies "
            f"the finished ones into {' and '.join(f + '/' for f in otb_folders)} (no tracking) before scoring",
            file=sys.stderr,
        )
    files = write_report(scored, out_dir, args.results)
    for bs in scored:
        print(f"\n{bs.benchmark.label}:")
        for t, m in bs.incomplete.items():
            print(f"  not scored, {len(m)} of {len(bs.benchmark.names)} sequences missing: {t}")
        for t, bad in bs.damaged.items():
            status = 1
            print(f"  not scored, {len(bad)} damaged result file(s) of {t}:", file=sys.stderr)
            for why in bad.values():
                print(f"    {why}", file=sys.stderr)
            print(
                "  to redo them, run this command again with --track (each damaged file is kept as <name>.txt.bad)",
                file=sys.stderr,
            )
        for p, errs in bs.errors.items():
            for t, msg in errs.items():
                print(f"  protocol {p} refused the results of {t}: {msg}", file=sys.stderr)
        if bs.trackers and "otb" in bs.scores:
            print(plots.format_table(results_table(bs, "otb")))
        if not bs.trackers:
            status = 1
    print(f"\nreport: {len(files)} files in {out_dir}")
    return status


if __name__ == "__main__":
    sys.exit(main())
