"""The tables of the mechanism study (issue #20): readings on validation, trackers and ablations on test.

Reads what the resumable runs wrote and scores it; it tracks nothing, so it runs in seconds:

* **validation**: the whole-sequence screens of ``data_scripts/screen_readings.py --frames 0``,
  ``results/readings-full/`` (the 8 held-out synthetic training sequences) and
  ``results/readings-photo/`` (the 10 real-photo validation sequences). Per reading: AUC, P@20,
  the median size ratio over frames 51+, and the paired difference to ``baseline`` over the
  sequences both finished (:func:`rankatt_lib.evaluation.paired_bootstrap`);
* **test**: every tracker folder of ``<results>/<benchmark>/`` (the stored runs: since the study,
  the default ``scale_normalisation="attention"``; ``rankatt-crestscale`` is the full tracker with
  CREST's scale rule, the default before it), of the archive ``results/issue20/crestscale/<benchmark>/``
  (the ablation variants' runs with CREST's scale rule; listed as ``<tracker> (crest scale)``) and
  of the staging root ``results/issue20/<benchmark>/`` (runs of a future default, written there
  until every variant is complete; ``<tracker> (new)``), on the synthetic test split (20
  sequences) and the real-photo test split (20 sequences), ``otb`` protocol: AUC, P@20, median size
  ratio over frames 51+, and the full tracker against each ablation and baseline, paired over the
  sequences both finished. A variant is compared with the full tracker of its own generation (the
  same code); the baselines, which the study did not touch, as stored.

Writes ``results/issue20/summary.json`` and ``results/issue20/summary.md`` and prints the tables::

    python data_scripts/mechanism_study.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rankatt_lib.data import OTBFormatDataset  # noqa: E402
from rankatt_lib.evaluation import paired_bootstrap, score_sequence, size_ratio  # noqa: E402
from rankatt_lib.evaluation.results import atomic_write_text, load_results  # noqa: E402

#: validation screens: split label -> folder (relative to the repository)
VALIDATION = {
    "synthetic val (8 seq, all frames)": "results/readings-full",
    "photo val (10 seq)": "results/readings-photo",
}
#: test splits: benchmark folder name -> dataset folder
TEST = {"synthetic": "data/synthetic/test", "photo": "data/photo/test"}
STAGING = "results/issue20"
ARCHIVE = "results/issue20/crestscale"
#: generations of the full tracker: (its name in the tables, the suffix of its variants' runs)
GENERATIONS = (("rankatt (new)", " (new)"), ("rankatt", ""), ("rankatt-crestscale", " (crest scale)"))
#: the comparisons of the issue: the full tracker against ...
AGAINST = ("rankatt-noranking", "rankatt-noattention", "crest", "deepdcf", "csrt")
SIZE_FROM = 50  # frames 51+ (0-based 50)


def _median(values: list[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else float("nan")


def validation_tables(root: Path) -> dict[str, list[dict[str, Any]]]:
    """split -> rows, one per reading with at least one finished sequence."""
    out: dict[str, list[dict[str, Any]]] = {}
    for label, rel in VALIDATION.items():
        folder = root / rel
        if not folder.is_dir():
            continue
        recs: dict[str, dict[str, dict[str, Any]]] = {}
        for reading in sorted(p for p in folder.iterdir() if p.is_dir()):
            r = {}
            for j in sorted(reading.glob("*.json")):
                if j.stem == "summary":
                    continue
                rec = json.loads(j.read_text())
                if rec.get("frames_requested") == 0 and (reading / f"{j.stem}.txt").is_file():
                    r[j.stem] = rec
            if r:
                recs[reading.name] = r
        rows = []
        for reading, r in recs.items():
            ref = reference_of(reading)
            base = recs.get(ref, {})
            row: dict[str, Any] = {
                "reading": reading,
                "sequences": len(r),
                "auc": float(np.mean([np.mean(x["success_curve"]) for x in r.values()])),
                "precision20": float(np.mean([x["precision_curve"][20] for x in r.values()])),
                "size_ratio_51": _median([v for x in r.values() for v in x.get("size_ratios_from_51", [])]),
                "top_changes_per_100": float(
                    100.0
                    * sum(x["top_changes"] for x in r.values())
                    / max(1, sum(len(x["activity"]["top_changed"]) for x in r.values()))
                ),
                "kernel_cos": _median([x["kernel_cos_mean"] for x in r.values()]),
            }
            common = [n for n in r if n in base]
            if reading != ref and common:
                d = paired_bootstrap(
                    {n: float(np.mean(r[n]["success_curve"])) for n in common},
                    {n: float(np.mean(base[n]["success_curve"])) for n in common},
                )
                row["vs_reference"] = {"reference": ref, "sequences": len(common), **_diff(d)}
            rows.append(row)
        out[label] = rows
    return out


def reference_of(reading: str) -> str:
    """What a reading is compared with: ``scale_<mode>_<x>`` with ``scale_<mode>`` (one switch more),
    ``scale_<mode>`` and the other readings with ``baseline``."""
    for mode in ("scale_attention", "scale_trend"):
        if reading.startswith(mode + "_"):
            return mode
    return "baseline"


def _diff(d: Any) -> dict[str, Any]:
    return {"mean": d.mean, "low": d.low, "high": d.high, "wins": d.wins, "losses": d.losses, "n": d.n_sequences}


def test_tables(root: Path, results: Path) -> dict[str, dict[str, Any]]:
    """benchmark -> {"trackers": rows, "comparisons": rows}; staged runs are named ``<tracker> (new)``."""
    out: dict[str, dict[str, Any]] = {}
    for bench, data in TEST.items():
        if not (root / data).is_dir():
            continue
        ds = OTBFormatDataset(root / data)
        n_all = len(ds.names)
        runs: dict[str, dict[str, np.ndarray]] = {}
        for label, base in (("", results), (" (new)", root / STAGING), (" (crest scale)", root / ARCHIVE)):
            folder = base / bench
            if not folder.is_dir():
                continue
            for t in sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != "report"):
                boxes = load_results(base, bench, t)
                boxes = {n: b for n, b in boxes.items() if n in ds.names and len(b) == len(ds[n].gt)}
                if boxes:
                    runs[t + label] = boxes
        scores: dict[str, dict[str, float]] = {}
        rows = []
        for t, boxes in runs.items():
            per = {n: score_sequence(b, ds[n].gt, "otb", name=n) for n, b in boxes.items()}
            scores[t] = {n: s.auc for n, s in per.items()}
            ratios = [v for n, b in boxes.items() for v in size_ratio(b, ds[n].gt)[SIZE_FROM:]]
            rows.append(
                {
                    "tracker": t,
                    "sequences": f"{len(boxes)}/{n_all}",
                    "complete": len(boxes) == n_all,
                    "auc": float(np.mean([s.auc for s in per.values()])),
                    "precision20": float(np.mean([s.precision for s in per.values()])),
                    "size_ratio_51": _median(ratios),
                }
            )
        comparisons = []
        for full, suffix in [g for g in GENERATIONS if g[0] in scores]:
            for other in AGAINST:
                # a variant of the tracker is compared within its generation (the same code); a
                # baseline that the change does not touch is compared as stored
                for cand in [other + suffix] if other.startswith("rankatt") else [f"{other} (new)", other]:
                    if cand in scores and cand != full:
                        common = [n for n in scores[full] if n in scores[cand]]
                        if len(common) >= 5:
                            d = paired_bootstrap(
                                {n: scores[full][n] for n in common}, {n: scores[cand][n] for n in common}
                            )
                            comparisons.append({"full": full, "against": cand, **_diff(d)})
                        break
        out[bench] = {"trackers": rows, "comparisons": comparisons}
    return out


def markdown(val: dict[str, list[dict[str, Any]]], test: dict[str, dict[str, Any]]) -> str:
    lines = ["# Mechanism study (issue #20): tables written by `data_scripts/mechanism_study.py`", ""]
    for split, rows in val.items():
        lines += [
            f"## Validation: {split}",
            "",
            "| reading | seq | AUC | P@20 | size ratio 51+ | c_1st changes /100 "
            "| ΔAUC vs its reference, paired [95 %] |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            d = r.get("vs_reference")
            ds = (
                f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] vs {d['reference']} over {d['n']} seq "
                f"({d['wins']} up, {d['losses']} down)"
                if d
                else "-"
            )
            lines.append(
                f"| {r['reading']} | {r['sequences']} | {r['auc']:.3f} | {r['precision20']:.3f} | "
                f"{r['size_ratio_51']:.3f} | {r['top_changes_per_100']:.1f} | {ds} |"
            )
        lines.append("")
    for bench, t in test.items():
        lines += [
            f"## Test: {bench} (otb protocol)",
            "",
            "| tracker | sequences | AUC | P@20 | size ratio 51+ |",
            "|---|---|---|---|---|",
        ]
        for r in sorted(t["trackers"], key=lambda r: -r["auc"]):
            lines.append(
                f"| {r['tracker']} | {r['sequences']} | {r['auc']:.3f} | {r['precision20']:.3f} "
                f"| {r['size_ratio_51']:.3f} |"
            )
        if t["comparisons"]:
            lines += [
                "",
                "| full | against | ΔAUC (full - other) | 95 % interval | up / down | sequences |",
                "|---|---|---|---|---|---|",
            ]
            for c in t["comparisons"]:
                lines.append(
                    f"| {c['full']} | {c['against']} | {c['mean']:+.3f} | [{c['low']:+.3f}, {c['high']:+.3f}] | "
                    f"{c['wins']} / {c['losses']} | {c['n']} |"
                )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", default=str(ROOT / "results"), help="the stored results root")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    val = validation_tables(ROOT)
    test = test_tables(ROOT, Path(args.results))
    md = markdown(val, test)
    print(md)
    if not args.no_write:
        out = ROOT / STAGING
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "summary.json", json.dumps({"validation": val, "test": test}, indent=1) + "\n")
        atomic_write_text(out / "summary.md", md + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
