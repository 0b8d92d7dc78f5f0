"""The benchmark's plan: its constants, one :class:`SequenceSpec` per sequence, the splits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ['ATTRIBUTES', 'GENERATOR_VERSION', 'IMAGE_SIZE', 'JPEG_QUALITY', 'SequenceSpec', 'plan_benchmark']


ATTRIBUTES: tuple[str, ...] = ("IV", "SV", "OCC", "DEF", "MB", "FM", "IPR", "OPR", "OV", "BC", "LR")
"""The 11 OTB attribute codes (same order as :data:`rankatt_lib.data.otb.ATTRIBUTES`)."""

GENERATOR_VERSION = "1.0.0"
"""Bumped whenever the generated pixels or ground truth change for a given seed."""

IMAGE_SIZE: tuple[int, int] = (320, 240)
"""Default frame size ``(width, height)``."""

JPEG_QUALITY = 90
"""Fixed JPEG quality of the written frames."""

SPLITS: dict[str, int] = {"test": 1, "train": 2}
"""Split name -> spawn-key code of its random streams."""

# Attribute combinations of the first test sequences: every attribute at least 3 times.
_TEST_COMBOS: tuple[tuple[str, ...], ...] = (
    ("OCC", "BC"),
    ("SV", "IPR"),
    ("IV", "OCC"),
    ("FM", "MB"),
    ("DEF", "SV", "OCC"),
    ("OV", "FM"),
    ("LR", "BC"),
    ("OPR", "IV"),
    ("IPR", "BC", "MB"),
    ("OCC", "OV"),
    ("SV", "DEF", "IV"),
    ("LR", "FM", "MB"),
    ("OPR", "OCC", "BC"),
    ("IV", "MB", "IPR"),
    ("DEF", "BC"),
    ("OV", "SV", "LR"),
    ("FM", "OCC", "IPR"),
    ("OPR", "DEF", "SV"),
    ("IV", "BC", "OCC", "FM"),
    ("LR", "OCC", "IV", "OV"),
)

# OTB thresholds used to measure attributes from the ground truth.
_FM_PIXELS = 20.0
_SV_RATIO = 2.0
_LR_AREA = 400.0
_OCC_FRACTION = 0.3
_OV_VISIBLE = 0.8
_MB_LENGTH = 6.0


# --------------------------------------------------------------------------------------------------
# Specs


@dataclass(frozen=True)
class SequenceSpec:
    """Everything needed to render one sequence (rendering is a pure function of this).

    Attributes:
        name: folder name, e.g. ``syn_test_000``.
        split: ``"test"`` or ``"train"``.
        index: position in its split.
        seed: the benchmark seed.
        attributes: the attributes the sequence is designed to exercise (a subset of the final tags).
        n_frames: number of frames.
        image_size: ``(width, height)``.
    """

    name: str
    split: str
    index: int
    seed: int
    attributes: tuple[str, ...]
    n_frames: int
    image_size: tuple[int, int] = IMAGE_SIZE

    def rng(self, stream: int = 0) -> np.random.Generator:
        """The random generator of this sequence (``stream`` selects an independent substream)."""
        ss = np.random.SeedSequence(entropy=self.seed, spawn_key=(SPLITS[self.split], self.index, stream))
        return np.random.default_rng(ss)


def plan_benchmark(
    seed: int = 0,
    split: str = "both",
    *,
    n_test: int = 20,
    n_train: int = 40,
    length_range: tuple[int, int] = (60, 150),
    image_size: tuple[int, int] = IMAGE_SIZE,
) -> list[SequenceSpec]:
    """The sequences of the benchmark, without rendering anything (cheap).

    Args:
        seed: benchmark seed.
        split: ``"test"``, ``"train"`` or ``"both"``.
        n_test, n_train: number of sequences per split.
        length_range: inclusive ``(min, max)`` number of frames of a sequence.
        image_size: ``(width, height)`` of the frames.

    Returns:
        The specs, test split first.
    """
    splits = _splits(split)
    lo, hi = int(length_range[0]), int(length_range[1])
    if not 2 <= lo <= hi:
        raise ValueError(f"length_range must satisfy 2 <= min <= max, got {length_range}")
    specs: list[SequenceSpec] = []
    for sp in splits:
        count = n_test if sp == "test" else n_train
        for i in range(count):
            rng = np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(SPLITS[sp], i, 99)))
            if sp == "test" and i < len(_TEST_COMBOS):
                attrs = _TEST_COMBOS[i]
            else:
                # First attribute cycles through all 11 (coverage), 1-3 more drawn at random.
                first = ATTRIBUTES[i % len(ATTRIBUTES)]
                others = [a for a in ATTRIBUTES if a != first]
                k = int(rng.integers(1, 4))
                attrs = (first, *(str(a) for a in rng.choice(others, size=k, replace=False)))
            attrs = tuple(a for a in ATTRIBUTES if a in attrs)
            n = int(rng.integers(lo, hi + 1))
            specs.append(SequenceSpec(f"syn_{sp}_{i:03d}", sp, i, int(seed), attrs, n, tuple(image_size)))
    return specs


def _splits(split: str) -> tuple[str, ...]:
    if split == "both":
        return ("test", "train")
    if split in SPLITS:
        return (split,)
    raise ValueError(f"split must be 'test', 'train' or 'both', got {split!r}")
