"""The training loop (resumable, with a validation split and the best checkpoint kept) and the
sweep of the frame-1 solver's iterations."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rankatt_lib.components.convlstm import RankingUpdater, RankingUpdaterConfig
from rankatt_lib.components.init_kernel import (
    DEFAULT_INIT_ITERS,
    DEFAULT_SIGMA_FACTOR,
    init_kernel,
)
from rankatt_lib.training.clips import STATE_FORMAT, STATE_VERSION, PreparedClips, _atomic_save
from rankatt_lib.training.unroll import eq9_loss, evaluate, unroll, unroll_ranked

__all__ = ["TrainConfig", "TrainResult", "train"]


# =========================================================================== training


@dataclass
class TrainConfig:
    """Every number of :func:`train` (stored in the checkpoints).

    Attributes:
        epochs: passes over the training clips.
        lr: Adam learning rate.
        batch_size: clips per optimiser step.
        grad_clip: max gradient norm (of the scaled objective); ``0`` disables clipping.
        weight_decay: Adam's L2 penalty on the parameters (0).
        lam1: :math:`\\lambda_1` of Eq. 9 (the paper: 1e-10).
        seed: model initialisation, validation split and batch order.
        val_fraction: share of the sequences held out for validation.
        sigma_factor: label sigma / target size in cells (0.1).
        init_iters: CG iterations of :func:`init_kernel` for :math:`h_0`.
        kernel_size: ``k`` (11).
        reverse_augment: every epoch, play each training clip backwards with probability 1/2
            (needs ``PreparedClips.h0_reversed``): twice the clips at no feature cost.
        lr_schedule: ``"cosine"`` (from ``lr`` to 0 over ``epochs``, per step) or ``"constant"``.
        train_eval_clips: the per-epoch ``train_loss`` is measured on this many training clips
            (a fixed, evenly spaced subset; forward clips, no update); 0 = all.
        updater: :class:`RankingUpdaterConfig` as a dict (defaults when empty).
        ranking_n, ranking_init, cell_input: a sketch (issue #20): with ``ranking_n > 1`` the
            training objective unrolls the N-kernel ranking (:func:`unroll_ranked`) instead of the
            paper's N = 1 (validation and the baselines still use :func:`unroll`, N = 1). Default
            1: the paper's training, unchanged.
    """

    epochs: int = 20
    lr: float = 3e-4
    batch_size: int = 4
    grad_clip: float = 1.0
    weight_decay: float = 0.0
    lam1: float = 1e-10
    seed: int = 0
    val_fraction: float = 0.2
    sigma_factor: float = DEFAULT_SIGMA_FACTOR
    init_iters: int = DEFAULT_INIT_ITERS
    kernel_size: int = 11
    reverse_augment: bool = False
    lr_schedule: str = "constant"
    train_eval_clips: int = 0
    updater: dict[str, Any] = field(default_factory=dict)
    ranking_n: int = 1
    ranking_init: str = "copies"
    cell_input: str = "best"


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        model: the updater with the best validation loss (the last epoch's without validation clips).
        history: one dict per epoch (``epoch``, ``train_loss``, ``val_loss``, ``train_rel``,
            ``val_rel``, ``lr``, ``grad_norm``, ``seconds``).
        baselines: ``{"train": {...}, "val": {...}}`` of :func:`evaluate` for ``zero``, ``fixed``,
            ``untrained`` (and ``refit`` when computed by the caller).
        best_epoch: the epoch of ``model``.
        loss_scale: the constant the objective was multiplied by.
        state_path: the training-state file.
    """

    model: RankingUpdater
    history: list[dict[str, Any]]
    baselines: dict[str, dict[str, Any]]
    best_epoch: int
    loss_scale: float
    state_path: Path | None


def _state_dict_cpu(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").clone() for k, v in module.state_dict().items()}


def train(
    train_clips: PreparedClips,
    val_clips: PreparedClips | None,
    config: TrainConfig,
    *,
    state_path: str | os.PathLike[str] | None = None,
    resume: bool = False,
    device: torch.device | str = "cpu",
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train PreNet + ConvLSTM on Eq. 9 with N = 1 (see the module docstring).

    Args:
        train_clips, val_clips: from :func:`prepare_clips` (``val_clips`` may be ``None``).
        config: the numbers; must match the state file's when resuming.
        state_path: where the training state goes after every epoch (``None``: nowhere).
        resume: continue from ``state_path`` if it exists (model, optimizer, epoch, history).
        device: where the updater trains.
        progress: tqdm bar over the batches of each epoch.
        log: called with one line per epoch (and on resume).
        on_epoch: called with each epoch's history entry after the state is saved.

    Returns:
        A :class:`TrainResult`.
    """
    from tqdm.auto import tqdm

    dev = torch.device(device)
    say = log or (lambda s: None)
    ucfg = RankingUpdaterConfig(**config.updater)
    model = RankingUpdater(ucfg, seed=config.seed, device=dev)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    zero_train = float(train_clips.yS[:, 1:].double().square().mean())
    loss_scale = 1.0 / max(zero_train, 1e-12)

    history: list[dict[str, Any]] = []
    baselines: dict[str, dict[str, Any]] = {}
    best: dict[str, Any] = {"epoch": 0, "val": math.inf, "state": _state_dict_cpu(model)}
    start_epoch = 0
    path = Path(state_path) if state_path is not None else None
    cfg_dict = asdict(config)
    if resume and path is not None and path.is_file():
        st = torch.load(path, map_location="cpu", weights_only=False)
        if st.get("format") != STATE_FORMAT:
            raise ValueError(f"{path} is not a {STATE_FORMAT} file")
        saved = {k: v for k, v in st["config"].items() if k != "epochs"}
        for k in ("ranking_n", "ranking_init", "cell_input"):  # states saved before these options
            saved.setdefault(k, getattr(TrainConfig, k))
        now = {k: v for k, v in cfg_dict.items() if k != "epochs"}
        if saved != now:
            diff = {k: (saved.get(k), now.get(k)) for k in set(saved) | set(now) if saved.get(k) != now.get(k)}
            raise ValueError(f"cannot resume {path}: the training config differs (saved, now): {diff}")
        if st["train_ids"] != train_clips.ids or st["val_ids"] != (val_clips.ids if val_clips else []):
            raise ValueError(f"cannot resume {path}: the training/validation clips differ")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        history = list(st["history"])
        baselines = dict(st["baselines"])
        best = dict(st["best"])
        start_epoch = int(st["epoch"])
        say(f"resumed {path} at epoch {start_epoch}")

    if config.train_eval_clips and config.train_eval_clips < len(train_clips):
        pick = np.unique(np.linspace(0, len(train_clips) - 1, config.train_eval_clips).round().astype(int))
        train_eval_set = train_clips.subset(pick.tolist())
    else:
        train_eval_set = train_clips
    if not baselines:
        untrained = RankingUpdater(ucfg, seed=config.seed, device=dev)
        sets = [("train", train_clips), ("val", val_clips)]
        if train_eval_set is not train_clips:
            sets.insert(1, ("train_eval", train_eval_set))
        for name, clips in sets:
            if clips is None or len(clips) == 0:
                continue
            baselines[name] = {
                "fixed": evaluate(None, clips, lam1=config.lam1, device=dev),
                "untrained": evaluate(untrained, clips, lam1=config.lam1, device=dev),
            }
            baselines[name]["zero"] = {"loss": baselines[name]["fixed"]["zero"], "rel": 1.0}
        for name, b in baselines.items():
            say(
                f"baselines {name}: zero {b['zero']['loss']:.3e}, fixed h0 {b['fixed']['loss']:.3e} "
                f"(rel {b['fixed']['rel']:.3f}), untrained {b['untrained']['loss']:.3e} "
                f"(rel {b['untrained']['rel']:.3f})"
            )

    def save_state(epoch: int) -> None:
        if path is None:
            return
        _atomic_save(
            {
                "format": STATE_FORMAT,
                "version": STATE_VERSION,
                "epoch": epoch,
                "config": cfg_dict,
                "model": _state_dict_cpu(model),
                "optimizer": opt.state_dict(),
                "history": history,
                "baselines": baselines,
                "best": best,
                "loss_scale": loss_scale,
                "train_ids": train_clips.ids,
                "val_ids": val_clips.ids if val_clips else [],
                "torch": torch.__version__,
            },
            path,
        )

    if config.lr_schedule not in ("cosine", "constant"):
        raise ValueError(f"lr_schedule must be 'cosine' or 'constant', got {config.lr_schedule!r}")
    if config.reverse_augment and train_clips.h0_reversed is None:
        raise ValueError("reverse_augment needs prepare_clips(..., reversed_h0=True)")
    n = len(train_clips)
    per_epoch = -(-n // config.batch_size)
    total_steps = per_epoch * config.epochs
    for epoch in range(start_epoch + 1, config.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        rng = np.random.default_rng([config.seed, epoch])
        order = rng.permutation(n)
        if config.reverse_augment:  # each clip once per epoch, forward or backward at random
            order = order + n * (rng.random(n) < 0.5)
        batches = [order[s : s + config.batch_size].tolist() for s in range(0, n, config.batch_size)]
        total, count, gnorms = 0.0, 0, []
        bar = tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", unit="batch", disable=not progress, leave=False)
        for b_i, idx in enumerate(bar):
            step = (epoch - 1) * per_epoch + b_i  # 0-based global step
            lr = config.lr
            if config.lr_schedule == "cosine":
                lr = 0.5 * config.lr * (1.0 + math.cos(math.pi * step / max(total_steps, 1)))
            for group in opt.param_groups:
                group["lr"] = lr
            h0, xs, ys = train_clips.batch(idx, dev)
            if config.ranking_n > 1:
                losses = unroll_ranked(
                    model,
                    h0,
                    xs,
                    ys,
                    config.lam1,
                    n=config.ranking_n,
                    init=config.ranking_init,
                    cell_input=config.cell_input,
                )
            else:
                losses = unroll(model, h0, xs, ys, config.lam1)  # (B, T - 1)
            loss = losses.mean()
            opt.zero_grad(set_to_none=True)
            (loss * loss_scale).backward()
            if config.grad_clip > 0:
                gn = nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            else:
                gn = torch.sqrt(sum(p.grad.square().sum() for p in model.parameters() if p.grad is not None))
            opt.step()
            value = float(loss.detach())
            gnorms.append(float(gn))
            total += value * len(idx)
            count += len(idx)
            bar.set_postfix(loss=f"{value * loss_scale:.3f}")
        train_eval = evaluate(model, train_eval_set, lam1=config.lam1, device=dev)
        entry: dict[str, Any] = {
            "epoch": epoch,
            "train_loss_running": total / max(count, 1),
            "train_loss": train_eval["loss"],
            "train_rel": train_eval["rel"],
            "lr": lr,
            "grad_norm_median": float(np.median(gnorms)) if gnorms else 0.0,
        }
        if val_clips is not None and len(val_clips):
            val_eval = evaluate(model, val_clips, lam1=config.lam1, device=dev)
            entry["val_loss"] = val_eval["loss"]
            entry["val_rel"] = val_eval["rel"]
            entry["val_per_step"] = val_eval["per_step"]
            score = val_eval["loss"]
        else:
            score = train_eval["loss"]
        if score < best["val"]:
            best = {"epoch": epoch, "val": score, "state": _state_dict_cpu(model)}
        entry["seconds"] = time.perf_counter() - t0
        history.append(entry)
        save_state(epoch)
        say(
            f"epoch {epoch}: train {entry['train_loss']:.4e} (rel {entry['train_rel']:.3f})"
            + (f", val {entry['val_loss']:.4e} (rel {entry['val_rel']:.3f})" if "val_loss" in entry else "")
            + f", |g| {entry['grad_norm_median']:.3g}, {entry['seconds']:.0f} s"
        )
        if on_epoch is not None:
            on_epoch(entry)

    final = RankingUpdater(ucfg, device=dev)
    final.load_state_dict(best["state"])
    return TrainResult(
        model=final,
        history=history,
        baselines=baselines,
        best_epoch=int(best["epoch"]),
        loss_scale=loss_scale,
        state_path=path,
    )


# =========================================================================== init sweep


def sweep_init_iters(
    clips: PreparedClips,
    iters: Sequence[int],
    *,
    kernel_size: int = 11,
    lam1: float = 1e-10,
    device: torch.device | str = "cpu",
) -> list[dict[str, float]]:
    """How many CG iterations :func:`init_kernel` needs: for each ``iters`` value, the Eq. 9 fit of
    :math:`h_0` on frame 1 and the loss of :math:`h_0` kept fixed on frames ``2..T`` (the ``fixed``
    baseline), both absolute and relative to the all-zero kernel, averaged over ``clips``.

    ``clips.h0`` is ignored (recomputed per value); ``clips.yS`` gives the labels.
    """
    rows = []
    y2 = clips.yS.double().square().mean(dim=(-2, -1))  # (M, T)
    for n_it in iters:
        fit, nxt = [], []
        t0 = time.perf_counter()
        for i in range(len(clips)):
            x = clips.xS[i].to(device, torch.float32)
            y = clips.yS[i].to(device)
            h = init_kernel(x[:1], y[0], kernel_size, lam1, iters=int(n_it))
            loss = eq9_loss(h, x, y, lam1).double().cpu()
            fit.append(float(loss[0]))
            nxt.append(float(loss[1:].mean()))
        seconds = (time.perf_counter() - t0) / max(len(clips), 1)
        rows.append(
            {
                "iters": int(n_it),
                "fit_loss": float(np.mean(fit)),
                "fit_rel": float(np.mean(fit) / y2[:, 0].mean()),
                "fixed_loss": float(np.mean(nxt)),
                "fixed_rel": float(np.mean(nxt) / y2[:, 1:].mean()),
                "seconds_per_clip": seconds,
            }
        )
    return rows
