#!/usr/bin/env python
"""Train the ranking updater (PreNet + ConvLSTM) offline with Eq. 9, N = 1 (paper §2.1, §3.1).

The command line is ``rankatt train`` (also ``python -m rankatt_lib train``;
``data_scripts/train_ranking.py`` is the same command under its old name).

Examples::

    # the checkpoint shipped with the library (synthetic training split, 160 clips: about 20 min
    # of feature caching and 13 min of training on a shared 2-core CPU)
    rankatt train --data data/synthetic/train \\
        --out rankatt_lib/checkpoints/ranking_synthetic.pt --name ranking_synthetic_cn \\
        --epochs 12 --device cpu --gate-biases -3 6 6

    # continue an interrupted run: the same command with --resume (a larger --epochs extends it;
    # the cosine schedule is then recomputed for the new total)
    rankatt train --data data/synthetic/train \\
        --out rankatt_lib/checkpoints/ranking_synthetic.pt --name ranking_synthetic_cn \\
        --epochs 12 --device cpu --gate-biases -3 6 6 --resume

    # the paper's training data: UAV123 + TC128 (any OTB-format folders; --data repeats).
    # Convert them to the OTB layout first (SEQ/img/*.jpg + SEQ/groundtruth_rect.txt) and leave out
    # the sequences that overlap OTB (the paper: "the overlap sequences with the test set are
    # eliminated in advance"), e.g. into data/train_otb/{uav123,tc128}; then, on a GPU:
    rankatt train --data data/train_otb/uav123 --data data/train_otb/tc128 \\
        --out checkpoints/ranking_uav123_tc128.pt --epochs 30 --device cuda --gate-biases -3 6 6 \\
        --clips-per-sequence 10 --batch-size 16 --lr 3e-4 --cache data/cache/ranking_features
    # (UAV123 + TC128 have ~250 sequences: 10 clips each is ~2,500 clips, 20,000 frames and ~20 GB
    # of float16 features, on disk in the cache and in host memory while training, which holds
    # every clip; the backbone pass over them dominates the first run)

    # how many CG iterations the frame-1 kernel h0 needs (writes results/training/init_kernel_sweep.csv)
    rankatt train --data data/synthetic/train --sweep-init

What it does (the library code is :mod:`rankatt_lib.training` and :mod:`rankatt_lib.components.init_kernel`):

1. cuts clips of ``--clip-length`` frames, ``--frame-step`` apart, ``--clips-per-sequence`` per
   sequence (frames with invalid ground truth are never used), crops every frame around the
   previous frame's ground-truth centre (search side 2.9 x sqrt(w h), 255 px patch), runs the frozen
   VGG16 once per frame and caches conv4_3 in float16 under ``--cache`` (one file per clip;
   cached clips are skipped, so an interrupted run resumes);
2. holds out ``--val-fraction`` of the *sequences* for validation (the test split is never read),
   computes h0 on frame 1 of every clip (CG on Eq. 9) and the baselines (zero kernel, h0 kept
   fixed, the untrained updater);
3. trains with Adam and backpropagation through time over each clip, writing the full training
   state after every epoch to ``--state`` (default ``data/runs/<name>/state.pt``; ``--resume``
   continues from it), and the loss curves to ``--results`` (``<name>_history.csv``,
   ``<name>.json``, ``<name>_loss.png``) as it goes;
4. saves the model with the best validation loss as a float16 checkpoint at ``--out``
   (:meth:`rankatt_lib.components.convlstm.RankingUpdater.save`, a few MB) and a JSON record of how it was
   trained next to it (``--out`` with ``.json``).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from rankatt_lib import device as pick_device
from rankatt_lib.components.convlstm import RankingUpdater
from rankatt_lib.components.init_kernel import DEFAULT_INIT_ITERS, DEFAULT_SIGMA_FACTOR
from rankatt_lib.data.otb import OTBFormatDataset
from rankatt_lib.features.vgg16 import VGG16Features
from rankatt_lib.training.clips import (
    ClipConfig,
    cache_clip_features,
    cache_path,
    load_clip,
    prepare_clips,
    select_clips,
    split_by_sequence,
)
from rankatt_lib.training.loop import TrainConfig, sweep_init_iters, train
from rankatt_lib.training.unroll import evaluate, evaluate_refit


def _default_threads() -> int:
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def build_parser() -> argparse.ArgumentParser:
    """The command line (see the module docstring)."""
    ap = argparse.ArgumentParser(
        prog="rankatt train",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="",
    )
    ap.add_argument(
        "--data", action="append", required=True, metavar="DIR", help="OTB-format folder of sequences (repeatable)"
    )
    ap.add_argument(
        "--out",
        default="checkpoints/ranking_updater.pt",
        help="final float16 checkpoint (.pt; default checkpoints/ranking_updater.pt: the shipped one, "
        "rankatt_lib/checkpoints/ranking_synthetic.pt, is only replaced when named)",
    )
    ap.add_argument("--name", default=None, help="run name for the results and state files (default: --out's stem)")
    ap.add_argument("--epochs", type=int, default=8, help="total epochs (default 8)")
    ap.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: cuda when available)")
    ap.add_argument("--resume", action="store_true", help="continue from the training state file")
    ap.add_argument("--restart", action="store_true", help="discard an existing training state and start again")
    ap.add_argument(
        "--cache",
        default="data/cache/ranking_features",
        help="feature cache folder (default data/cache/ranking_features)",
    )
    ap.add_argument("--state", default=None, help="training state file (default data/runs/<name>/state.pt)")
    ap.add_argument(
        "--results",
        default="results/training",
        help="folder of the loss curves (CSV/JSON/PNG; default results/training)",
    )
    ap.add_argument("--clip-length", type=int, default=8, help="frames per clip T (default 8)")
    ap.add_argument("--frame-step", type=int, default=2, help="frames between clip frames (default 2)")
    ap.add_argument("--clips-per-sequence", type=int, default=4, help="clips per sequence (default 4)")
    ap.add_argument("--search-area-factor", type=float, default=2.9, help="search side / sqrt(w h) (default 2.9)")
    ap.add_argument("--val-fraction", type=float, default=0.2, help="share of sequences held out (default 0.2)")
    ap.add_argument("--seed", type=int, default=0, help="init, split and batch order (default 0)")
    ap.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    ap.add_argument(
        "--lr-schedule", choices=("cosine", "constant"), default="cosine", help="per-step lr schedule (default cosine)"
    )
    ap.add_argument(
        "--no-reverse",
        action="store_true",
        help="no time-reversal augmentation (by default each clip is played backwards with probability 1/2)",
    )
    ap.add_argument(
        "--train-eval-clips",
        type=int,
        default=32,
        help="training clips on which the per-epoch train loss is measured (default 32; 0 = all)",
    )
    ap.add_argument("--batch-size", type=int, default=2, help="clips per step (default 2)")
    ap.add_argument("--grad-clip", type=float, default=1.0, help="max gradient norm, 0 = off (default 1.0)")
    ap.add_argument("--lam1", type=float, default=1e-10, help="lambda1 of Eq. 9 (default 1e-10)")
    ap.add_argument("--sigma-factor", type=float, default=DEFAULT_SIGMA_FACTOR, help="label sigma / target (0.1)")
    ap.add_argument("--init-iters", type=int, default=DEFAULT_INIT_ITERS, help="CG iterations of h0")
    ap.add_argument(
        "--ranking-n",
        type=int,
        default=1,
        help="train with the N-kernel ranking in the loop (a sketch, issue #20; default 1 = the paper's N = 1)",
    )
    ap.add_argument("--ranking-init", choices=("copies", "first_frames"), default="copies", help="with --ranking-n > 1")
    ap.add_argument(
        "--cell-input", choices=("best", "carried"), default="best", help="with --ranking-n > 1: the cell's input state"
    )
    ap.add_argument(
        "--gate-biases",
        type=float,
        nargs=3,
        metavar=("INPUT", "FORGET", "OUTPUT"),
        default=None,
        help="initial ConvLSTM gate biases (RankingUpdaterConfig's default is -3 3 3; the shipped checkpoint "
        "used -3 6 6, a near-identity initial update, which trained better on the synthetic split)",
    )
    ap.add_argument(
        "--cell-norm",
        choices=("input", "none"),
        default="input",
        help="rescale the ConvLSTM's new cell state to the input kernel's norm ('input', default: keeps every "
        "kernel at h0's norm) or not ('none': Eq. 6 as printed; the kernels' norm can grow without bound)",
    )
    ap.add_argument("--weights", default="auto", help="VGG16 weights source (default auto)")
    ap.add_argument("--threads", type=int, default=_default_threads(), help="torch CPU threads")
    ap.add_argument("--no-refit", action="store_true", help="skip the refit oracle on the validation clips")
    ap.add_argument("--sweep-init", action="store_true", help="only sweep the CG iterations of h0 and exit")
    ap.add_argument(
        "--sweep-clips", type=int, default=32, help="training clips the sweep uses (evenly spaced; default 32)"
    )
    ap.add_argument("--no-progress", action="store_true", help="no progress bars")
    return ap


def _rel(path: Path) -> str:
    p = path.resolve()
    try:
        return str(p.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(tmp, path)


def write_history_csv(path: Path, history: list[dict[str, Any]]) -> None:
    """One row per epoch: epoch, train/val losses (raw Eq. 9 and relative to the zero kernel), seconds."""
    cols = [
        "epoch",
        "train_loss_running",
        "train_loss",
        "train_rel",
        "val_loss",
        "val_rel",
        "grad_norm_median",
        "seconds",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for e in history:
            w.writerow([e.get(c, "") for c in cols])
    os.replace(tmp, path)


def plot_curves(path: Path, history: list[dict[str, Any]], baselines: dict[str, Any], final: dict[str, Any]) -> None:
    """The loss-curve PNG: relative Eq. 9 per epoch with the baselines, and per update step."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    ep = [e["epoch"] for e in history]
    if history:
        ax1.plot(ep, [e["train_rel"] for e in history], "o-", label="train (trained)")
        if "val_rel" in history[0]:
            ax1.plot(ep, [e["val_rel"] for e in history], "s-", label="val (trained)")
    styles = {"fixed": ("k", "--", "h0 kept fixed"), "untrained": ("tab:red", ":", "untrained updater")}
    for split, ls_alpha in (("train", 0.4), ("val", 1.0)):
        base = baselines.get("train_eval", baselines.get("train", {})) if split == "train" else baselines.get(split, {})
        for key, (color, ls, label) in styles.items():
            b = base.get(key)
            if b is not None:
                ax1.axhline(b["rel"], color=color, ls=ls, alpha=ls_alpha, label=f"{split}: {label}")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("Eq. 9 / Eq. 9 of the zero kernel")
    ax1.set_title("offline training (N = 1)")
    ax1.legend(fontsize=7)
    ax1.grid(alpha=0.3)
    val = final.get("val", {})
    for key, label in (
        ("fixed", "h0 kept fixed"),
        ("untrained", "untrained"),
        ("trained", "trained"),
        ("refit", "refit on t-1 (oracle)"),
    ):
        r = val.get(key)
        if r is not None:
            ax2.plot(range(2, 2 + len(r["per_step"])), r["per_step"], "o-", label=label)
    ax2.set_xlabel("clip frame t")
    ax2.set_ylabel("Eq. 9 (validation clips)")
    ax2.set_title("loss per update step")
    if ax2.lines:
        ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    """Parse, cache, train, save; returns the exit status."""
    ap = build_parser()
    args = ap.parse_args(argv)
    roots = [Path(d) for d in args.data]
    for r in roots:
        if not r.is_dir():
            ap.error(
                f"--data {r}: no such folder (expected OTB-format sequences: SEQ/img/*.jpg, SEQ/groundtruth_rect.txt)"
            )
    if args.epochs < 0 or args.batch_size < 1 or args.threads < 1:
        ap.error("--epochs must be >= 0, --batch-size and --threads >= 1")
    if args.resume and args.restart:
        ap.error("--resume and --restart exclude each other")
    torch.set_num_threads(args.threads)
    dev = pick_device(args.device)
    out = Path(args.out)
    name = args.name or out.stem
    state_path = Path(args.state) if args.state else Path("data/runs") / name / "state.pt"
    if state_path.is_file() and not (args.resume or args.restart or args.sweep_init):
        ap.error(f"{state_path} exists: pass --resume to continue that run or --restart to start again")
    if args.restart and state_path.is_file():
        state_path.unlink()
    results = Path(args.results)
    run_json = state_path.parent / "run.json"
    run_info: dict[str, Any] = json.loads(run_json.read_text()) if (args.resume and run_json.is_file()) else {}
    progress = not args.no_progress
    log = print

    clip_cfg = ClipConfig(
        length=args.clip_length,
        frame_step=args.frame_step,
        clips_per_sequence=args.clips_per_sequence,
        search_area_factor=args.search_area_factor,
    )
    try:
        datasets = [OTBFormatDataset(r) for r in roots]
    except Exception as exc:  # noqa: BLE001 - turned into a clear command-line error
        ap.error(f"cannot read --data: {exc}")
    specs = [s for ds in datasets for s in select_clips(ds, clip_cfg)]
    if not specs:
        ap.error("no clips: no sequence has enough consecutive frames with valid ground truth")
    log(f"{len(specs)} clips of {clip_cfg.length} frames from {sum(len(d) for d in datasets)} sequences")

    # 1. features
    t0 = time.perf_counter()
    backbone = VGG16Features(weights=args.weights, layers=(clip_cfg.layer,), device=dev)
    tag = f"{backbone.source}:{backbone.convention}:ceil{int(backbone.ceil_mode)}"
    missing = sum(not cache_path(args.cache, s, clip_cfg, tag).is_file() for s in specs)
    log(f"backbone: {backbone.source_detail}; {missing} of {len(specs)} clips to cache in {args.cache}")
    paths = cache_clip_features(backbone, specs, clip_cfg, args.cache, progress=progress)
    del backbone
    cache_s = time.perf_counter() - t0
    run_info["caching_s"] = run_info.get("caching_s", 0.0) + cache_s
    run_info.setdefault("cached_clips_computed", 0)
    run_info["cached_clips_computed"] += missing
    if not args.sweep_init:  # the sweep is not a training run: leave the run's records alone
        state_path.parent.mkdir(parents=True, exist_ok=True)
        _write_json(run_json, run_info)

    # 2. clips, split, h0, baselines
    t0 = time.perf_counter()
    clips = [load_clip(p) for p in paths]
    train_c, val_c = split_by_sequence(clips, args.val_fraction, args.seed)
    common = {"kernel_size": 11, "lam1": args.lam1, "sigma_factor": args.sigma_factor, "device": dev}
    if args.sweep_init:
        pick = sorted({round(i * (len(train_c) - 1) / max(args.sweep_clips - 1, 1)) for i in range(args.sweep_clips)})
        prep = prepare_clips([train_c[i] for i in pick], init_iters=1, **common)
        rows = sweep_init_iters(prep, [1, 2, 3, 5, 10, 20, 50, 100], lam1=args.lam1, device=dev)
        sweep_csv = results / "init_kernel_sweep.csv"
        sweep_csv.parent.mkdir(parents=True, exist_ok=True)
        with open(sweep_csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        for r in rows:
            log(
                f"iters {r['iters']:4d}: frame-1 fit rel {r['fit_rel']:.2e}, h0 fixed on frames 2..T rel "
                f"{r['fixed_rel']:.4f} ({r['seconds_per_clip']:.2f} s/clip)"
            )
        log(f"wrote {sweep_csv} ({len(pick)} training clips)")
        return 0
    train_p = prepare_clips(
        train_c, init_iters=args.init_iters, reversed_h0=not args.no_reverse, progress=progress, **common
    )
    val_p = prepare_clips(val_c, init_iters=args.init_iters, progress=progress, **common) if val_c else None
    prep_s = time.perf_counter() - t0
    log(
        f"train: {len(train_p)} clips / {len({c.sequence for c in train_c})} sequences, "
        f"val: {len(val_c)} clips / {len({c.sequence for c in val_c})} sequences (h0 in {prep_s:.0f} s)"
    )

    # 3. training
    cfg = TrainConfig(
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        grad_clip=args.grad_clip,
        lam1=args.lam1,
        seed=args.seed,
        val_fraction=args.val_fraction,
        sigma_factor=args.sigma_factor,
        init_iters=args.init_iters,
        reverse_augment=not args.no_reverse,
        lr_schedule=args.lr_schedule,
        train_eval_clips=args.train_eval_clips,
        ranking_n=args.ranking_n,
        ranking_init=args.ranking_init,
        cell_input=args.cell_input,
        updater={
            "cell_norm": args.cell_norm,
            **dict(zip(("input_bias", "forget_bias", "output_bias"), args.gate_biases or (), strict=False)),
        },
    )
    history_csv = results / f"{name}_history.csv"
    summary_json = results / f"{name}.json"
    png = results / f"{name}_loss.png"

    def on_epoch(entry: dict[str, Any]) -> None:
        st = torch.load(state_path, map_location="cpu", weights_only=False)
        write_history_csv(history_csv, st["history"])
        plot_curves(png, st["history"], st["baselines"], {})

    t0 = time.perf_counter()
    result = train(
        train_p,
        val_p,
        cfg,
        state_path=state_path,
        resume=args.resume,
        device=dev,
        progress=progress,
        log=log,
        on_epoch=on_epoch,
    )
    train_s = time.perf_counter() - t0
    run_info["training_s"] = run_info.get("training_s", 0.0) + train_s
    run_info["prepare_s"] = run_info.get("prepare_s", 0.0) + prep_s
    run_info.setdefault("sessions", []).append(
        {
            "caching_s": round(cache_s, 1),
            "prepare_s": round(prep_s, 1),
            "training_s": round(train_s, 1),
            "epochs_total_after": len(result.history),
        }
    )
    _write_json(run_json, run_info)

    # 4. final evaluation, checkpoint, records
    t0 = time.perf_counter()
    saved = result.model.save(out)  # float16
    shipped = RankingUpdater.load(saved, device=dev)
    final: dict[str, dict[str, Any]] = {}
    for split, prep in (("train", train_p), ("val", val_p)):
        if prep is None:
            continue
        final[split] = {
            "fixed": result.baselines[split]["fixed"],
            "untrained": result.baselines[split]["untrained"],
            "zero": result.baselines[split]["zero"],
            "trained": evaluate(shipped, prep, lam1=args.lam1, device=dev),
        }
    if val_p is not None and not args.no_refit:
        refit_file = state_path.parent / f"refit_lag1_val_{args.init_iters}.json"
        if refit_file.is_file():
            final["val"]["refit"] = json.loads(refit_file.read_text())
        else:
            final["val"]["refit"] = evaluate_refit(val_p, lam1=args.lam1, init_iters=args.init_iters, device=dev)
            _write_json(refit_file, final["val"]["refit"])
    eval_s = time.perf_counter() - t0
    history = result.history
    steps = len(history) * -(-len(train_p) // cfg.batch_size)
    size = saved.stat().st_size
    record = {
        "what": "rankatt ranking updater (PreNet + ConvLSTM), trained offline with Eq. 9, N = 1",
        "checkpoint": out.name,
        "checkpoint_bytes": size,
        "checkpoint_sha256": _sha256(saved),
        "stored_dtype": "float16",
        "command": "rankatt train " + " ".join(sys.argv[1:] if argv is None else argv),
        "data": [{"path": _rel(r), "name": d.name, "sequences": len(d)} for r, d in zip(roots, datasets, strict=True)],
        "split": {
            "unit": "sequence",
            "val_fraction": args.val_fraction,
            "seed": args.seed,
            "train_sequences": sorted({c.sequence for c in train_c}),
            "val_sequences": sorted({c.sequence for c in val_c}),
            "train_clips": len(train_p),
            "val_clips": len(val_c),
            "test_split_used": False,
        },
        "clips": {**clip_cfg.__dict__, "patch_centre": "ground-truth centre of the previous clip frame"},
        "init_kernel": {"method": "cg", "iters": args.init_iters, "k": 11, "lam1": args.lam1},
        "labels": {"sigma_factor": args.sigma_factor, "sigma": "sigma_factor x target size in cells, per axis"},
        "training": {
            **cfg.__dict__,
            "optimizer": "Adam",
            "epochs_run": len(history),
            "optimizer_steps": steps,
            "optimizer_steps_to_best_epoch": result.best_epoch * -(-len(train_p) // cfg.batch_size),
            "loss_scale": result.loss_scale,
            "best_epoch": result.best_epoch,
            "selected_by": "lowest validation Eq. 9",
        },
        "updater_config": shipped.config.__dict__,
        "parameters": shipped.parameter_counts(),
        "loss_curve": [
            {k: e[k] for k in ("epoch", "train_loss", "train_rel", "val_loss", "val_rel", "seconds") if k in e}
            for e in history
        ],
        "results": {
            split: {k: {"loss": v["loss"], "rel": v["rel"]} for k, v in res.items()} for split, res in final.items()
        },
        "time_s": {
            "totals_over": "every invocation of this run (see sessions)",
            "feature_caching": round(run_info["caching_s"], 1),
            "h0_and_labels": round(run_info["prepare_s"], 1),
            "training": round(run_info["training_s"], 1),
            "final_evaluation": round(eval_s, 1),
            "clips_cached": run_info["cached_clips_computed"],
            "sessions": run_info.get("sessions", []),
            "notes": run_info.get("notes", []),
        },
        "backbone": {"layer": clip_cfg.layer, "weights": args.weights, "tag": tag},
        "environment": {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "device": str(dev),
            "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "cpu",
            "threads": args.threads,
        },
    }
    _write_json(out.with_suffix(".json"), record)
    summary = {
        **record,
        "per_step": {s: {k: v["per_step"] for k, v in res.items() if "per_step" in v} for s, res in final.items()},
        "per_clip": {s: {k: v["per_clip"] for k, v in res.items() if "per_clip" in v} for s, res in final.items()},
    }
    summary["history"] = history
    _write_json(summary_json, summary)
    write_history_csv(history_csv, history)
    plot_curves(png, history, result.baselines, final)
    for split, res in final.items():
        log(f"{split}: " + ", ".join(f"{k} {v['loss']:.4e} (rel {v['rel']:.3f})" for k, v in res.items()))
    log(
        f"saved {out} ({size / 1e6:.2f} MB, best epoch {result.best_epoch}), {out.with_suffix('.json')}, {summary_json}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
