"""The whole benchmark: its README, generation (parallel, resumable), and the command line."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from rankatt_lib.data.synthetic.render import write_sequence
from rankatt_lib.data.synthetic.spec import (
    ATTRIBUTES,
    GENERATOR_VERSION,
    IMAGE_SIZE,
    JPEG_QUALITY,
    SequenceSpec,
    _splits,
    plan_benchmark,
)

__all__ = ['add_generation_options', 'make_synthetic_benchmark', 'ensure_benchmark', 'main']


# --------------------------------------------------------------------------------------------------
# The whole benchmark

_README = """\
rankatt synthetic tracking benchmark (OTB format)
=================================================

Procedurally generated video sequences for visual object tracking, written by
rankatt_lib.data.synthetic (generator version {version}) with seed {seed}. NOT the OTB benchmark:
only its file layout and attribute codes are borrowed, so that every OTB tool reads it.

Layout
  <split>/<SEQ>/img/0001.jpg ...     frames, {w}x{h} RGB, JPEG quality {q}
  <split>/<SEQ>/groundtruth_rect.txt one "x,y,w,h" line per frame, 1-based pixels (OTB)
  <split>/<SEQ>/attributes.txt       comma-separated OTB attribute codes
  meta.json                          seed, version, per-sequence attributes and statistics

Splits: "test" (evaluation) and "train" (for learning / tuning); they are disjoint (every
sequence has its own random stream; backgrounds, targets and motions all differ).

Ground truth: the tight box of the target's unoccluded alpha mask; clipped to the image when
the target is partly out of view; the row is 0,0,0,0 when the target is entirely out of view
(an invalid ground-truth row for every evaluation protocol). Frame 1 is always fully visible.

Attributes: IV SV OCC DEF MB FM IPR OPR OV BC LR, as defined for OTB (Wu et al., 2015). Each
sequence is designed around 2-4 of them; FM, SV, LR, OV, OCC and MB are also measured from the
ground truth with the OTB thresholds and tagged whenever they occur.

Regenerate with:  python data_scripts/make_synthetic_otb.py --out <dir> --seed {seed}
"""


def make_synthetic_benchmark(
    root: str | Path,
    seed: int = 0,
    split: str = "both",
    *,
    n_test: int = 20,
    n_train: int = 40,
    length_range: tuple[int, int] = (60, 150),
    image_size: tuple[int, int] = IMAGE_SIZE,
    progress: bool = True,
    workers: int = 1,
) -> dict[str, Any]:
    """Generate the synthetic benchmark under ``root`` (``root/test/SEQ``, ``root/train/SEQ``).

    Args:
        root: output folder (created).
        seed: benchmark seed; the same seed always gives the same benchmark.
        split: ``"test"``, ``"train"`` or ``"both"``.
        n_test, n_train: sequences per split (defaults 20 and 40).
        length_range: inclusive frame-count range of a sequence.
        image_size: ``(width, height)``.
        progress: show a tqdm progress bar.
        workers: processes rendering sequences in parallel (the output does not depend on it).

    Returns:
        The metadata also written to ``root/meta.json``: seed, version, and for every split the
        list of sequences with their attributes and statistics. ``root/README.txt`` describes the
        benchmark. Metadata of a split generated earlier with the same seed and version (and not
        regenerated now) is kept; sequences of a regenerated split that are no longer planned
        (an earlier run with a larger ``n_test``/``n_train``) are removed.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    specs = plan_benchmark(
        seed, split, n_test=n_test, n_train=n_train, length_range=length_range, image_size=image_size
    )
    jobs = [(s, root / s.split) for s in specs]
    from tqdm.auto import tqdm

    bar = tqdm(total=sum(s.n_frames for s in specs), unit="frame", desc="synthetic benchmark", disable=not progress)
    results: list[dict[str, Any]] = []
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            for spec, res in zip(specs, pool.map(_write_job, jobs), strict=True):
                results.append(res)
                bar.update(spec.n_frames)
    else:
        for job in jobs:
            results.append(_write_job(job))
            bar.update(job[0].n_frames)
    bar.close()
    # sequences of an earlier, larger generation into the same folder would be read as part of it
    for sp in _splits(split):
        planned = {s.name for s in specs if s.split == sp}
        for d in (root / sp).iterdir():
            if d.is_dir() and re.fullmatch(rf"syn_{sp}_\d+", d.name) and d.name not in planned:
                shutil.rmtree(d)

    meta: dict[str, Any] = {
        "name": "rankatt synthetic tracking benchmark",
        "format": "OTB",
        "generator": "rankatt_lib.data.synthetic",
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "image_size": list(image_size),
        "jpeg_quality": JPEG_QUALITY,
        "ground_truth": "1-based x,y,w,h; clipped to the image when partly out of view; 0,0,0,0 when fully out of view",
        "attributes": list(ATTRIBUTES),
        "splits": {},
    }
    old_path = root / "meta.json"
    if old_path.exists():
        try:
            old = json.loads(old_path.read_text())
            if old.get("seed") == seed and old.get("generator_version") == GENERATOR_VERSION:
                meta["splits"].update(old.get("splits", {}))
        except (json.JSONDecodeError, OSError):
            pass
    for sp in _splits(split):
        meta["splits"][sp] = [r for r in results if r["split"] == sp]
    tmp = root / ".meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1) + "\n")
    tmp.replace(old_path)
    (root / "README.txt").write_text(
        _README.format(version=GENERATOR_VERSION, seed=seed, w=image_size[0], h=image_size[1], q=JPEG_QUALITY)
    )
    return meta


def _write_job(job: tuple[SequenceSpec, Path]) -> dict[str, Any]:
    spec, folder = job
    return write_sequence(spec, folder)


def ensure_benchmark(
    root: str | Path,
    split: str = "test",
    seed: int = 0,
    progress: bool = False,
) -> Path:
    """Return ``root/split``, generating the benchmark there first if it is missing or stale.

    Stale means ``root/meta.json`` records another seed or generator version, or lacks ``split``:
    chapters and stored results refer to one exact benchmark, so a mismatch is regenerated rather
    than silently used. Generating the test split takes about 10 s on a 2-core CPU.
    """
    root = Path(root)
    meta_path = root / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        fresh = (
            meta.get("seed") == seed
            and meta.get("generator_version") == GENERATOR_VERSION
            and split in meta.get("splits", {})
            and (root / split).is_dir()
        )
        if fresh:
            return root / split
        # Keep the other split if it is still current, regenerate both otherwise.
        if meta.get("seed") == seed and meta.get("generator_version") == GENERATOR_VERSION:
            kept = set(meta.get("splits", {})) | {split}
            split_arg = "both" if kept >= {"test", "train"} else split
        else:
            split_arg = split
    else:
        split_arg = split
    make_synthetic_benchmark(root, seed=seed, split=split_arg, progress=progress)
    return root / split


def add_generation_options(ap: Any, frames: tuple[int, int]) -> None:
    """The options every benchmark generator's command line has (``rankatt synthetic``,
    ``rankatt photo``): ``--frames MIN MAX`` (default ``frames``), ``--size W H``, ``--workers``,
    ``--no-progress``."""
    ap.add_argument(
        "--frames",
        type=int,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=frames,
        help=f"frames per sequence, inclusive range (default {frames[0]} {frames[1]})",
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


def main(argv: list[str] | None = None) -> int:
    """``rankatt synthetic`` (and ``data_scripts/make_synthetic_otb.py``): parse the command line,
    generate, print a summary; returns the exit status."""
    import argparse
    import time

    ap = argparse.ArgumentParser(
        prog="rankatt synthetic",
        description="Generate rankatt's synthetic tracking benchmark in the OTB format "
        "(OUT/test/<SEQ>/img/0001.jpg, groundtruth_rect.txt, attributes.txt; OUT/meta.json). "
        "The same seed always gives the same benchmark.",
    )
    ap.add_argument("--out", default="data/synthetic", help="output folder (default data/synthetic)")
    ap.add_argument("--seed", type=int, default=0, help="benchmark seed (default 0)")
    ap.add_argument("--split", choices=("test", "train", "both"), default="both", help="default both")
    ap.add_argument("--n-test", type=int, default=20, help="sequences in the test split (default 20)")
    ap.add_argument("--n-train", type=int, default=40, help="sequences in the train split (default 40)")
    add_generation_options(ap, frames=(60, 150))
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
