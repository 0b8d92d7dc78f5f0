"""The set-up every chapter runs first."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch

import rankatt_lib

ROOT = Path(__file__).resolve().parents[1]
"""The repository (the chapters run from ``book/``)."""

def _pinned(names: tuple[str, ...] = ("torch", "torchvision")) -> dict[str, str]:
    lines = (ROOT / "requirements-lock.txt").read_text().splitlines()
    return {n: v for n, _, v in (ln.strip().partition("==") for ln in lines) if n in names}


PINNED = _pinned()
"""The versions the committed outputs were computed with: ``requirements-lock.txt``'s pins, which
``make setup`` installs."""

STYLE = {
    "figure.dpi": 80,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
}
"""The book's figure style: small type, so that figures of several panels stay readable."""


def check_versions(installed: dict[str, str] | None = None) -> None:
    """Fail early, with the fix, when torch or torchvision is not the pinned version.

    A chapter's printed numbers depend on them; a reader with other versions gets a clear error
    on the first cell instead of mismatches deep in the chapter. ``RANKATT_ANY_VERSION=1`` lets a
    chapter run anyway (its numbers may then differ in the last digits).
    """
    if installed is None:
        import torchvision

        installed = {"torch": torch.__version__, "torchvision": torchvision.__version__}
    wrong = {k: v for k, v in installed.items() if v.split("+")[0] != PINNED.get(k, v.split("+")[0])}
    if wrong and os.environ.get("RANKATT_ANY_VERSION", "") != "1":
        found = ", ".join(f"{k} {v}" for k, v in wrong.items())
        wanted = ", ".join(f"{k}=={PINNED[k]}" for k in wrong)
        raise RuntimeError(
            f"this book's outputs were computed with {wanted}, but this environment has {found}. "
            "Run `make setup` in the repository (it installs the pinned versions into .venv), or set "
            "RANKATT_ANY_VERSION=1 to run the chapter anyway."
        )


def setup(threads: int = 2, *, dpi: int = 80, seed: int = 0, quiet: bool = False) -> Path:
    """Prepare a chapter: check the versions, set the CPU threads (``OMP_NUM_THREADS`` wins),
    make GPU float32 convolutions exact float32 (no TF32), seed torch, set the figure style and
    pandas' precision; print the library's version; return the repository's root.
    """
    check_versions()
    rankatt_lib.use_threads(threads)
    rankatt_lib.exact_float32()
    torch.manual_seed(seed)
    pd.set_option("display.precision", 3)
    plt.rcParams.update({**STYLE, "figure.dpi": dpi})
    if not quiet:
        print("rankatt_lib", rankatt_lib.__version__)
    return ROOT
