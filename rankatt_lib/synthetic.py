"""A deterministic synthetic tracking benchmark in the OTB format.

:func:`make_synthetic_benchmark` writes procedurally generated video sequences to disk in exactly
the layout of OTB (``SEQ/img/0001.jpg ...``, ``SEQ/groundtruth_rect.txt``, ``SEQ/attributes.txt``),
so that every tracker and every evaluation protocol of the library runs on them as on the real
benchmark, on a laptop, without downloading anything. There are two disjoint splits,
``test`` (20 sequences by default) and ``train`` (40), each sequence 60-150 frames of 320x240.

What a sequence looks like
    A procedural, textured background (multi-octave noise mapped through a colour palette, with
    foliage-like leaves, urban panels and stripes, pebbly terrain or wallpaper-and-floor interiors,
    under a global light gradient) seen by a slowly panning camera; a textured target (an ellipse,
    rounded rectangle or irregular blob carrying stripes, spots, checks, rings or camouflage
    patches, shading, an outline and sometimes "eyes") alpha-blended on it; sensor noise and JPEG
    compression on top.

What each attribute does (the OTB definitions, Wu et al. 2015)
    * ``IV``  global gain and colour-tint changes (slow fades, fast flashes) and a moving soft
      shadow / light spot.
    * ``SV``  the target's scale leaves ``[1/2, 2]`` times its first-frame size.
    * ``OCC`` 1-2 textured occluders (boxy panels or bush-like blobs) sweep across the target:
      partial and full occlusions, each temporary (fully hidden for 1-5 frames).
    * ``DEF`` non-rigid deformation: the aspect ratio breathes and a travelling sine warp bends
      the texture.
    * ``MB``  motion blur: the target layer is blurred along its velocity during fast segments, and
      the whole frame during camera shakes.
    * ``FM``  fast motion: bursts where the ground-truth centre moves more than 20 px per frame.
    * ``IPR`` in-plane rotation (rotations well beyond 90 degrees).
    * ``OPR`` out-of-plane rotation: the target turns about its vertical axis (horizontal squash)
      and shows its differently textured back side while turned away.
    * ``OV``  out of view: the target leaves the frame partly or fully and comes back.
    * ``BC``  background clutter: 2-4 moving distractors and static decoys of the target's own
      texture family (same shape, pattern kind and size, a slightly different hue or pattern), one
      of them circling the target and sometimes passing in front of it, and blotches of the
      target's colours in the background.
    * ``LR``  low resolution: the first-frame box has fewer than 400 pixels (14-20 px targets).

Each sequence is designed around 2-4 attributes; the tags written to ``attributes.txt`` are those
designed in plus those measured from the ground truth (``FM``, ``SV``, ``LR``, ``OV``, ``OCC``,
``MB`` with the OTB thresholds), so an attribute that happens incidentally is still tagged.

Ground truth
    The tight axis-aligned box of the target's (unoccluded, unblurred) alpha mask at 0.5, in OTB's
    1-based integer ``x,y,w,h`` convention (centre = x + (w-1)/2). During occlusions the box stays
    on the hidden target, as in OTB. When the target is partly out of view the box is clipped to
    the image. **When it is entirely out of view the row is ``0,0,0,0``** (the LaSOT convention for
    an absent target): every evaluation protocol of :mod:`rankatt_lib.evaluation` treats a row
    with a value ``<= 0`` as an invalid ground-truth frame. Frame 1 is always fully visible.

Determinism
    Everything is drawn from :class:`numpy.random.Generator` instances seeded by
    ``SeedSequence(seed, spawn_key=(split, index))``; nothing depends on time, hash seeds or
    thread count. The same seed gives byte-identical ground truth and identical frames (JPEG
    quality is fixed, :data:`JPEG_QUALITY`) with the same OpenCV build. The two splits use
    different spawn keys, so their sequences never coincide.
"""

from __future__ import annotations

import colorsys
import json
import math
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = [
    "add_generation_options",
    "ATTRIBUTES",
    "GENERATOR_VERSION",
    "IMAGE_SIZE",
    "JPEG_QUALITY",
    "SequenceSpec",
    "fractal_noise",
    "make_background",
    "SyntheticFrame",
    "SyntheticSequence",
    "plan_benchmark",
    "iter_frames",
    "render_sequence",
    "write_sequence",
    "make_synthetic_benchmark",
]

ATTRIBUTES: tuple[str, ...] = ("IV", "SV", "OCC", "DEF", "MB", "FM", "IPR", "OPR", "OV", "BC", "LR")
"""The 11 OTB attribute codes (same order as :data:`rankatt_lib.data.ATTRIBUTES`)."""

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


# --------------------------------------------------------------------------------------------------
# Small numerical helpers


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _smooth1d(rng: np.random.Generator, n: int, knot_every: float) -> np.ndarray:
    """A smooth random curve in ``[-1, 1]`` of length ``n`` (cosine-eased random knots)."""
    k = int(math.ceil(n / knot_every)) + 2
    knots = rng.uniform(-1.0, 1.0, size=k)
    t = np.arange(n) / knot_every
    i = np.floor(t).astype(int)
    f = t - i
    f = (1.0 - np.cos(np.pi * f)) / 2.0
    return knots[i] * (1.0 - f) + knots[i + 1] * f


def _keyframes(n: int, times: Sequence[float], values: Sequence[float]) -> np.ndarray:
    """Piecewise cosine-eased curve through ``(times, values)``, constant outside them."""
    t = np.arange(n, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    out = np.full(n, values[0])
    for j in range(len(times) - 1):
        t0, t1 = times[j], times[j + 1]
        sel = (t >= t0) & (t <= t1)
        f = (t[sel] - t0) / max(t1 - t0, 1e-9)
        f = (1.0 - np.cos(np.pi * f)) / 2.0
        out[sel] = values[j] * (1.0 - f) + values[j + 1] * f
    out[t > times[-1]] = values[-1]
    return out


def fractal_noise(
    rng: np.random.Generator,
    h: int,
    w: int,
    base_cells: float = 3.0,
    octaves: int = 5,
    persistence: float = 0.55,
) -> np.ndarray:
    """Multi-octave value noise, ``(h, w)`` float32 normalised to ``[0, 1]``.

    Each octave is a random grid upsampled bicubically; octave ``o`` has ``base_cells * 2**o`` cells
    along the longer side and amplitude ``persistence**o`` (a roughly 1/f, natural-image spectrum).
    """
    out = np.zeros((h, w), np.float32)
    amp = 1.0
    for o in range(octaves):
        cells = base_cells * 2**o
        gh = max(2, int(round(cells * h / max(h, w)))) + 1
        gw = max(2, int(round(cells * w / max(h, w)))) + 1
        grid = rng.random((gh, gw), dtype=np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        amp *= persistence
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1))), np.float32)


def _shift_colour(rgb: np.ndarray, dh: float, ds: float, dv: float) -> np.ndarray:
    h, s, v = colorsys.rgb_to_hsv(*(float(c) for c in rgb))
    return _hsv(h + dh, s + ds, v + dv)


def _colourise(noise: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Map ``noise`` in [0, 1] through a gradient of ``colours`` (k, 3) -> ``(h, w, 3)`` float32."""
    k = len(colours)
    xs = np.linspace(0.0, 1.0, k)
    grid = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(grid, xs, colours[:, c]) for c in range(3)], axis=1).astype(np.float32)
    idx = np.clip(noise * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return lut[idx]


def _palette(
    rng: np.random.Generator,
    hue: float,
    k: int,
    spread: float,
    sat: tuple[float, float],
    val: tuple[float, float],
) -> np.ndarray:
    vals = np.sort(rng.uniform(*val, size=k))
    return np.stack([_hsv(hue + rng.uniform(-spread, spread), rng.uniform(*sat), v) for v in vals])


# --------------------------------------------------------------------------------------------------
# Backgrounds

_BACKGROUND_STYLES = ("foliage", "urban", "terrain", "indoor")


def _bg_foliage(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    hue = rng.choice([rng.uniform(0.17, 0.42), rng.uniform(0.03, 0.13)])  # green or autumn
    pal = _palette(rng, hue, 4, 0.05, (0.35, 0.85), (0.12, 0.75))
    img = _colourise(fractal_noise(rng, h, w, 4, 6, 0.6), pal)
    n_leaves = int(h * w / 70)
    xs = rng.uniform(0, w, n_leaves)
    ys = rng.uniform(0, h, n_leaves)
    ax = rng.uniform(2.5, 9.0, n_leaves)
    ay = ax * rng.uniform(0.3, 0.6, n_leaves)
    ang = rng.uniform(0, 180, n_leaves)
    cols = pal[rng.integers(0, len(pal), n_leaves)] * rng.uniform(0.7, 1.3, (n_leaves, 1))
    for x, y, a, b, t, c in zip(xs, ys, ax, ay, ang, cols, strict=True):
        cv2.ellipse(
            img,
            (int(x), int(y)),
            (int(a), max(1, int(b))),
            float(t),
            0,
            360,
            tuple(float(v) for v in c),
            -1,
            cv2.LINE_AA,
        )
    return cv2.GaussianBlur(img, (3, 3), 0.7)


def _bg_urban(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    hue = rng.uniform(0, 1)
    pal = _palette(rng, hue, 3, 0.08, (0.05, 0.35), (0.25, 0.8))
    img = _colourise(fractal_noise(rng, h, w, 2, 4, 0.5), pal)
    tex = 0.8 + 0.4 * fractal_noise(rng, h, w, 16, 4, 0.6)
    for _ in range(int(rng.integers(12, 22))):
        x0, y0 = int(rng.uniform(-20, w)), int(rng.uniform(-20, h))
        rw, rh = int(rng.uniform(30, 140)), int(rng.uniform(30, 160))
        col = _hsv(hue + rng.uniform(-0.15, 0.15), rng.uniform(0.05, 0.5), rng.uniform(0.2, 0.9))
        cv2.rectangle(img, (x0, y0), (x0 + rw, y0 + rh), tuple(float(v) for v in col), -1)
        if rng.random() < 0.6:  # windows / tiles
            step = int(rng.uniform(8, 18))
            wcol = col * rng.uniform(0.35, 0.7) if rng.random() < 0.7 else np.minimum(col * 1.6, 1)
            for yy in range(y0 + 4, y0 + rh - 6, step):
                for xx in range(x0 + 4, x0 + rw - 6, step):
                    cv2.rectangle(img, (xx, yy), (xx + step // 2, yy + step // 2), tuple(float(v) for v in wcol), -1)
        else:  # stripes / bricks
            step = int(rng.uniform(4, 10))
            for yy in range(y0, y0 + rh, step):
                cv2.line(img, (x0, yy), (x0 + rw, yy), tuple(float(v) for v in col * 0.6), 1, cv2.LINE_AA)
    img *= tex[..., None]
    return cv2.GaussianBlur(img, (3, 3), 0.6)


def _bg_terrain(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    hue = rng.uniform(0.02, 0.14) if rng.random() < 0.7 else rng.uniform(0.5, 0.62)
    pal = _palette(rng, hue, 5, 0.04, (0.15, 0.6), (0.15, 0.85))
    base = fractal_noise(rng, h, w, 3, 6, 0.62)
    wx = (fractal_noise(rng, h, w, 2, 3, 0.5) - 0.5) * 40.0
    wy = (fractal_noise(rng, h, w, 2, 3, 0.5) - 0.5) * 40.0
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    base = cv2.remap(base, xs + wx, ys + wy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    img = _colourise(base, pal)
    n = int(h * w / 300)
    for x, y, r, v in zip(
        rng.uniform(0, w, n),
        rng.uniform(0, h, n),
        rng.uniform(1.5, 6, n),
        rng.uniform(0.6, 1.4, n),
        strict=True,
    ):
        c = pal[int(rng.integers(0, len(pal)))] * v
        cv2.circle(img, (int(x), int(y)), int(r), tuple(float(a) for a in c), -1, cv2.LINE_AA)
        cv2.circle(
            img,
            (int(x - r / 3), int(y - r / 3)),
            max(1, int(r / 3)),
            tuple(float(a) for a in np.minimum(c * 1.3, 1)),
            -1,
            cv2.LINE_AA,
        )
    img *= (0.85 + 0.3 * fractal_noise(rng, h, w, 24, 3, 0.5))[..., None]
    return cv2.GaussianBlur(img, (3, 3), 0.6)


def _bg_indoor(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    hue = rng.uniform(0, 1)
    wall1 = _hsv(hue, rng.uniform(0.1, 0.5), rng.uniform(0.45, 0.85))
    wall2 = _shift_colour(wall1, rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.2), -rng.uniform(0.1, 0.3))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, np.pi)
    freq = rng.uniform(0.05, 0.18)
    m = 0.5 + 0.5 * np.sin(freq * (xs * np.cos(ang) + ys * np.sin(ang)) + 3 * fractal_noise(rng, h, w, 3, 3))
    if rng.random() < 0.5:  # damask-like second pattern
        m = m * (0.5 + 0.5 * np.sin(freq * 1.7 * (xs * np.sin(ang) - ys * np.cos(ang))))
    img = wall1 * (1 - m[..., None]) + wall2 * m[..., None]
    floor_y = int(h * rng.uniform(0.45, 0.8))
    wood = _hsv(rng.uniform(0.05, 0.11), rng.uniform(0.4, 0.7), rng.uniform(0.3, 0.6))
    grain = fractal_noise(rng, h - floor_y, w, 6, 4, 0.5)
    stretched = cv2.resize(grain[:, : max(2, w // 8)], (w, h - floor_y), interpolation=cv2.INTER_CUBIC)
    floor = wood * (0.7 + 0.6 * stretched)[..., None]
    plank = int(rng.uniform(8, 18))
    floor[::plank] *= 0.55
    img[floor_y:] = floor
    for _ in range(int(rng.integers(3, 7))):  # furniture / frames
        x0, y0 = int(rng.uniform(0, w - 20)), int(rng.uniform(0, floor_y))
        rw, rh = int(rng.uniform(20, 90)), int(rng.uniform(20, 90))
        col = _hsv(rng.uniform(0, 1), rng.uniform(0.2, 0.7), rng.uniform(0.15, 0.8))
        x1, y1 = min(x0 + rw, w), min(y0 + rh, h)
        if rng.random() < 0.5:  # a picture: a small colourised-noise "painting" in a frame
            pal = _palette(rng, rng.uniform(0, 1), 4, 0.3, (0.2, 0.8), (0.1, 0.95))
            img[y0:y1, x0:x1] = _colourise(fractal_noise(rng, y1 - y0, x1 - x0, 3, 4, 0.6), pal)
        else:  # a cabinet / panel: grained colour
            grain = 0.75 + 0.5 * fractal_noise(rng, y1 - y0, x1 - x0, 8, 3, 0.6)
            img[y0:y1, x0:x1] = col * grain[..., None]
        cv2.rectangle(img, (x0, y0), (x0 + rw, y0 + rh), tuple(float(v) for v in col * 0.5), 3, cv2.LINE_AA)
    img = img.astype(np.float32) * (0.85 + 0.3 * fractal_noise(rng, h, w, 20, 3, 0.5))[..., None]
    return cv2.GaussianBlur(img, (3, 3), 0.6)


def make_background(rng: np.random.Generator, h: int, w: int, style: str | None = None) -> np.ndarray:
    """A textured background ``(h, w, 3)`` float32 RGB in ``[0, 1]``, never flat or black.

    ``style`` is one of ``foliage``, ``urban``, ``terrain``, ``indoor`` (random when ``None``).
    A global light gradient in a random direction is applied on top.
    """
    if style is None:
        style = str(rng.choice(_BACKGROUND_STYLES))
    fn = {"foliage": _bg_foliage, "urban": _bg_urban, "terrain": _bg_terrain, "indoor": _bg_indoor}[style]
    img = fn(rng, h, w)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    grad = (xs * np.cos(ang) + ys * np.sin(ang)) / max(h, w)
    grad = 0.8 + 0.4 * (grad - grad.min()) / max(float(grad.max() - grad.min()), 1e-6)
    img = img * grad[..., None]
    return np.clip(img, 0.03, 1.0).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# Textured objects (targets, distractors, occluders)


@dataclass
class _Look:
    """The appearance recipe of an object; rendered at any size by :func:`_render_look`."""

    shape: str  # "ellipse" | "superellipse" | "blob"
    p: float  # superellipse exponent
    harmonics: np.ndarray  # (k, 3): order, amplitude, phase (blob outline)
    colours: np.ndarray  # (3, 3) RGB
    pattern: str  # "stripes" | "spots" | "checks" | "rings" | "camo"
    freq: float
    angle: float
    phase: float
    features: bool  # "eyes": an orientation cue
    light: np.ndarray  # (3,)
    seed: int  # pattern details (spots, camouflage)
    outline: float = 0.45

    def variant(self, rng: np.random.Generator, hue: float, val: float, pattern_change: bool) -> _Look:
        """A look of the same family: colours shifted by ``hue``/``val``, pattern re-drawn."""
        cols = np.stack(
            [_shift_colour(c, hue + rng.uniform(-0.01, 0.01), rng.uniform(-0.1, 0.1), val) for c in self.colours]
        )
        return _Look(
            shape=self.shape,
            p=self.p,
            harmonics=self.harmonics
            + np.c_[
                np.zeros(len(self.harmonics)),
                rng.normal(0, 0.02, len(self.harmonics)),
                rng.normal(0, 0.5, len(self.harmonics)),
            ],
            colours=cols,
            pattern=str(rng.choice(_PATTERNS)) if pattern_change else self.pattern,
            freq=self.freq * rng.uniform(0.8, 1.25),
            angle=self.angle + rng.uniform(-0.5, 0.5),
            phase=rng.uniform(0, 2 * np.pi),
            features=self.features,
            light=self.light,
            seed=int(rng.integers(0, 2**31)),
            outline=self.outline,
        )


_PATTERNS = ("stripes", "spots", "checks", "rings", "camo")


def _random_look(rng: np.random.Generator, kind: str = "target") -> _Look:
    """A random appearance: ``kind`` is ``"target"`` (saturated, contrasted, maybe with eyes) or
    ``"occluder"`` (muted colours; a boxy superellipse or a blob, so that it really covers)."""
    shape = str(rng.choice(["ellipse", "superellipse", "blob"]))
    p = float(rng.uniform(3.0, 6.0))
    if kind == "occluder":
        shape = "superellipse" if rng.random() < 0.7 else "blob"
        p = float(rng.uniform(4.0, 8.0))
        hue = rng.uniform(0, 1)
        cols = np.stack(
            [_hsv(hue + rng.uniform(-0.05, 0.05), rng.uniform(0.1, 0.6), rng.uniform(0.15, 0.75)) for _ in range(3)]
        )
        pattern = str(rng.choice(["stripes", "camo", "checks"]))
        features = False
    else:
        hue = rng.uniform(0, 1)
        c0 = _hsv(hue, rng.uniform(0.45, 0.95), rng.uniform(0.45, 0.95))
        c1 = _hsv(hue + rng.uniform(0.25, 0.75), rng.uniform(0.3, 0.9), rng.uniform(0.15, 1.0))
        c2 = _hsv(hue + rng.uniform(-0.1, 0.1), rng.uniform(0.2, 0.6), rng.uniform(0.6, 1.0))
        cols = np.stack([c0, c1, c2])
        pattern = str(rng.choice(_PATTERNS))
        features = bool(rng.random() < 0.4)
    k = int(rng.integers(2, 5))
    harmonics = np.c_[rng.integers(2, 6, k), rng.uniform(0.03, 0.12, k), rng.uniform(0, 2 * np.pi, k)]
    light = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.8, -0.2), 1.0])
    return _Look(
        shape=shape,
        p=p,
        harmonics=harmonics,
        colours=cols,
        pattern=pattern,
        freq=float(rng.uniform(1.2, 3.5)),
        angle=float(rng.uniform(0, np.pi)),
        phase=float(rng.uniform(0, 6.3)),
        features=features,
        light=light / np.linalg.norm(light),
        seed=int(rng.integers(0, 2**31)),
    )


def _render_look(look: _Look, w: float, h: float) -> np.ndarray:
    """Render ``look`` as a premultiplied RGBA sprite whose shape spans about ``w`` x ``h`` px.

    Returns ``(Hs, Ws, 4)`` float32 (RGB premultiplied by alpha, alpha in ``[0, 1]``).
    """
    pad = 2
    ws, hs = int(math.ceil(w)) + 2 * pad, int(math.ceil(h)) + 2 * pad
    ys, xs = np.mgrid[0:hs, 0:ws].astype(np.float32)
    u = (xs - (ws - 1) / 2) / (w / 2)
    v = (ys - (hs - 1) / 2) / (h / 2)
    if look.shape == "ellipse":
        f = np.sqrt(u * u + v * v)
    elif look.shape == "superellipse":
        f = (np.abs(u) ** look.p + np.abs(v) ** look.p) ** (1.0 / look.p)
    else:
        r = np.sqrt(u * u + v * v)
        th = np.arctan2(v, u)
        thg = np.linspace(-np.pi, np.pi, 361)
        rad = 1 + sum(a * np.cos(k * thg + ph) for k, a, ph in look.harmonics)
        scale = rad.max()
        rr = 1 + sum(a * np.cos(k * th + ph) for k, a, ph in look.harmonics)
        f = r / (rr / scale)
    f = f.astype(np.float32)
    # anti-aliased edge: (1 - f) / |grad f| is the distance to the outline in pixels
    gy, gx = np.gradient(f)
    alpha = np.clip(0.5 + (1.0 - f) / np.maximum(np.sqrt(gx * gx + gy * gy), 1e-3), 0.0, 1.0)

    prng = np.random.default_rng(look.seed)
    ca, sa = math.cos(look.angle), math.sin(look.angle)
    uu, vv = u * ca + v * sa, -u * sa + v * ca
    if look.pattern == "stripes":
        m = _smoothstep(-0.35, 0.35, np.sin(2 * np.pi * look.freq * uu + look.phase))
    elif look.pattern == "checks":
        m = _smoothstep(-0.3, 0.3, np.sin(np.pi * look.freq * uu + look.phase) * np.sin(np.pi * look.freq * vv))
    elif look.pattern == "rings":
        m = _smoothstep(-0.35, 0.35, np.sin(2 * np.pi * look.freq * f + look.phase))
    elif look.pattern == "spots":
        m = np.zeros((hs, ws), np.float32)
        n = int(prng.integers(4, 10))
        for _ in range(n):
            cx, cy = prng.uniform(0, ws), prng.uniform(0, hs)
            rad_px = max(1.0, min(w, h) * prng.uniform(0.07, 0.18))
            cv2.circle(m, (int(cx), int(cy)), int(round(rad_px)), 1.0, -1, cv2.LINE_AA)
    else:  # camo
        m = _smoothstep(0.42, 0.58, fractal_noise(prng, hs, ws, max(2.0, look.freq), 3, 0.5))
    m = m.astype(np.float32)[..., None]
    c0, c1, c2 = (c.astype(np.float32) for c in look.colours)
    col = c0 * (1 - m) + c1 * m
    tex = fractal_noise(prng, hs, ws, max(2.0, min(w, h) / 6), 3, 0.5)
    col = col * (0.82 + 0.36 * tex)[..., None]
    col = col * (1 - 0.25 * _smoothstep(0.6, 0.9, tex))[..., None] + c2 * 0.25 * _smoothstep(0.6, 0.9, tex)[..., None]
    # shading of a dome, lit by look.light
    nz = np.sqrt(np.clip(1.0 - np.minimum(f, 1.0) ** (4 if look.shape == "superellipse" else 2), 0, 1))
    norm = np.sqrt(u * u + v * v + nz * nz) + 1e-6
    lam = np.clip((u * look.light[0] + v * look.light[1] + nz * look.light[2]) / norm, 0, 1)
    col = col * (0.45 + 0.6 * lam)[..., None]
    spec = _smoothstep(0.93, 1.0, lam) * 0.25
    col = col + spec[..., None]
    col = col * (1 - look.outline * _smoothstep(0.8, 1.0, f))[..., None]
    if look.features:
        for sx in (-0.34, 0.34):
            d = np.sqrt((u - sx) ** 2 + (v + 0.25) ** 2)
            eye = _smoothstep(0.2, 0.14, d)[..., None]
            col = col * (1 - eye) + np.float32(0.95) * eye
            pupil = _smoothstep(0.11, 0.07, np.sqrt((u - sx) ** 2 + (v + 0.22) ** 2))[..., None]
            col = col * (1 - pupil) + np.float32(0.05) * pupil
    col = np.clip(col, 0, 1)
    return np.concatenate([col * alpha[..., None], alpha[..., None]], axis=2).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# Planned objects: a sprite plus per-frame pose


@dataclass
class _Track:
    """An object's sprite and its pose in every frame (centre in 0-based pixel coordinates)."""

    sprite: np.ndarray  # (Hs, Ws, 4) premultiplied
    render_scale: float  # sprite pixels per unit of `scale`
    cx: np.ndarray
    cy: np.ndarray
    scale: np.ndarray
    aspect: np.ndarray | None = None
    theta: np.ndarray | None = None  # radians
    squash: np.ndarray | None = None  # horizontal squash (out-of-plane rotation)
    back: np.ndarray | None = None  # bool: show back_sprite
    back_sprite: np.ndarray | None = None
    warp: float = 0.0  # non-rigid warp amplitude (fraction of the sprite size)
    warp_period: float = 20.0
    exposure: float = 0.0  # motion blur length = exposure * speed
    opacity: np.ndarray | None = None
    grid: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def velocity(self, t: int) -> tuple[float, float]:
        if t == 0:
            return 0.0, 0.0
        return float(self.cx[t] - self.cx[t - 1]), float(self.cy[t] - self.cy[t - 1])


def _line_kernel(dx: float, dy: float) -> np.ndarray:
    length = math.hypot(dx, dy)
    k = int(math.ceil(length)) | 1
    ker = np.zeros((k, k), np.float32)
    c = (k - 1) / 2
    ux, uy = dx / max(length, 1e-6), dy / max(length, 1e-6)
    p0 = (int(round((c - ux * length / 2) * 16)), int(round((c - uy * length / 2) * 16)))
    p1 = (int(round((c + ux * length / 2) * 16)), int(round((c + uy * length / 2) * 16)))
    cv2.line(ker, p0, p1, 1.0, 1, cv2.LINE_AA, shift=4)
    s = float(ker.sum())
    if s <= 0:
        ker[int(c), int(c)] = 1.0
        s = 1.0
    return ker / s


def _place(track: _Track, t: int) -> tuple[np.ndarray, np.ndarray, int, int, float]:
    """Warp ``track``'s sprite to its pose at frame ``t``.

    Returns ``(rgba, alpha, x0, y0, blur)``: the premultiplied RGBA layer (motion blurred), the
    unblurred alpha (for the ground truth), both on a local canvas whose top-left pixel is
    ``(x0, y0)`` in the frame, and the motion blur length in pixels.
    """
    sprite = track.sprite
    if track.back is not None and track.back[t] and track.back_sprite is not None:
        sprite = track.back_sprite
    hs, ws = sprite.shape[:2]
    if track.warp > 0:
        if track.grid is None:
            ys, xs = np.mgrid[0:hs, 0:ws].astype(np.float32)
            track.grid = (xs, ys)
        xs, ys = track.grid
        amp = track.warp * min(hs, ws)
        ph = 2 * np.pi * t / track.warp_period
        lam = 0.9 * max(hs, ws)
        mx = xs + amp * np.sin(2 * np.pi * ys / lam + ph)
        my = ys + 0.6 * amp * np.sin(2 * np.pi * xs / lam + 1.3 * ph + 1.0)
        sprite = cv2.remap(sprite, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    s = float(track.scale[t]) / track.render_scale
    a = float(track.aspect[t]) if track.aspect is not None else 1.0
    q = float(track.squash[t]) if track.squash is not None else 1.0
    th = float(track.theta[t]) if track.theta is not None else 0.0
    sx, sy = s * math.sqrt(a) * q, s / math.sqrt(a)
    c, si = math.cos(th), math.sin(th)
    A = np.array([[c * sx, -si * sy], [si * sx, c * sy]])
    centre_s = np.array([(ws - 1) / 2, (hs - 1) / 2])
    tvec = np.array([track.cx[t], track.cy[t]]) - A @ centre_s
    corners = np.array([[0, 0], [ws - 1, 0], [0, hs - 1], [ws - 1, hs - 1]], np.float64)
    pts = corners @ A.T + tvec
    vx, vy = track.velocity(t)
    blur = track.exposure * math.hypot(vx, vy)
    pad = int(math.ceil(blur / 2)) + 2
    x0 = int(math.floor(pts[:, 0].min())) - pad
    y0 = int(math.floor(pts[:, 1].min())) - pad
    x1 = int(math.ceil(pts[:, 0].max())) + pad
    y1 = int(math.ceil(pts[:, 1].max())) + pad
    M = np.c_[A, tvec - np.array([x0, y0])]
    out = cv2.warpAffine(
        sprite,
        M,
        (x1 - x0 + 1, y1 - y0 + 1),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    alpha = out[..., 3].copy()
    if blur >= 1.5:
        out = cv2.filter2D(
            out, -1, _line_kernel(vx * track.exposure, vy * track.exposure), borderType=cv2.BORDER_CONSTANT
        )
    return out, alpha, x0, y0, blur


def _composite(frame: np.ndarray, rgba: np.ndarray, x0: int, y0: int, opacity: float = 1.0) -> None:
    """Alpha-blend a premultiplied RGBA layer into ``frame`` in place at top-left ``(x0, y0)``."""
    H, W = frame.shape[:2]
    h, w = rgba.shape[:2]
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
    if fx1 <= fx0 or fy1 <= fy0 or opacity <= 0:
        return
    sub = rgba[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    a = sub[..., 3:4] * opacity
    region = frame[fy0:fy1, fx0:fx1]
    region *= 1.0 - a
    region += sub[..., :3] * opacity


def _overlap(a: np.ndarray, ax: int, ay: int, b: np.ndarray, bx: int, by: int) -> float:
    """Fraction of the mass of alpha ``a`` covered by alpha ``b`` (both with top-left offsets)."""
    total = float(a.sum())
    if total <= 0:
        return 0.0
    x0, y0 = max(ax, bx), max(ay, by)
    x1, y1 = min(ax + a.shape[1], bx + b.shape[1]), min(ay + a.shape[0], by + b.shape[0])
    if x1 <= x0 or y1 <= y0:
        return 0.0
    sa = a[y0 - ay : y1 - ay, x0 - ax : x1 - ax]
    sb = b[y0 - by : y1 - by, x0 - bx : x1 - bx]
    return float((sa * sb).sum()) / total


# --------------------------------------------------------------------------------------------------
# Planning a sequence


@dataclass
class _Scenario:
    """Everything about a sequence, planned before the first frame is rendered."""

    spec: SequenceSpec
    background: np.ndarray  # (H + 2P, W + 2P, 3)
    cam: np.ndarray  # (N, 2) top-left of the view in the background canvas
    target: _Track
    behind: list[_Track]  # distractors and other objects, drawn under the target
    occluders: list[_Track]  # drawn over the target
    gain: np.ndarray  # (N, 3) per-channel global gain
    light_field: np.ndarray | None  # (2H, 2W) multiplicative field
    light_pos: np.ndarray | None  # (N, 2) integer offsets into light_field
    shake: np.ndarray  # (N, 2) camera-shake blur vector of the whole frame
    noise: np.ndarray  # (K, H, W, 3) sensor noise frames
    info: dict[str, Any]


_PAD = 48  # background canvas margin for the camera pan


def _safe_range(extent: float, size: int) -> tuple[float, float]:
    lo, hi = extent + 3.0, size - 1 - extent - 3.0
    if lo > hi:
        lo = hi = (size - 1) / 2
    return lo, hi


def _plan_trajectory(
    rng: np.random.Generator,
    N: int,
    W: int,
    H: int,
    extent: np.ndarray,
    cap_base: float,
    fm_bursts: list[tuple[int, int]],
    mb_segments: list[tuple[int, int]],
    ov_events: list[tuple[int, int, bool]],
) -> tuple[np.ndarray, np.ndarray]:
    """The target's centre in every frame (0-based pixels), from a waypoint controller.

    The target heads for random waypoints at up to ``cap_base`` px/frame with some inertia, kept
    inside the image (``extent`` is its radius per frame). A fast-motion burst ``(start, length)``
    sends it to the far side of the image at 22-28 px/frame; during a motion-blur segment
    ``(start, end)`` it moves at 9-16. An out-of-view event ``(start, hold, full)`` sends it across
    the nearest border: when ``full`` until it has disappeared, where it waits ``hold`` frames
    before coming straight back; otherwise until its centre is 0-0.3 radii beyond the border
    (about half visible), where it lingers ``hold`` frames. The image bounds are not enforced
    until it is back inside. Bursts and out-of-view events never overlap: one that falls due
    during the other waits for its end.
    """
    cx, cy = np.zeros(N), np.zeros(N)
    lo_x, hi_x = _safe_range(extent[0], W)
    lo_y, hi_y = _safe_range(extent[0], H)
    p = np.array([rng.uniform(lo_x, hi_x), rng.uniform(lo_y, hi_y)])
    v = np.zeros(2)
    wp = p.copy()
    wp_timer = 0
    phase, hold_left, exit_timer, burst_left, full = "", 0, 0, 0, False
    ov_queue = sorted(ov_events)
    burst_queue = sorted(fm_bursts)
    cx[0], cy[0] = p
    for t in range(1, N):
        lo_x, hi_x = _safe_range(extent[t], W)
        lo_y, hi_y = _safe_range(extent[t], H)
        r = float(extent[t])
        if burst_left == 0 and not phase and ov_queue and ov_queue[0][0] <= t:
            # start an out-of-view event at the nearest border
            _, hold_left, full = ov_queue.pop(0)
            off = r * 1.2 + 4 if full else rng.uniform(0.0, 0.3) * r + 1
            side = int(np.argmin([p[0], W - 1 - p[0], p[1], H - 1 - p[1]]))
            wp = np.array(
                [
                    -off if side == 0 else (W - 1 + off if side == 1 else p[0]),
                    -off if side == 2 else (H - 1 + off if side == 3 else p[1]),
                ]
            )
            phase, exit_timer = "exit", 60
        elif burst_left == 0 and not phase and burst_queue and burst_queue[0][0] <= t:
            # start a fast-motion burst towards the far side, along the roomier axis
            burst_left = burst_queue.pop(0)[1]
            if hi_x - lo_x >= hi_y - lo_y:
                wp = np.array([hi_x if p[0] < (lo_x + hi_x) / 2 else lo_x, rng.uniform(lo_y, hi_y)])
            else:
                wp = np.array([rng.uniform(lo_x, hi_x), hi_y if p[1] < (lo_y + hi_y) / 2 else lo_y])
        if phase == "exit":
            exit_timer -= 1
            rr = 0.8 * r  # about the half-size of the box
            gone = min(p[0] + rr, W - 1 + rr - p[0], p[1] + rr, H - 1 + rr - p[1]) < -1
            if np.linalg.norm(wp - p) < 4 or exit_timer <= 0 or (full and gone):
                phase = "hold"
                if full:  # wait out of sight, then come straight back
                    v = np.zeros(2)
        elif phase == "hold":
            hold_left -= 1
            if hold_left <= 0:
                phase = "return"
                wp = np.array([rng.uniform(lo_x, hi_x), rng.uniform(lo_y, hi_y)])
                if full:
                    d = wp - p
                    v = d / max(float(np.linalg.norm(d)), 1e-6) * max(cap_base, 6.0)
        elif phase == "return":
            if lo_x <= p[0] <= hi_x and lo_y <= p[1] <= hi_y:
                phase = ""
        if not phase and burst_left == 0 and (wp_timer <= 0 or np.linalg.norm(wp - p) < 4):
            wp = np.array([rng.uniform(lo_x, hi_x), rng.uniform(lo_y, hi_y)])
            wp_timer = int(rng.integers(15, 50))
        wp_timer -= 1
        if burst_left > 0:
            cap, gain, inertia = rng.uniform(22, 28), 0.6, 0.9
            burst_left -= 1
        elif any(a <= t < b for a, b in mb_segments):
            cap, gain, inertia = rng.uniform(9, 16), 0.3, 0.6
        elif phase:
            cap, gain, inertia = max(cap_base, 6.0), 0.25, 0.4
        else:
            cap, gain, inertia = cap_base, 0.08, 0.15
        d = wp - p
        dist = float(np.linalg.norm(d))
        v_des = d / max(dist, 1e-6) * min(cap, dist * gain)
        v = v + inertia * (v_des - v) + rng.normal(0, 0.25, 2)
        if phase == "hold" and full:
            v = np.zeros(2)
        p = p + v
        if not phase:
            if not lo_x <= p[0] <= hi_x:
                v[0] = -0.5 * v[0]
            if not lo_y <= p[1] <= hi_y:
                v[1] = -0.5 * v[1]
            p = np.array([np.clip(p[0], lo_x, hi_x), np.clip(p[1], lo_y, hi_y)])
        cx[t], cy[t] = p
    return cx, cy


@dataclass
class _Pose:
    """The target's base size and its per-frame pose curves."""

    width: float
    height: float
    scale: np.ndarray
    theta: np.ndarray
    aspect: np.ndarray | None
    warp: float
    squash: np.ndarray | None
    back: np.ndarray | None

    @property
    def extent(self) -> np.ndarray:
        """Per-frame radius of the target (half its diagonal)."""
        return 0.5 * math.hypot(self.width, self.height) * self.scale


def _plan_pose(rng: np.random.Generator, at: set[str], N: int) -> _Pose:
    """Size (LR), scale (SV), deformation (DEF), in-plane (IPR) and out-of-plane (OPR) rotation."""
    if "LR" in at:
        big = rng.uniform(14.0, 20.0)
        small = min(big * rng.uniform(0.7, 1.0), 360.0 / big)  # first-frame box area < 400
    else:
        big = rng.uniform(30.0, 58.0)
        small = big * rng.uniform(0.45, 1.0)
    if "SV" in at:
        # a low-resolution target only grows (shrinking it further would leave a few pixels)
        modes = ["grow", "grow_back"] if "LR" in at else ["grow", "shrink", "grow_back", "shrink_back"]
        mode = str(rng.choice(modes))
        peak = rng.uniform(2.3, 2.8) if mode.startswith("grow") else rng.uniform(0.32, 0.42)
        if mode.startswith("grow") and "LR" not in at:
            big, small = big * 0.75, small * 0.75
        t_peak = rng.uniform(0.45, 0.75) * N if mode.endswith("back") else rng.uniform(0.6, 0.9) * N
        keys_t = [0, rng.uniform(0.05, 0.2) * N, t_peak]
        keys_v = [1.0, 1.0, peak]
        if mode.endswith("back"):
            keys_t.append(min(N - 1.0, t_peak + rng.uniform(0.15, 0.3) * N))
            keys_v.append(rng.uniform(0.9, 1.2))
        scale = _keyframes(N, keys_t, keys_v) * (1 + 0.04 * _smooth1d(rng, N, 15))
        scale[0] = 1.0
    else:
        scale = 1.0 + 0.15 * _smooth1d(rng, N, rng.uniform(25, 60))
        scale = np.clip(scale / scale[0], 0.7, 1.4)
    tw, th = (big, small) if rng.random() < 0.5 else (small, big)
    aspect = None
    warp = 0.0
    if "DEF" in at:
        period = rng.uniform(20, 45)
        aspect = np.exp(rng.uniform(0.15, 0.3) * np.sin(2 * np.pi * np.arange(N) / period + rng.uniform(0, 6.3)))
        aspect = aspect / aspect[0]
        warp = float(rng.uniform(0.04, 0.08))
    if "IPR" in at:
        # rotation-rate segments of +-1.5..4 degrees per frame, eased; at least 80 degrees in all
        keys_t, keys_w, t_k = [0.0], [0.0], rng.uniform(0.05, 0.2) * N
        while t_k < N:
            keys_t.append(t_k)
            keys_w.append(float(rng.choice([-1, 1]) * rng.uniform(1.5, 4.0) * (rng.random() < 0.8)))
            t_k += rng.uniform(15, 45)
        omega = np.deg2rad(_keyframes(N, keys_t, keys_w))
        theta = np.cumsum(omega) - omega[0]
        span = float(theta.max() - theta.min())
        if span < np.deg2rad(80):
            theta = theta * np.deg2rad(80) / max(span, 1e-6)
    else:
        theta = np.deg2rad(5.0) * _smooth1d(rng, N, 30)
        theta = theta - theta[0]
    squash = None
    back = None
    if "OPR" in at:
        # turns about the vertical axis: phi keyframes; the back shows while cos(phi) < 0
        n_turns = int(rng.integers(1, 3))
        times = np.sort(rng.uniform(0.15, 0.95, 2 * n_turns)) * N
        vals = []
        ang = 0.0
        for _ in range(n_turns):
            ang += rng.choice([-1, 1]) * rng.uniform(0.6 * np.pi, 1.1 * np.pi)
            vals.append(ang)
            ang += rng.choice([-1, 1]) * rng.uniform(0.3 * np.pi, 1.0 * np.pi)
            vals.append(ang)
        phi = _keyframes(N, [0, *times], [0, *vals])
        squash = np.maximum(np.abs(np.cos(phi)), 0.4)
        back = np.cos(phi) < 0
    return _Pose(tw, th, scale, theta, aspect, warp, squash, back)


def _wander(rng: np.random.Generator, N: int, W: int, H: int, cap: float) -> tuple[np.ndarray, np.ndarray]:
    """A free random walk between random goals at about ``cap`` px/frame (other objects)."""
    q = np.array([rng.uniform(0, W), rng.uniform(0, H)])
    u = np.zeros(2)
    goal = q.copy()
    xs, ys = np.zeros(N), np.zeros(N)
    for k in range(N):
        if np.linalg.norm(goal - q) < 5 or rng.random() < 0.02:
            goal = np.array([rng.uniform(0, W), rng.uniform(0, H)])
        d = goal - q
        u = u + 0.15 * (d / max(np.linalg.norm(d), 1e-6) * cap - u)
        q = q + u
        xs[k], ys[k] = q
    return xs, ys


def _plan_clutter(
    rng: np.random.Generator,
    at: set[str],
    N: int,
    W: int,
    H: int,
    look: _Look,
    pose: _Pose,
    rs: float,
    cx: np.ndarray,
    cy: np.ndarray,
    background: np.ndarray,
) -> tuple[list[_Track], list[_Track], int]:
    """Other objects: distractors of the target's family (BC) and an unrelated wanderer.

    For BC also paints blotches of the target's colours and static look-alike decoys into
    ``background`` (in place). Returns ``(behind, front, n_distractors)``: objects drawn under the
    target and (a distractor that crosses it) over it.
    """
    behind: list[_Track] = []
    front: list[_Track] = []
    tw, th = pose.width, pose.height
    n_d = 0
    if "BC" in at:
        n_d = int(rng.integers(2, 5))
        base_ext = 0.5 * math.hypot(tw, th)
        for k in range(n_d):
            # same family, told apart by a small hue / brightness shift or a different pattern
            var = look.variant(
                rng,
                rng.choice([-1, 1]) * rng.uniform(0.04, 0.1),
                rng.uniform(-0.2, 0.1),
                pattern_change=bool(rng.random() < 0.4),
            )
            f = rng.uniform(0.85, 1.15)
            spr = _render_look(var, tw * rs * f, th * rs * f)
            if k == 0:  # a shadowing distractor that repeatedly passes close to the target
                rad = base_ext * (1.6 + 1.1 * _smooth1d(rng, N, rng.uniform(15, 35)))
                ang = rng.uniform(0, 6.3) + np.cumsum(rng.normal(0, 0.08, N))
                dx, dy = cx + rad * pose.scale * np.cos(ang), cy + rad * pose.scale * np.sin(ang)
            else:
                dx, dy = _wander(rng, N, W, H, rng.uniform(1.0, 3.5))
            dth = (pose.theta if "IPR" in at and rng.random() < 0.5 else 0 * pose.theta) + rng.uniform(-0.5, 0.5)
            track = _Track(
                sprite=spr,
                render_scale=rs,
                cx=dx,
                cy=dy,
                scale=pose.scale.copy(),
                theta=dth,
                aspect=pose.aspect,
            )
            if k == 0 and rng.random() < 0.4:
                front.append(track)  # passes in front of the target: a similar-looking occluder
            else:
                behind.append(track)
        # blotches of the target's colours in the background
        hb, wb = background.shape[:2]
        blot = _colourise(fractal_noise(rng, hb, wb, 6, 4, 0.55), look.colours[[0, 2, 1]])
        where = _smoothstep(0.5, 0.65, fractal_noise(rng, hb, wb, 3, 3, 0.5))
        where = (where * rng.uniform(0.4, 0.7))[..., None]
        shade = 0.6 + 0.4 * background.mean(2, keepdims=True)
        background[:] = background * (1 - where) + blot * shade * where
        # static decoys painted into the background
        for _ in range(int(rng.integers(2, 6))):
            var = look.variant(rng, rng.uniform(-0.1, 0.1), rng.uniform(-0.25, 0.05), pattern_change=True)
            f = rng.uniform(0.7, 1.2)
            dec = _render_look(var, tw * f, th * f)
            x0 = int(rng.uniform(0, wb - dec.shape[1]))
            y0 = int(rng.uniform(0, hb - dec.shape[0]))
            _composite(background, dec, x0, y0, opacity=float(rng.uniform(0.7, 1.0)))
    if rng.random() < 0.5:  # an unrelated object wandering around
        other = _random_look(rng, "target")
        f = rng.uniform(0.6, 1.5)
        ox, oy = _wander(rng, N, W, H, rng.uniform(0.8, 3.0))
        behind.append(
            _Track(
                sprite=_render_look(other, tw * f, th * f),
                render_scale=1.0,
                cx=ox,
                cy=oy,
                scale=np.ones(N),
                theta=np.full(N, rng.uniform(-0.6, 0.6)),
            )
        )
    return behind, front, n_d


def _plan_occluders(
    rng: np.random.Generator, N: int, pose: _Pose, cx: np.ndarray, cy: np.ndarray
) -> tuple[list[_Track], list[dict[str, Any]]]:
    """1-2 occlusion events (OCC): textured occluders sweeping across the target.

    An occluder crosses the target's position at the event's frame ``tc`` with its own constant
    velocity (a 10-18th of the target's size per frame, at least 2.5 px, against the target's motion
    so that the two never travel together).
    A full occluder is the target's size plus ``hold * speed`` long, hiding it for about ``hold``
    (1-5) frames; a partial one is offset sideways to cover 45-75% of the target's width.
    """
    occluders: list[_Track] = []
    events: list[dict[str, Any]] = []
    centres = np.sort(rng.uniform(0.2, 0.9, int(rng.integers(1, 3)))) * N
    for j, tc in enumerate(centres):
        full = bool(rng.random() < (0.5 if j == 0 else 0.3))
        tci = int(tc)
        # the target's axis-aligned half sizes at tc
        a = float(pose.aspect[tci]) if pose.aspect is not None else 1.0
        q = float(pose.squash[tci]) if pose.squash is not None else 1.0
        ww = pose.width * math.sqrt(a) * q * pose.scale[tci]
        hh = pose.height / math.sqrt(a) * pose.scale[tci]
        c, sn = abs(math.cos(pose.theta[tci])), abs(math.sin(pose.theta[tci]))
        half = np.array([ww * c + hh * sn, ww * sn + hh * c]) / 2
        horiz = bool(rng.random() < 0.7)
        u_dir = np.array([1.0, 0.0]) if horiz else np.array([0.0, 1.0])
        size_u, size_n = (2 * half[0], 2 * half[1]) if horiz else (2 * half[1], 2 * half[0])
        a0, a1 = max(0, tci - 10), min(N - 1, tci + 10)
        v_t = np.array([cx[a1] - cx[a0], cy[a1] - cy[a0]]) / max(a1 - a0, 1)
        along_v = float(v_t @ u_dir)
        u_dir = u_dir * (-np.sign(along_v) if abs(along_v) > 0.3 else rng.choice([-1, 1]))
        n_dir = np.array([-u_dir[1], u_dir[0]])
        vr = float(np.clip(size_u * rng.uniform(0.1, 0.18), 2.5, 9.0))  # crosses in 11-20 frames
        if full:
            hold = rng.uniform(1, 5)
            along = size_u + 4 + hold * vr
            perp = size_n * rng.uniform(1.3, 1.7) + 8
            e = 0.0
        else:
            along = size_u * rng.uniform(0.6, 1.0) + 4
            perp = size_n * rng.uniform(0.9, 1.4) + 4
            e = perp / 2 + size_n / 2 - rng.uniform(0.45, 0.75) * size_n
        half_win = int(math.ceil(((along + size_u) / 2 + 6) / vr))
        tt = np.arange(N) - tci
        ox = cx[tci] + vr * tt * u_dir[0] + e * n_dir[0]
        oy = cy[tci] + vr * tt * u_dir[1] + e * n_dir[1]
        # drawn only within an extended window around the event, fading in and out
        w0, w1 = tci - half_win - 25, tci + half_win + 25
        opacity = np.clip(np.minimum(np.arange(N) - w0, w1 - np.arange(N)) / 5.0, 0, 1)
        olook = _random_look(rng, "occluder")
        ow, oh = (along, perp) if horiz else (perp, along)
        occluders.append(
            _Track(
                sprite=_render_look(olook, ow, oh),
                render_scale=1.0,
                cx=ox,
                cy=oy,
                scale=np.ones(N),
                opacity=opacity,
                theta=np.full(N, rng.uniform(-0.08, 0.08)),
            )
        )
        events.append({"frame": tci + 1, "full": full})
    return occluders, events


def _plan_illumination(rng: np.random.Generator, N: int, W: int, H: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IV: per-frame RGB gain (fades to 0.3-1.6, tint drift, flashes) and a moving light/shadow.

    Returns ``(gain (N, 3), light_field (2H, 2W, 1), light_pos (N, 2))``: frame ``t`` is multiplied by
    ``gain[t]`` and by the ``H x W`` window of ``light_field`` at offset ``light_pos[t]``.
    """
    n_keys = int(rng.integers(2, 5))
    times = np.sort(rng.uniform(0.1, 0.95, n_keys)) * N
    levels = rng.uniform(0.4, 1.45, n_keys)
    levels[int(rng.integers(0, n_keys))] = rng.choice([rng.uniform(0.3, 0.45), rng.uniform(1.4, 1.6)])
    keys_t, keys_v = [0.0], [1.0]
    for tk, lv in zip(times, levels, strict=True):
        keys_t += [tk, tk + rng.uniform(2, 12)]
        keys_v += [keys_v[-1], lv]
    order = np.argsort(keys_t, kind="stable")
    g = _keyframes(N, np.array(keys_t)[order], np.array(keys_v)[order])
    tint = 1.0 + 0.15 * np.stack([_smooth1d(rng, N, rng.uniform(20, 50)) for _ in range(3)], axis=1)
    gain = g[:, None] * tint / tint[0]
    for _ in range(int(rng.integers(0, 3))):  # flashes
        tf = int(rng.integers(N // 5, N))
        gain[tf : tf + int(rng.integers(1, 3))] *= rng.uniform(1.4, 1.8)
    ys, xs = np.mgrid[0 : 2 * H, 0 : 2 * W].astype(np.float32)
    depth = rng.choice([rng.uniform(-0.65, -0.4), rng.uniform(0.4, 0.7)])
    sig = rng.uniform(35, 80)
    if rng.random() < 0.5:  # a spot
        blob = np.exp(-((xs - W) ** 2 + (ys - H) ** 2) / (2 * sig**2))
    else:  # a soft band
        ang = rng.uniform(0, np.pi)
        dd = (xs - W) * np.cos(ang) + (ys - H) * np.sin(ang)
        blob = np.exp(-(dd**2) / (2 * sig**2))
    light_field = (1.0 + depth * blob).astype(np.float32)[..., None]
    start, end = rng.uniform([0, 0], [W, H]), rng.uniform([0, 0], [W, H])
    f = np.linspace(0, 1, N)[:, None]
    light_pos = np.round(start * (1 - f) + end * f).astype(int)
    return gain, light_field, light_pos


def _plan(spec: SequenceSpec) -> _Scenario:
    """Plan every object, pose and effect of ``spec`` (pure function of the spec)."""
    rng = spec.rng(0)
    W, H = spec.image_size
    N = spec.n_frames
    at = set(spec.attributes)

    style = str(rng.choice(_BACKGROUND_STYLES))
    background = make_background(rng, H + 2 * _PAD, W + 2 * _PAD, style)
    cam = np.stack(
        [
            _PAD + 0.8 * _PAD * _smooth1d(rng, N, rng.uniform(40, 90)),
            _PAD + 0.6 * _PAD * _smooth1d(rng, N, rng.uniform(40, 90)),
        ],
        axis=1,
    )
    cam = np.clip(cam, 0, 2 * _PAD)

    pose = _plan_pose(rng, at, N)
    fm_bursts: list[tuple[int, int]] = []
    if "FM" in at:
        for _ in range(int(rng.integers(1, 4))):
            t0 = int(rng.uniform(0.1, 0.9) * N)
            fm_bursts.append((t0, int(rng.integers(2, 4))))
    mb_segments: list[tuple[int, int]] = []
    if "MB" in at:
        for _ in range(int(rng.integers(2, 4))):
            t0 = int(rng.uniform(0.1, 0.85) * N)
            mb_segments.append((t0, t0 + int(rng.integers(5, 12))))
    ov_events: list[tuple[int, int, bool]] = []  # start, hold frames, fully out
    if "OV" in at:
        starts = np.sort(rng.uniform(0.15, 0.6, int(rng.integers(1, 3)))) * N
        if len(starts) == 2:  # well apart
            starts[1] = max(starts[1], starts[0] + 30)
        for t0 in starts[starts < 0.85 * N]:
            full = bool(rng.random() < 0.5)
            ov_events.append((int(t0), int(rng.integers(1, 5)) if full else int(rng.integers(5, 14)), full))
    cx, cy = _plan_trajectory(rng, N, W, H, pose.extent, rng.uniform(1.0, 3.2), fm_bursts, mb_segments, ov_events)

    look = _random_look(rng, "target")
    rs = float(np.clip(pose.scale.max(), 1.0, 2.2))  # sprite resolution: sharp at the largest scale
    sprite = _render_look(look, pose.width * rs, pose.height * rs)
    back_sprite = None
    if "OPR" in at:
        back_look = look.variant(
            rng,
            rng.choice([-1, 1]) * rng.uniform(0.05, 0.15),
            rng.uniform(-0.2, 0.1),
            pattern_change=bool(rng.random() < 0.5),
        )
        back_look.features = False
        back_sprite = _render_look(back_look, pose.width * rs, pose.height * rs)
    exposure = float(rng.uniform(0.8, 1.1)) if "MB" in at else 0.0
    target = _Track(
        sprite=sprite,
        render_scale=rs,
        cx=cx,
        cy=cy,
        scale=pose.scale,
        aspect=pose.aspect,
        theta=pose.theta,
        squash=pose.squash,
        back=pose.back,
        back_sprite=back_sprite,
        warp=pose.warp,
        warp_period=float(rng.uniform(10, 25)),
        exposure=exposure,
    )

    behind, front, n_distractors = _plan_clutter(rng, at, N, W, H, look, pose, rs, cx, cy, background)
    occluders = list(front)
    occ_events: list[dict[str, Any]] = []
    if "OCC" in at:
        occ, occ_events = _plan_occluders(rng, N, pose, cx, cy)
        occluders += occ

    light_field = light_pos = None
    if "IV" in at:
        gain, light_field, light_pos = _plan_illumination(rng, N, W, H)
    else:
        gain = np.ones((N, 3)) * rng.uniform(0.9, 1.08)

    shake = np.zeros((N, 2))  # camera-shake blur (MB): the whole frame, and a jolt of the view
    if "MB" in at:
        for _ in range(int(rng.integers(1, 3))):
            t0 = int(rng.integers(N // 6, N - 3))
            ang = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(6, 13)
            shake[t0 : t0 + int(rng.integers(2, 5))] = [length * math.cos(ang), length * math.sin(ang)]
            cam[t0:] += np.array([math.cos(ang), math.sin(ang)]) * length * 0.5
        cam = np.clip(cam, 0, 2 * _PAD)

    sigma = rng.uniform(0.008, 0.02)
    noise = spec.rng(1).standard_normal((3, H, W, 3), dtype=np.float32) * np.float32(sigma)
    info = {
        "background": style,
        "target_size": [round(float(pose.width), 1), round(float(pose.height), 1)],
        "target_look": {"shape": look.shape, "pattern": look.pattern, "eyes": bool(look.features)},
        "distractors": int(n_distractors),
        "fm_bursts": len(fm_bursts),
        "mb_segments": len(mb_segments),
        "ov_events": [{"frame": a + 1, "fully_out": f} for a, _, f in ov_events],
        "occlusions": occ_events,
    }
    return _Scenario(spec, background, cam, target, behind, occluders, gain, light_field, light_pos, shake, noise, info)


# --------------------------------------------------------------------------------------------------
# Rendering


@dataclass
class SyntheticFrame:
    """One rendered frame.

    Attributes:
        image: ``(H, W, 3)`` RGB uint8 (before JPEG compression).
        box: ``(4,)`` float64 ground truth ``x, y, w, h`` (1-based; ``0, 0, 0, 0`` when out of view).
        full_box: the unclipped box of the whole target (may extend beyond the image).
        occlusion: fraction of the target's alpha covered by occluders.
        blur: motion blur length of the target in pixels.
        mask: ``(H, W)`` bool mask of the (unoccluded) target, or ``None`` unless requested.
    """

    image: np.ndarray
    box: np.ndarray
    full_box: np.ndarray
    occlusion: float
    blur: float
    mask: np.ndarray | None = None


def iter_frames(spec: SequenceSpec, *, draw_target: bool = True, with_masks: bool = False) -> Iterator[SyntheticFrame]:
    """Render the frames of ``spec`` one by one.

    Args:
        spec: the sequence.
        draw_target: draw the target (``False`` renders the scene without it; the ground truth is
            unchanged; used to check that the box really holds the target).
        with_masks: attach the target mask to every frame.
    """
    return _frames(_plan(spec), draw_target=draw_target, with_masks=with_masks)


def _frames(sc: _Scenario, *, draw_target: bool = True, with_masks: bool = False) -> Iterator[SyntheticFrame]:
    spec = sc.spec
    W, H = spec.image_size
    tgt = sc.target
    for t in range(spec.n_frames):
        ox, oy = sc.cam[t]
        frame = cv2.warpAffine(
            sc.background,
            np.array([[1.0, 0, -ox], [0, 1.0, -oy]]),
            (W, H),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        for obj in sc.behind:
            rgba, _, x0, y0, _ = _place(obj, t)
            _composite(frame, rgba, x0, y0)
        rgba, alpha, tx0, ty0, blur = _place(tgt, t)
        if draw_target:
            _composite(frame, rgba, tx0, ty0)
        occ = 0.0
        for obj in sc.occluders:
            op = float(obj.opacity[t]) if obj.opacity is not None else 1.0
            if op <= 0:
                continue
            orgba, oalpha, ox0, oy0, _ = _place(obj, t)
            _composite(frame, orgba, ox0, oy0, op)
            occ = max(occ, op * _overlap(alpha, tx0, ty0, oalpha, ox0, oy0))
        if sc.light_field is not None and sc.light_pos is not None:
            lx, ly = sc.light_pos[t]
            frame *= sc.light_field[ly : ly + H, lx : lx + W]
        frame *= sc.gain[t].astype(np.float32)
        if np.any(sc.shake[t] != 0):
            frame = cv2.filter2D(frame, -1, _line_kernel(*sc.shake[t]), borderType=cv2.BORDER_REFLECT)
            blur = max(blur, float(np.hypot(*sc.shake[t])))
        frame += sc.noise[t % len(sc.noise)]
        image = np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)

        m = alpha >= 0.5
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        if rows.size == 0:  # degenerate: fall back to the pose centre
            rows = cols = np.array([0])
            tx0, ty0 = int(round(tgt.cx[t])), int(round(tgt.cy[t]))
        fx0, fx1 = tx0 + cols[0], tx0 + cols[-1]
        fy0, fy1 = ty0 + rows[0], ty0 + rows[-1]
        full_box = np.array([fx0 + 1, fy0 + 1, fx1 - fx0 + 1, fy1 - fy0 + 1], np.float64)
        cx0, cx1 = max(fx0, 0), min(fx1, W - 1)
        cy0, cy1 = max(fy0, 0), min(fy1, H - 1)
        if cx1 < cx0 or cy1 < cy0:
            box = np.zeros(4)
        else:
            box = np.array([cx0 + 1, cy0 + 1, cx1 - cx0 + 1, cy1 - cy0 + 1], np.float64)
        mask = None
        if with_masks:
            mask = np.zeros((H, W), bool)
            mh, mw = m.shape
            x0c, y0c = max(tx0, 0), max(ty0, 0)
            x1c, y1c = min(tx0 + mw, W), min(ty0 + mh, H)
            if x1c > x0c and y1c > y0c:
                mask[y0c:y1c, x0c:x1c] = m[y0c - ty0 : y1c - ty0, x0c - tx0 : x1c - tx0]
        yield SyntheticFrame(image, box, full_box, occ, blur, mask)


@dataclass
class SyntheticSequence:
    """A rendered sequence held in memory.

    Attributes:
        spec: what was rendered.
        frames: RGB uint8 images.
        gt: ``(N, 4)`` float64 ground truth (OTB convention; ``0`` rows when fully out of view).
        attributes: final attribute tags (designed plus measured).
        stats: measured quantities (max centre jump, scale range, max occlusion, ...).
        masks: per-frame target masks when requested, else ``None``.
    """

    spec: SequenceSpec
    frames: list[np.ndarray]
    gt: np.ndarray
    attributes: tuple[str, ...]
    stats: dict[str, Any]
    masks: list[np.ndarray] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def __len__(self) -> int:
        return len(self.frames)


def _measure(
    spec: SequenceSpec, boxes: np.ndarray, full: np.ndarray, occ: np.ndarray, blur: np.ndarray
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """Measure the OTB attributes from the ground truth; return the final tags and the stats."""
    valid = np.all(boxes[:, 2:] > 0, axis=1)
    centres = boxes[:, :2] + (boxes[:, 2:] - 1) / 2
    both = valid[1:] & valid[:-1]
    jumps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    max_jump = float(jumps[both].max()) if both.any() else 0.0
    lin = np.sqrt(full[:, 2] * full[:, 3] / (full[0, 2] * full[0, 3]))
    visible = (boxes[:, 2] * boxes[:, 3]) / (full[:, 2] * full[:, 3])
    measured = set()
    if max_jump > _FM_PIXELS:
        measured.add("FM")
    if lin.max() > _SV_RATIO or lin.min() < 1 / _SV_RATIO:
        measured.add("SV")
    if boxes[0, 2] * boxes[0, 3] < _LR_AREA:
        measured.add("LR")
    if visible.min() < _OV_VISIBLE:
        measured.add("OV")
    if occ.max() >= _OCC_FRACTION:
        measured.add("OCC")
    if blur.max() >= _MB_LENGTH:
        measured.add("MB")
    tags = tuple(a for a in ATTRIBUTES if a in measured or a in spec.attributes)
    stats = {
        "max_centre_jump": round(max_jump, 2),
        "scale_range": [round(float(lin.min()), 3), round(float(lin.max()), 3)],
        "first_area": float(boxes[0, 2] * boxes[0, 3]),
        "min_visible_fraction": round(float(visible.min()), 3),
        "frames_out_of_view": int((~valid).sum()),
        "max_occlusion": round(float(occ.max()), 3),
        "frames_occluded_over_half": int((occ > 0.5).sum()),
        "max_blur": round(float(blur.max()), 2),
        "designed": list(spec.attributes),
        "measured": [a for a in ATTRIBUTES if a in measured],
    }
    missing = [a for a in ("FM", "SV", "LR", "OV", "OCC", "MB") if a in spec.attributes and a not in measured]
    stats["designed_not_measured"] = missing
    return tags, stats


def render_sequence(spec: SequenceSpec, *, draw_target: bool = True, with_masks: bool = False) -> SyntheticSequence:
    """Render ``spec`` into memory (see :func:`iter_frames` for the arguments)."""
    frames, boxes, full, occ, blur, masks = [], [], [], [], [], []
    for fr in iter_frames(spec, draw_target=draw_target, with_masks=with_masks):
        frames.append(fr.image)
        boxes.append(fr.box)
        full.append(fr.full_box)
        occ.append(fr.occlusion)
        blur.append(fr.blur)
        if fr.mask is not None:
            masks.append(fr.mask)
    gt = np.array(boxes)
    tags, stats = _measure(spec, gt, np.array(full), np.array(occ), np.array(blur))
    return SyntheticSequence(spec, frames, gt, tags, stats, masks if with_masks else None)


def _encode_jpeg(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg",
        cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
        [
            cv2.IMWRITE_JPEG_QUALITY,
            JPEG_QUALITY,
            cv2.IMWRITE_JPEG_OPTIMIZE,
            0,
            cv2.IMWRITE_JPEG_PROGRESSIVE,
            0,
        ],
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def _format_box(b: np.ndarray) -> str:
    return ",".join(str(int(round(v))) for v in b)


def write_sequence(spec: SequenceSpec, folder: str | Path) -> dict[str, Any]:
    """Render ``spec`` and write it in the OTB layout to ``folder/spec.name`` (atomically).

    The sequence is written to a hidden temporary folder first and renamed into place, replacing
    any previous version, so an interrupted generation never leaves a half-written sequence.

    Returns:
        The sequence's metadata (name, frames, attributes, stats, ...).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / spec.name
    tmp = folder / f".{spec.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "img").mkdir(parents=True)
    boxes, full, occ, blur = [], [], [], []
    sc = _plan(spec)
    for i, fr in enumerate(_frames(sc), start=1):
        (tmp / "img" / f"{i:04d}.jpg").write_bytes(_encode_jpeg(fr.image))
        boxes.append(fr.box)
        full.append(fr.full_box)
        occ.append(fr.occlusion)
        blur.append(fr.blur)
    gt = np.array(boxes)
    tags, stats = _measure(spec, gt, np.array(full), np.array(occ), np.array(blur))
    (tmp / "groundtruth_rect.txt").write_text("".join(_format_box(b) + "\n" for b in gt))
    (tmp / "attributes.txt").write_text(",".join(tags) + "\n")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return {
        "name": spec.name,
        "split": spec.split,
        "n_frames": spec.n_frames,
        "attributes": list(tags),
        "image_size": list(spec.image_size),
        "stats": stats,
        "scene": sc.info,
    }


# --------------------------------------------------------------------------------------------------
# The whole benchmark

_README = """\
rankatt synthetic tracking benchmark (OTB format)
=================================================

Procedurally generated video sequences for visual object tracking, written by
rankatt_lib.synthetic (generator version {version}) with seed {seed}. NOT the OTB benchmark:
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
        "generator": "rankatt_lib.synthetic",
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
