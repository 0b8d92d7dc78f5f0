#!/usr/bin/env python
"""Compare stored runs of a tracker, e.g. the CPU against a GPU in float32 and in its fast setting.

Example (the parity check of running on a GPU; ``gpu/`` is a results root written on the GPU
machine by ``python -m rankatt_lib.evaluation.run ... --results gpu``)::

    python data_scripts/compare_runs.py --dataset data/synthetic/test --benchmark synthetic \\
        --run cpu=results:rankatt --run cuda-fp32=gpu:rankatt --run cuda-bf16=gpu:rankatt-bf16 \\
        --reference cpu --max-auc-drop 0.01 --json gpu/parity.json

Each ``--run LABEL=ROOT:TRACKER`` names a results root and the tracker folder under
``ROOT/<benchmark>/``. For every run it prints the sequences it covers, precision@20 and AUC
(:func:`rankatt_lib.evaluation.score_dataset`, ``otb`` protocol, over the sequences *every* run
covers, so that no average is over a different set), and against the reference run: the mean IoU
between the two runs' boxes frame by frame (:func:`rankatt_lib.evaluation.trajectory_agreement`),
the share of frames with IoU > 0.5, the largest distance between their centres and the AUC change.

Exit status: 0; 1 when a run's AUC is below the reference's by more than ``--max-auc-drop``;
2 on a usage error (a run with no results, no sequence in common).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from rankatt_lib import evaluation  # noqa: E402
from rankatt_lib.data import OTBFormatDataset  # noqa: E402
from rankatt_lib.evaluation import results  # noqa: E402


def parse_run(text: str) -> tuple[str, Path, str]:
    """``"LABEL=ROOT:TRACKER"`` -> ``(label, root, tracker)``.

    Raises:
        ValueError: not of that form.
    """
    label, sep, rest = text.partition("=")
    root, sep2, tracker = rest.rpartition(":")
    if not (sep and sep2 and label.strip() and root.strip() and tracker.strip()):
        raise ValueError(f"--run takes LABEL=ROOT:TRACKER (e.g. cpu=results:rankatt), got {text!r}")
    return label.strip(), Path(root.strip()), tracker.strip()


def compare(
    runs: Sequence[tuple[str, Path, str]], dataset: Any, benchmark: str, reference: str | None = None
) -> dict[str, Any]:
    """Scores of every run on their common sequences, and each run's agreement with ``reference``
    (default: the first run). Raises ``ValueError`` for a run without results or no common sequence."""
    labels = [r[0] for r in runs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"run labels must differ, got {labels}")
    ref = labels[0] if reference is None else reference
    if ref not in labels:
        raise ValueError(f"reference {ref!r} is not one of the runs {labels}")
    boxes: dict[str, dict[str, Any]] = {}
    for label, root, tracker in runs:
        got = results.load_results(root, benchmark, tracker)
        if not got:
            raise ValueError(f"run {label!r}: no results under {results.tracker_dir(root, benchmark, tracker)}")
        boxes[label] = got
    known = set(dataset.names)
    common = [n for n in dataset.names if all(n in b for b in boxes.values())]
    if not common:
        raise ValueError("the runs have no sequence of the dataset in common")
    out: dict[str, Any] = {"benchmark": benchmark, "reference": ref, "sequences": common, "runs": {}}
    ref_score = None
    scores = {}
    for label in labels:
        sc = evaluation.score_dataset({n: boxes[label][n] for n in common}, dataset, names=common)
        scores[label] = sc
        if label == ref:
            ref_score = sc
    assert ref_score is not None
    for label, root, tracker in runs:
        sc = scores[label]
        entry: dict[str, Any] = {
            "root": str(root),
            "tracker": tracker,
            "covered": len([n for n in boxes[label] if n in known]),
            "precision": sc.precision,
            "auc": sc.auc,
        }
        if label != ref:
            agree = evaluation.trajectory_agreement(
                {n: boxes[ref][n] for n in common}, {n: boxes[label][n] for n in common}
            )
            entry.update(
                mean_iou_vs_reference=agree.mean_iou,
                share_iou_above_half=agree.share_above_half,
                max_centre_distance_px=agree.max_centre_distance,
                identical_sequences=len(agree.identical_sequences),
                frames_compared=agree.frames,
                auc_change=sc.auc - ref_score.auc,
                precision_change=sc.precision - ref_score.precision,
                worst_sequences=sorted(agree.per_sequence.items(), key=lambda kv: kv[1])[:3],
            )
        out["runs"][label] = entry
    return out


def format_report(report: dict[str, Any]) -> str:
    """The printed table."""
    ref = report["reference"]
    lines = [
        f"{report['benchmark']}: {len(report['sequences'])} sequences every run covers; reference {ref}",
        f"{'run':<14}{'P@20':>7}{'AUC':>7}{'dAUC':>8}{'mean IoU':>10}{'IoU>0.5':>9}{'max dist px':>12}"
        f"{'same seqs':>10}",
    ]
    for label, e in report["runs"].items():
        if label == ref:
            lines.append(f"{label:<14}{e['precision']:7.3f}{e['auc']:7.3f}")
        else:
            lines.append(
                f"{label:<14}{e['precision']:7.3f}{e['auc']:7.3f}{e['auc_change']:+8.3f}{e['mean_iou_vs_reference']:10.3f}"
                f"{e['share_iou_above_half']:9.3f}{e['max_centre_distance_px']:12.1f}{e['identical_sequences']:10d}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", required=True, help="folder of OTB-format sequences (the ground truth)")
    ap.add_argument("--benchmark", required=True, help="benchmark folder name under each results root")
    ap.add_argument("--run", action="append", required=True, metavar="LABEL=ROOT:TRACKER", help="a run (repeat)")
    ap.add_argument("--reference", default=None, help="label of the reference run (default: the first)")
    ap.add_argument("--max-auc-drop", type=float, default=None, help="exit 1 if a run's AUC is lower by more")
    ap.add_argument("--json", type=Path, default=None, help="write the report here")
    a = ap.parse_args(argv)
    try:
        runs = [parse_run(r) for r in a.run]
        report = compare(runs, OTBFormatDataset(a.dataset), a.benchmark, a.reference)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    if a.json is not None:
        results.atomic_write_text(a.json, json.dumps(report, indent=2) + "\n")
        print(f"wrote {a.json}")
    if a.max_auc_drop is not None:
        bad = [k for k, e in report["runs"].items() if e.get("auc_change", 0.0) < -a.max_auc_drop]
        if bad:
            print(f"AUC drop beyond {a.max_auc_drop} in: {', '.join(bad)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
