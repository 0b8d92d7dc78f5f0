"""The ranking, frame by frame, on one sequence: which kernel is :math:`c^{(1st)}_t` (issue #20).

The paper's Fig. 1 says what the ranking is for: the N kernels are scored against the current
frame (PNR, Eq. 1-2), the best one is kept through an occlusion and the worst is refreshed. This
script runs the ranking-attention tracker over one sequence and records, for every frame t >= 2:

* ``order``: the permutation of Eq. 3 (new slot j held kernel ``order[j]`` before);
* ``scores``: the N PNR scores in the new order (non-increasing);
* ``born``: the frame on which the kernel now in each slot was written (1 = a copy of
  :math:`h_0`), so ``born[0]`` is the frame :math:`c^{(1st)}_t` comes from; ``top_changed``:
  ``order[0] != 0``, the best kernel is not last frame's;
* ``born_after`` and ``cos_h0``: the same bookkeeping for the ranking *after* the frame's update
  (the new kernel in the last slot), and the cosine of each of those kernels to :math:`h_0`;
* ``peak``, ``scale`` and the box;
* ``occlusion``: the share of the target covered by occluders, re-rendered from the generator's
  plan (real-photo benchmark only; ``None`` on other data).

It writes ``<out>/<tracker>_<sequence>.json`` atomically (the whole trace; a rerun overwrites it:
~1-2 s a frame on one CPU core). The chapter reads it and checks it against the stored benchmark
run of the same tracker, so it tracks nothing itself::

    python data_scripts/ranking_trace.py --dataset data/photo/test --sequence photo_test_013
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rankatt_lib.data import OTBFormatDataset  # noqa: E402
from rankatt_lib.evaluation.results import atomic_write_text  # noqa: E402
from rankatt_lib.evaluation.run import parse_option  # noqa: E402
from rankatt_lib.registry import make_tracker  # noqa: E402


def photo_occlusion(dataset: Path, name: str, gt: np.ndarray) -> list[float] | None:
    """Per-frame occluded share of the target of a real-photo benchmark sequence, for the frames of
    ``gt`` (its stored ground truth, ``(n, 4)``): re-rendered from the generator's plan and checked
    against ``gt``; ``None`` for other data."""
    meta_path = dataset.parent / "meta.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("generator") != "rankatt_lib.data.photoseq":
        return None
    from rankatt_lib.data.photoseq import iter_frames, plan_photo_benchmark

    split = dataset.name
    records = [r for r in meta.get("splits", {}).get(split, []) if r.get("name") == name]
    if not records:
        raise SystemExit(f"{name}: not in {meta_path}'s {split} split")
    index, n_frames = int(name.rsplit("_", 1)[1]), int(records[0]["n_frames"])
    # sequence i's plan depends on (seed, split, i, its length, image size) only, not on the split's size
    counts = {f"n_{sp}": (index + 1 if sp == split else 0) for sp in ("test", "val", "train")}
    specs = plan_photo_benchmark(
        int(meta["seed"]),
        split,
        length_range=(n_frames, n_frames),
        image_size=tuple(meta["image_size"]),
        **counts,
    )
    specs = [s for s in specs if s.name == name]
    occ = []
    for t, frame in enumerate(iter_frames(specs[0])):
        if t >= len(gt):
            break
        if not np.allclose(frame.box, gt[t], atol=1e-6):
            raise SystemExit(f"{name} frame {t + 1}: the re-rendered box differs from {dataset / name}")
        occ.append(round(float(frame.occlusion), 4))
    return occ


def trace(seq: Any, tracker: Any, frames: int = 0, on_frame: Callable[..., None] | None = None) -> dict[str, Any]:
    """Run ``tracker`` (a :class:`~rankatt_lib.trackers.rankatt.RankingAttentionTracker`) over the
    first ``frames`` frames of ``seq`` (0: all) and record its ranking, frame by frame.

    ``on_frame(frame, tracker, born)``, when given, is called after every frame (1-based, 1 = init)
    with the frame each of the ranking's slots was written on, in slot order.
    """
    n = len(seq) if frames <= 0 else min(frames, len(seq))
    tracker.init(seq.image(0), seq.gt[0])
    h0 = tracker.h0.reshape(-1).double()

    def cos_h0(kernels: torch.Tensor) -> list[float]:
        flat = kernels.reshape(kernels.shape[0], -1).double()
        return [round(float(v), 5) for v in (flat @ h0) / (flat.norm(dim=1) * h0.norm()).clamp_min(1e-30)]

    born = [1] * tracker.ranking.n
    if on_frame is not None:
        on_frame(1, tracker, list(born))
    rows: list[dict[str, Any]] = []
    boxes = [seq.gt[0].tolist()]
    t0 = time.perf_counter()
    for i in range(1, n):
        box = tracker.update(seq.image(i))
        boxes.append([float(v) for v in box])
        last = tracker.last
        row: dict[str, Any] = {"frame": i + 1, "peak": float(last.peak_value), "scale": float(last.scale)}
        if last.order is not None:
            order = [int(o) for o in last.order]
            born = [born[o] for o in order]
            row.update(
                order=order,
                scores=[round(float(s), 4) for s in last.scores],
                born=list(born),
                top_changed=order[0] != 0,
            )
        # Eq. 6: the new cell state replaced the worst (last) slot, or was appended
        if len(born) < tracker.ranking.n:
            born.append(i + 1)
        elif last.order is not None and tracker.config.use_ranking:
            born[-1] = i + 1
        row["born_after"] = list(born)
        row["cos_h0"] = cos_h0(tracker.ranking.kernels)
        rows.append(row)
        if on_frame is not None:
            on_frame(i + 1, tracker, list(born))
    return {
        "sequence": seq.name,
        "frames": n,
        "seconds": round(time.perf_counter() - t0, 1),
        "n_kernels": tracker.ranking.n,
        "boxes": boxes,
        "per_frame": rows,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="data/photo/test", help="an OTB-format folder")
    ap.add_argument("--sequence", default="photo_test_013")
    ap.add_argument("--tracker", default="rankatt", help="a registered rankatt variant")
    ap.add_argument("--option", action="append", default=[], help="key=value tracker option (repeatable)")
    ap.add_argument("--frames", type=int, default=0, help="frames 1..N (0: all)")
    ap.add_argument("--out", default=str(ROOT / "results" / "issue20" / "ranking_trace"))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    dataset = Path(args.dataset)
    if not (dataset / args.sequence).is_dir():
        raise SystemExit(f"{dataset / args.sequence}: no such sequence folder")
    seq = OTBFormatDataset(dataset, names=[args.sequence])[args.sequence]
    try:
        options = dict(parse_option(o) for o in args.option)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    rec = trace(seq, make_tracker(args.tracker, device="cpu", **options), args.frames)
    rec.update(tracker=args.tracker, options=options, dataset=str(dataset))
    rec["occlusion"] = photo_occlusion(dataset.resolve(), args.sequence, seq.gt[: rec["frames"]])
    out = Path(args.out) / f"{args.tracker}_{args.sequence}.json"
    atomic_write_text(out, json.dumps(rec, indent=1) + "\n")
    changes = sum(bool(r.get("top_changed")) for r in rec["per_frame"])
    print(f"{out}: {rec['frames']} frames in {rec['seconds']} s; c_1st changed on {changes} frames")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
