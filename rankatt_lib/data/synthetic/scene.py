"""A sequence's scene, planned ahead: objects with a pose per frame, trajectories, clutter, occluders, light."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from rankatt_lib.data.synthetic.spec import SequenceSpec
from rankatt_lib.data.synthetic.textures import (
    _BACKGROUND_STYLES,
    _colourise,
    _keyframes,
    _Look,
    _random_look,
    _render_look,
    _smooth1d,
    _smoothstep,
    fractal_noise,
    make_background,
)

__all__ = []


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
