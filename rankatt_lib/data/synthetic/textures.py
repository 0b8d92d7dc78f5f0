"""Textures: fractal noise, colour palettes, the four background styles, the textured looks of objects."""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ['fractal_noise', 'make_background']


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
