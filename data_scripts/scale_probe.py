"""Which scale does each signal pick on frame 1 fed again, magnified? (issue #20, the scale bias).

For each probed validation sequence the tracker is initialised on frame 1 and then given frame 1
again, magnified 1, 1.05 or 1/1.05 times about the target (:func:`rankatt_lib.features.geometry.magnify`),
so the right answer is scale 1, 1.05 or 0.95. Two signals are read from the same step: the parts'
combined peak (``scale_normalisation="none"``, the CREST-style comparison) and the attention
kernel's peak (``"attention"``, :func:`rankatt_lib.trackers.rankatt.kernel_scale_scores`).

Writes ``results/readings/scale_probe.csv`` (one row per sequence and magnification: the scores of
scales 1 / 0.95 / 1.05 relative to scale 1's, for both signals, and the scale each picks) and
prints how often each signal picks the right scale. ~3 s per row on one CPU core::

    python data_scripts/scale_probe.py
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rankatt_lib.data import OTBFormatDataset  # noqa: E402
from rankatt_lib.features.geometry import box_to_center, magnify  # noqa: E402
from rankatt_lib.trackers.rankatt import RankingAttentionTracker, kernel_scale_scores  # noqa: E402

#: (split folder, sequences): 4 held-out synthetic training sequences and 4 real-photo validation ones
PROBED = (
    ("data/synthetic/train", ("syn_train_002", "syn_train_003", "syn_train_004", "syn_train_011")),
    ("data/photo/val", ("photo_val_000", "photo_val_001", "photo_val_003", "photo_val_005")),
)
MAGNIFICATIONS = (1.0, 1.05, 1 / 1.05)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "results" / "readings" / "scale_probe.csv"))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for folder, names in PROBED:
        if not (ROOT / folder).is_dir():
            raise SystemExit(f"{folder}: missing; generate it with `rankatt synthetic` / `rankatt photo`")
        ds = OTBFormatDataset(ROOT / folder, names=list(names))
        for name in names:
            seq = ds[name]
            img, g = seq.image(0), seq.gt[0]
            centre = box_to_center(g)[:2]
            for mag in MAGNIFICATIONS:
                tr = RankingAttentionTracker(device="cpu")  # the raw part peaks choose the scale
                tr.init(img, g)
                tr.update(img if mag == 1.0 else magnify(img, centre, mag))
                last = tr.last
                scales = np.asarray(tr.config.search.scales, dtype=np.float64)
                parts = np.asarray(last.peaks, dtype=np.float64)
                kernel = kernel_scale_scores(last.attention).double().numpy()
                right = float(scales[np.argmin(np.abs(np.log(scales) - np.log(mag)))])
                rows.append(
                    {
                        "sequence": name,
                        "magnification": round(mag, 4),
                        "right_scale": right,
                        **{f"parts_{s:g}": round(float(v / parts[0]), 4) for s, v in zip(scales, parts, strict=True)},
                        "parts_pick": float(scales[int(np.argmax(parts))]),
                        **{
                            f"kernel_{s:g}": round(float(v / kernel[0]), 4) for s, v in zip(scales, kernel, strict=True)
                        },
                        "kernel_pick": float(scales[int(np.argmax(kernel))]),
                    }
                )
                r = rows[-1]
                print(
                    f"{name} x{mag:.3f}: right {right}, parts pick {r['parts_pick']}, kernel pick {r['kernel_pick']}",
                    flush=True,
                )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for mag in MAGNIFICATIONS:
        sel = [r for r in rows if r["magnification"] == round(mag, 4)]
        print(
            f"magnified x{mag:.3f} (right scale {sel[0]['right_scale']}): parts right on "
            f"{sum(r['parts_pick'] == r['right_scale'] for r in sel)}/{len(sel)}, attention kernel right on "
            f"{sum(r['kernel_pick'] == r['right_scale'] for r in sel)}/{len(sel)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
