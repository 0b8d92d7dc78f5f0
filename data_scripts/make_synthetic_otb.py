#!/usr/bin/env python
"""Generate rankatt's synthetic tracking benchmark in the OTB format.

Examples::

    python data_scripts/make_synthetic_otb.py --out data/synthetic --seed 0          # both splits
    python data_scripts/make_synthetic_otb.py --out data/synthetic --split test
    python data_scripts/make_synthetic_otb.py --out /tmp/tiny --n-test 3 --n-train 0 --frames 20 30

The output is ``OUT/test/<SEQ>/...`` and ``OUT/train/<SEQ>/...`` (``img/0001.jpg``,
``groundtruth_rect.txt``, ``attributes.txt``) plus ``OUT/README.txt`` and ``OUT/meta.json``.
The same seed always gives the same benchmark. The work is done by
:func:`rankatt_lib.synthetic.make_synthetic_benchmark`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

try:
    from rankatt_lib.synthetic import IMAGE_SIZE, make_synthetic_benchmark
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from rankatt_lib.synthetic import IMAGE_SIZE, make_synthetic_benchmark


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, generate, print a summary; returns the exit status."""
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default="data/synthetic", help="output folder (default data/synthetic)")
    ap.add_argument("--seed", type=int, default=0, help="benchmark seed (default 0)")
    ap.add_argument("--split", choices=("test", "train", "both"), default="both", help="default both")
    ap.add_argument("--n-test", type=int, default=20, help="sequences in the test split (default 20)")
    ap.add_argument("--n-train", type=int, default=40, help="sequences in the train split (default 40)")
    ap.add_argument(
        "--frames",
        type=int,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=(60, 150),
        help="frames per sequence, inclusive range (default 60 150)",
    )
    ap.add_argument(
        "--size",
        type=int,
        nargs=2,
        metavar=("W", "H"),
        default=IMAGE_SIZE,
        help=f"frame size (default {IMAGE_SIZE[0]} {IMAGE_SIZE[1]})",
    )
    ap.add_argument("--workers", type=int, default=1, help="parallel processes (same output; default 1)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    if args.n_test < 0 or args.n_train < 0 or args.workers < 1:
        ap.error("--n-test/--n-train must be >= 0 and --workers >= 1")

    t0 = time.perf_counter()
    meta = make_synthetic_benchmark(
        args.out,
        seed=args.seed,
        split=args.split,
        n_test=args.n_test,
        n_train=args.n_train,
        length_range=tuple(args.frames),
        image_size=tuple(args.size),
        progress=not args.no_progress,
        workers=args.workers,
    )
    dt = time.perf_counter() - t0
    for split, seqs in meta["splits"].items():
        frames = sum(s["n_frames"] for s in seqs)
        print(f"{split}: {len(seqs)} sequences, {frames} frames")
    print(f"wrote {args.out} (seed {args.seed}, generator {meta['generator_version']}) in {dt:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
