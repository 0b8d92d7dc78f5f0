"""Screen the alternative readings of the ranking and the attention on a validation split (issue #20).

Each *reading* is a set of :class:`rankatt_lib.trackers.rankatt.RankingAttentionConfig` overrides
(:data:`READINGS`). For every reading and every validation sequence the tracker runs on the first
``--frames`` frames (one-pass, initialised on the ground-truth box of frame 1) and this script
writes, under ``<out>/<reading>/``:

* ``<sequence>.txt``: the boxes, OTB result format (``x,y,w,h``, one line per frame, frame 1 = the
  initial box), written last and atomically: its presence with ``--frames`` rows marks a finished
  sequence, which a rerun skips (the script is resumable and can be extended with more readings,
  frames or sequences: a sequence with another number of rows is tracked again);
* ``<sequence>.json``: the per-frame activity of the mechanism and the sequence's scores;
* ``summary.json`` / ``summary.csv``: the reading over the sequences finished so far;

and ``<out>/summary.csv``: one row per reading (the screening table).

Validation split (why, see ``results/readings/README.md``): the 8 *training* sequences the shipped
updater checkpoint held out for its own validation (``results/training/ranking_synthetic_cn.json``,
``split.val_sequences``): never used to fit the updater, disjoint from the test split (which this
script never reads), already on disk.

Scores: :func:`rankatt_lib.evaluation.score_sequence` under the ``otb`` protocol on the frames run,
averaged over sequences as the OTB toolkit does (AUC = mean of the success curve, P@20 =
precision at 20 px). Activity, per frame t >= 2:

* ``top_changed``: the top-ranked kernel :math:`c^{(1st)}_t` is not the one ranked first on the
  frame before (``order[0] != 0``); reported per 100 frames;
* ``kernel_cos``: mean pairwise cosine similarity of the ranking's N kernels after the update
  (NaN while the ranking holds one kernel);
* ``att_cover``: fraction of conv3_3 cells (reference scale, 63 x 63) where the normalised
  attention :math:`a = \\mathrm{relu}(m)/\\max` exceeds 0.5 (0 without attention).

Usage (one reading at a time; heavy: ~1.6 s a frame on one CPU core)::

    OMP_NUM_THREADS=1 nice -n 10 python data_scripts/screen_readings.py --readings baseline,augmented
    python data_scripts/screen_readings.py --list
    python data_scripts/screen_readings.py --summarise          # only rebuild the summaries
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rankatt_lib.components.attention import normalise_attention, upsample_attention  # noqa: E402
from rankatt_lib.data import OTBFormatDataset  # noqa: E402
from rankatt_lib.evaluation import score_sequence, size_ratio  # noqa: E402
from rankatt_lib.evaluation.results import atomic_write_text, read_boxes, write_boxes  # noqa: E402
from rankatt_lib.trackers.rankatt import RankingAttentionTracker  # noqa: E402

#: reading name -> RankingAttentionConfig overrides. "baseline" is the book's tracker.
READINGS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "noranking": {"use_ranking": False},
    "augmented": {"ranking_init": "augmented"},
    "first_frames": {"ranking_init": "first_frames"},
    "carried": {"cell_input": "carried"},
    "wide": {"init_sigma_factor": 0.5},
    "wide_multiply": {"init_sigma_factor": 0.5, "attention_variant": "multiply"},
    "augmented_wide": {"ranking_init": "augmented", "init_sigma_factor": 0.5},
    "augmented_carried": {"ranking_init": "augmented", "cell_input": "carried"},
    "augmented_carried_wide": {"ranking_init": "augmented", "cell_input": "carried", "init_sigma_factor": 0.5},
    "wide_noranking": {"init_sigma_factor": 0.5, "use_ranking": False},
    "wide_multiply_noranking": {"init_sigma_factor": 0.5, "attention_variant": "multiply", "use_ranking": False},
    # the scale estimate (issue #20: the boxes grow ~10 % over a sequence with the raw peaks)
    "scale_frame1": {"scale_normalisation": "frame1"},
    "scale_parts": {"scale_normalisation": "parts"},
    "scale_trend": {"scale_normalisation": "trend"},
    "scale_attention": {"scale_normalisation": "attention"},
    "scale_attention_h0": {"scale_normalisation": "attention_h0"},
    # the updater trained with N = 3 and the carried cell in the loop (rankatt train --ranking-n 3
    # --cell-input carried; results/training/ranking_synthetic_n3_carried.json)
    "scale_attention_n3carried": {
        "scale_normalisation": "attention",
        "cell_input": "carried",
        "updater": "checkpoint",
        "checkpoint": str(ROOT / "data" / "runs" / "ranking_synthetic_n3_carried.pt"),
    },
}

# the updater trained on the real-photo training split (rankatt train --data data/photo/train
# --out data/runs/ranking_photo.pt; results/training/ranking_photo.json)
READINGS["scale_attention_photo"] = {
    "scale_normalisation": "attention",
    "updater": "checkpoint",
    "checkpoint": str(ROOT / "data" / "runs" / "ranking_photo.pt"),
}

#: one switch on top of the chosen scale estimate: ``scale_attention_<name>``
ON_SCALE_ATTENTION = ("noranking", "augmented", "first_frames", "carried", "wide")
READINGS.update(
    {f"scale_attention_{k}": {"scale_normalisation": "attention", **READINGS[k]} for k in ON_SCALE_ATTENTION}
)
READINGS["scale_attention_noattention"] = {"scale_normalisation": "attention", "use_attention": False}

#: the frame from which the scale drift is read (``evaluation.size_ratio``, as ``rankatt score``: frames 51+)
SIZE_FROM = 50

SPLIT_RECORD = ROOT / "results" / "training" / "ranking_synthetic_cn.json"
#: The shipped checkpoint's held-out training sequences (copied from SPLIT_RECORD, checked at run time).
VAL_SEQUENCES: tuple[str, ...] = (
    "syn_train_002",
    "syn_train_003",
    "syn_train_004",
    "syn_train_011",
    "syn_train_023",
    "syn_train_024",
    "syn_train_027",
    "syn_train_034",
)


def expected_frames(seq_len: int, frames: int) -> int:
    """Frames run on a sequence of ``seq_len`` frames: the first ``frames``, or all with ``frames=0``."""
    return seq_len if frames <= 0 else min(frames, seq_len)


def check_split() -> None:
    """The validation sequences are the checkpoint's held-out ones (fail loudly if the record changed)."""
    if not SPLIT_RECORD.is_file():
        return
    rec = json.loads(SPLIT_RECORD.read_text())["split"]
    names = tuple(sorted(Path(s).name for s in rec["val_sequences"]))
    if names != tuple(sorted(VAL_SEQUENCES)):
        raise SystemExit(f"{SPLIT_RECORD} holds out {names}, this script {VAL_SEQUENCES}: update VAL_SEQUENCES")
    train = {Path(s).name for s in rec["train_sequences"]}
    if train & set(VAL_SEQUENCES):
        raise SystemExit("a validation sequence was used to train the updater")


def _cosine_mean(kernels: torch.Tensor) -> float:
    n = kernels.shape[0]
    if n < 2:
        return float("nan")
    flat = kernels.reshape(n, -1).double()
    flat = flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-30)
    c = flat @ flat.T
    iu = torch.triu_indices(n, n, 1)
    return float(c[iu[0], iu[1]].mean())


def _coverage(tracker: RankingAttentionTracker) -> float:
    last = tracker.last
    if last is None or last.attention is None:
        return 0.0
    ref = tracker._ref
    m = last.attention[ref : ref + 1]
    a = normalise_attention(
        upsample_attention(
            m, tuple(last.xL.shape[-2:]), tracker.attention_config.upsample, tracker.attention_config.ratio
        )
    )
    return float((a > 0.5).float().mean())


def track(seq: Any, overrides: dict[str, Any], frames: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Run one reading on the first ``frames`` frames: ``(boxes (F, 4), per-frame activity)``."""
    n = min(frames, len(seq))
    tracker = RankingAttentionTracker(device="cpu", **overrides)
    boxes = np.zeros((n, 4))
    boxes[0] = seq.gt[0]
    t0 = time.perf_counter()
    tracker.init(seq.image(0), seq.gt[0])
    act: dict[str, list[Any]] = {
        "top_changed": [],
        "top_slot_before": [],
        "kernel_cos": [_cosine_mean(tracker.ranking.kernels)],
        "n_kernels": [tracker.ranking.n],
        "att_cover": [_coverage(tracker)],
        "peak": [float("nan")],
    }
    for i in range(1, n):
        boxes[i] = tracker.update(seq.image(i))
        last = tracker.last
        if last.order is not None:
            first = int(last.order[0])
            act["top_slot_before"].append(first)
            act["top_changed"].append(bool(first != 0))
        act["kernel_cos"].append(_cosine_mean(tracker.ranking.kernels))
        act["n_kernels"].append(tracker.ranking.n)
        act["att_cover"].append(_coverage(tracker))
        act["peak"].append(float(last.peak_value))
    act["seconds"] = time.perf_counter() - t0
    act["updater_source"] = tracker.updater_source
    return boxes, act


def _nanmean(values: list[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def sequence_record(seq: Any, boxes: np.ndarray, act: dict[str, Any], frames: int) -> dict[str, Any]:
    n = len(boxes)
    sc = score_sequence(boxes, seq.gt[:n], "otb", name=seq.name)
    changes = act["top_changed"]
    ratio = size_ratio(boxes, seq.gt[:n])[SIZE_FROM:]
    return {
        "sequence": seq.name,
        "frames": n,
        "frames_requested": frames,
        "size_ratios_from_51": [float(v) for v in ratio],
        "auc": float(sc.auc),
        "precision20": float(sc.precision),
        "success_curve": sc.success_curve.tolist(),
        "precision_curve": sc.precision_curve.tolist(),
        "top_changes": int(sum(changes)),
        "top_changes_per_100": 100.0 * sum(changes) / len(changes) if changes else float("nan"),
        "kernel_cos_mean": _nanmean(act["kernel_cos"][1:]),
        "att_cover_mean": _nanmean(act["att_cover"][1:]),
        "att_cover_frame1": act["att_cover"][0],
        "activity": act,
    }


def finished(folder: Path, frames: int) -> set[str]:
    """The validation sequences of ``folder`` finished with ``frames`` frames."""
    done = set()
    for name in _names(folder):
        j, b = folder / f"{name}.json", folder / f"{name}.txt"
        if j.is_file() and b.is_file():
            try:
                rec = json.loads(j.read_text())
                if _requested(rec) == frames and len(read_boxes(b)) == rec["frames"]:
                    done.add(name)
            except (ValueError, KeyError):
                pass
    return done


def _requested(rec: dict[str, Any]) -> int:
    """The ``--frames`` a record was run with (records before ``frames_requested`` ran their ``frames``)."""
    return int(rec.get("frames_requested", rec["frames"]))


def _names(folder: Path) -> list[str]:
    """The sequences a reading's folder may hold: the synthetic validation split, or any ``*.json``
    record of another split (the real-photo validation split)."""
    found = sorted(p.stem for p in folder.glob("*.json") if p.stem != "summary")
    return found if set(found) - set(VAL_SEQUENCES) else list(VAL_SEQUENCES)


def summarise(
    folder: Path, reading: str, frames: int, only: set[str] | None = None, write: bool = True
) -> dict[str, Any] | None:
    """The reading over its finished sequences (``only``: restricted to these), written to
    ``summary.json`` / ``summary.csv`` when ``write``."""
    recs = []
    for name in _names(folder):
        if only is not None and name not in only:
            continue
        j = folder / f"{name}.json"
        b = folder / f"{name}.txt"
        if j.is_file() and b.is_file():
            rec = json.loads(j.read_text())
            if _requested(rec) == frames and len(read_boxes(b)) == rec["frames"]:
                recs.append(rec)
    if not recs:
        return None
    s = {
        "reading": reading,
        "overrides": READINGS.get(reading),
        "sequences": len(recs),
        "of": len(_names(folder)),
        "frames_per_sequence": frames,
        "auc": float(np.mean([np.mean(r["success_curve"]) for r in recs])),
        "precision20": float(np.mean([r["precision_curve"][20] for r in recs])),
        "top_changes_per_100": 100.0
        * sum(r["top_changes"] for r in recs)
        / max(1, sum(len(r["activity"]["top_changed"]) for r in recs)),
        "kernel_cos_mean": _nanmean([r["kernel_cos_mean"] for r in recs]),
        "att_cover_mean": _nanmean([r["att_cover_mean"] for r in recs]),
        "att_cover_frame1": _nanmean([r["att_cover_frame1"] for r in recs]),
        "att_cover_last10": _nanmean([_nanmean(r["activity"]["att_cover"][-10:]) for r in recs]),
        "seconds_per_frame": sum(r["activity"]["seconds"] for r in recs) / sum(r["frames"] for r in recs),
        "size_ratio_median_51": _nanmedian([v for r in recs for v in r.get("size_ratios_from_51", [])]),
        "per_sequence": {r["sequence"]: {"auc": r["auc"], "precision20": r["precision20"]} for r in recs},
    }
    if not write:
        return s
    atomic_write_text(folder / "summary.json", json.dumps(s, indent=1) + "\n")
    cols = ["sequence", "frames", "auc", "precision20", "top_changes_per_100", "kernel_cos_mean", "att_cover_mean"]
    lines = [",".join(cols)] + [",".join(_fmt(r[c]) for c in cols) for r in recs]
    atomic_write_text(folder / "summary.csv", "\n".join(lines) + "\n")
    return s


def _nanmedian(values: list[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else float("nan")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return str(v)


TABLE_COLS = [
    "reading",
    "sequences",
    "frames_per_sequence",
    "auc",
    "precision20",
    "top_changes_per_100",
    "kernel_cos_mean",
    "att_cover_mean",
    "att_cover_frame1",
    "att_cover_last10",
    "seconds_per_frame",
    "size_ratio_median_51",
]


def write_table(out: Path, frames: int) -> list[dict[str, Any]]:
    """``<out>/summary.csv`` (every reading over its finished sequences) and
    ``<out>/summary_common.csv`` (the readings with the most finished sequences, over the sequences
    they all finished: a paired comparison). Returns the rows of the latter."""
    rows, done = [], {}
    for reading in READINGS:
        folder = out / reading
        if folder.is_dir():
            s = summarise(folder, reading, frames)
            if s is not None:
                rows.append(s)
                done[reading] = finished(folder, frames)
    if (out / "baseline").is_dir():  # the baseline over each reading's own sequences (a paired delta)
        for s in rows:
            b = summarise(out / "baseline", "baseline", frames, only=set(s["per_sequence"]), write=False)
            s["baseline_auc_same_sequences"] = b["auc"] if b is not None and b["sequences"] == s["sequences"] else None
    # paired: the readings with the most finished sequences, over the sequences they all finished
    most = max((len(v) for v in done.values()), default=0)
    full = [r for r in done if len(done[r]) == most]
    common = set.intersection(*(done[r] for r in full)) if full else set()
    paired = [summarise(out / r, r, frames, only=common, write=False) for r in full] if common else []
    for path, table, cols in (
        ("summary.csv", rows, [*TABLE_COLS, "baseline_auc_same_sequences"]),
        ("summary_common.csv", paired, TABLE_COLS),
    ):
        with open(out / path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for s in table:
                if s is not None:
                    w.writerow([_fmt(s.get(c)) for c in cols])
    if common:
        atomic_write_text(out / "summary_common_sequences.txt", "\n".join(sorted(common)) + "\n")
    return [s for s in paired if s is not None]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--readings", default="baseline", help="comma-separated names of READINGS")
    ap.add_argument(
        "--split",
        choices=("synthetic", "photo"),
        default="synthetic",
        help="synthetic: the 8 held-out training sequences (default); photo: the real-photo validation split",
    )
    ap.add_argument("--data", default=None, help="the split's folder (default data/synthetic/train or data/photo/val)")
    ap.add_argument("--out", default=str(ROOT / "results" / "readings"))
    ap.add_argument(
        "--frames",
        type=int,
        default=40,
        help="first frames of each sequence (default 40, what the stored screening used; 0: every frame)",
    )
    ap.add_argument("--sequences", default=None, help="comma-separated subset of the validation sequences")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--list", action="store_true", help="print the readings and exit")
    ap.add_argument("--summarise", action="store_true", help="only rebuild the summaries")
    args = ap.parse_args(argv)
    if args.list:
        for k, v in READINGS.items():
            print(f"{k:24s} {v}")
        return 0
    check_split()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.summarise:
        torch.set_num_threads(args.threads)
        readings = [r for r in args.readings.split(",") if r]
        unknown = [r for r in readings if r not in READINGS]
        if unknown:
            ap.error(f"unknown readings {unknown}; see --list")
        if args.split == "synthetic":
            data = args.data or str(ROOT / "data" / "synthetic" / "train")
            allowed: tuple[str, ...] = VAL_SEQUENCES
        else:
            data = args.data or str(ROOT / "data" / "photo" / "val")
            if not Path(data).is_dir():
                raise SystemExit(f"{data}: no real-photo validation split; generate it with `rankatt photo`")
            allowed = tuple(OTBFormatDataset(data).names)
            if not all(n.startswith("photo_val_") for n in allowed):
                raise SystemExit(f"{data}: not the real-photo validation split ({allowed[:3]}...)")
        names = allowed if args.sequences is None else tuple(args.sequences.split(","))
        bad = [n for n in names if n not in allowed]
        if bad:
            ap.error(f"{bad} are not validation sequences")
        ds = OTBFormatDataset(data, names=list(names))
        for reading in readings:
            folder = out / reading
            folder.mkdir(parents=True, exist_ok=True)
            for name in names:
                bpath, jpath = folder / f"{name}.txt", folder / f"{name}.json"
                seq = ds[name]
                n = expected_frames(len(seq), args.frames)
                if bpath.is_file() and jpath.is_file():
                    try:
                        rec0 = json.loads(jpath.read_text())
                        done = len(read_boxes(bpath)) == n and rec0["frames"] == n and _requested(rec0) == args.frames
                    except (ValueError, KeyError, json.JSONDecodeError):
                        done = False
                    if done:
                        print(f"{reading}/{name}: done, skipped", flush=True)
                        continue
                t0 = time.perf_counter()
                boxes, act = track(seq, READINGS[reading], n)
                rec = sequence_record(seq, boxes, act, args.frames)
                rec["overrides"] = READINGS[reading]
                atomic_write_text(jpath, json.dumps(rec) + "\n")
                write_boxes(bpath, boxes)  # last: marks the sequence finished
                print(
                    f"{reading}/{name}: {n} frames in {time.perf_counter() - t0:.0f} s, AUC {rec['auc']:.3f} "
                    f"P@20 {rec['precision20']:.3f}, top changes/100 {rec['top_changes_per_100']:.1f}, "
                    f"cos {rec['kernel_cos_mean']:.4f}, cover {rec['att_cover_mean']:.4f}, "
                    f"size ratio 51+ {_nanmedian(rec['size_ratios_from_51']):.3f}",
                    flush=True,
                )
            summarise(folder, reading, args.frames)
    rows = write_table(out, args.frames)
    if rows:
        print(f"paired over the {rows[0]['sequences']} sequences the most complete readings finished:")
    for s in rows:
        print(
            f"{s['reading']:24s} {s['sequences']}/{s['of']} seq x {s['frames_per_sequence']} fr  AUC {s['auc']:.3f}  "
            f"P@20 {s['precision20']:.3f}  top/100 {s['top_changes_per_100']:.1f}  cos {s['kernel_cos_mean']:.4f}  "
            f"cover {s['att_cover_mean']:.4f}  size 51+ {s['size_ratio_median_51']:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
