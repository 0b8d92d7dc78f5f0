"""Tracking sequences made of real photographs, in the OTB format (a dataset generator).

The tracker's updater has otherwise only seen :mod:`rankatt_lib.data.synthetic`'s procedural textures;
the paper trains on real video (UAV123, TC128), which cannot be downloaded everywhere. Trackers of
the SiamFC/DiMP era learned from still images by moving crops of them; this module does the same:
:func:`make_photo_benchmark` writes pseudo-sequences cut from real photographs, in exactly the layout
of :mod:`rankatt_lib.data.synthetic` (``<root>/<split>/<SEQ>/img/0001.jpg``, ``groundtruth_rect.txt``,
``attributes.txt``, ``<root>/meta.json``), so that :class:`rankatt_lib.data.otb.OTBFormatDataset`, the
training clips and every evaluation protocol read it unchanged. It imports no tracker.

Photographs (:func:`gather_photos`)
    Bundled with PyPI packages, so ``pip install`` brings them (no download at run time): 11 photos
    shipped inside the scikit-image wheel (``skimage/data``; only the files in the wheel, never the
    ones skimage fetches with pooch) and ``grace_hopper.jpg`` of matplotlib's sample data. Every
    photo has a fixed split (:data:`BUILTIN_PHOTOS`): **test, val and train use disjoint photos**,
    so a test score is never measured on a photograph seen in training. Extra photo folders
    (``photo_dirs``, e.g. Debian wallpapers) are split by the SHA-256 of each file.

Two kinds of sequence
    * ``object``: the target is a crop of one photo (rectangle, ellipse or rounded rectangle, with a
      soft alpha edge) moving over another photo, seen by a slowly panning camera.
    * ``camera``: the target is a region of the background photo itself, and the camera moves (pans,
      zooms, rolls) over the static photo: a crop window moving over a photograph.

Attributes and the rule that tags each (OTB codes, Wu et al. 2015); see :data:`ATTRIBUTE_RULES`
    Each sequence is designed around 2-4 attributes (the first cycles through all 11). The tags
    written to ``attributes.txt`` are not the design but what the generator applied, by the rules
    below; FM, SV, LR, OV, OCC and MB are measured from the ground truth with the thresholds of
    :mod:`rankatt_lib.data.synthetic`, so an incidental fast motion is tagged as well.

Ground truth
    The tight axis-aligned box of the target's (unoccluded, unblurred) alpha mask at 0.5 in OTB's
    1-based ``x,y,w,h``, clipped to the image when partly out of view, and ``0,0,0,0`` when entirely
    out of view (the convention of :mod:`rankatt_lib.data.synthetic`: every protocol of
    :mod:`rankatt_lib.evaluation.metrics` treats such a row as an invalid ground-truth frame). Frame 1 is
    always fully visible.

Determinism and resuming
    Everything is drawn from ``SeedSequence(seed, spawn_key=(split, index, stream))``; the same
    command with the same photos gives byte-identical files. A sequence is rendered into a hidden
    ``.<name>.tmp`` folder and renamed into place with a ``sequence.json`` that records its
    fingerprint (generator version, seed, plan, photo hashes) and a SHA-256 of its files. A second
    run skips every sequence whose record matches and whose files hash to the recorded value, and
    redoes the others (a killed run's temporary folder, a damaged or stale sequence).
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np

from rankatt_lib.data.synthetic.benchmark import add_generation_options
from rankatt_lib.data.synthetic.render import _encode_jpeg, _format_box, _measure
from rankatt_lib.data.synthetic.scene import _composite, _line_kernel, _overlap, _plan_illumination
from rankatt_lib.data.synthetic.spec import ATTRIBUTES, IMAGE_SIZE, JPEG_QUALITY
from rankatt_lib.data.synthetic.textures import _keyframes, _smooth1d

__all__ = [
    "ATTRIBUTES",
    "ATTRIBUTE_RULES",
    "BUILTIN_PHOTOS",
    "GENERATOR_VERSION",
    "IMAGE_SIZE",
    "SPLITS",
    "Photo",
    "PhotoSourceError",
    "GenerationBusyError",
    "PhotoSequenceSpec",
    "PhotoFrame",
    "PhotoSequence",
    "gather_photos",
    "photos_by_split",
    "plan_photo_benchmark",
    "iter_frames",
    "render_sequence",
    "write_sequence",
    "sequence_is_complete",
    "make_photo_benchmark",
    "main",
]

GENERATOR_VERSION = "1.0.0"
"""Bumped whenever the generated pixels or ground truth change for a given seed and photo set."""

SPLITS: dict[str, int] = {"test": 11, "val": 13, "train": 12}
"""Split name -> spawn-key code of its random streams (other codes than the synthetic set's)."""

ATTRIBUTE_RULES: dict[str, str] = {
    "IV": "illumination (global gain x moving light/shadow field) at the target centre varies by a factor >= 1.5",
    "SV": "sqrt of the target box area leaves [1/2, 2] x its first-frame value (measured)",
    "OCC": "another photo's patch covers >= 30% of the target's alpha mass in some frame (measured)",
    "DEF": "the target is deformed non-rigidly (sine warp of the crop and aspect breathing)",
    "MB": "target or whole-frame motion blur of >= 6 px length in some frame (measured)",
    "FM": "the box centre moves > 20 px between two consecutive frames (measured)",
    "IPR": "the target rotates in the image plane by >= 30 degrees from its first pose",
    "OPR": "the target turns about its vertical axis (width squashed below 0.5, its back side shown)",
    "OV": "less than 80% of the target's box is inside the image in some frame (measured)",
    "BC": "a distractor cut from the target's own photo stays within 2 target sizes of it in >= 25% of the "
    "frames, or the object moves over the very photo it was cut from",
    "LR": "the first-frame box has fewer than 400 pixels (measured)",
}
"""How each attribute tag of ``attributes.txt`` is decided."""

_IV_RATIO = 1.5
_IPR_DEGREES = 30.0
_OPR_SQUASH = 0.5
_BC_FRACTION = 0.25
_BC_DISTANCE = 2.0

_NAME = re.compile(r"photo_(test|val|train)_\d{3,}")


# --------------------------------------------------------------------------------------------------
# Photographs


class PhotoSourceError(FileNotFoundError):
    """A photograph the generator needs is not installed; the message says which and how to get it."""


@dataclass(frozen=True)
class _Builtin:
    key: str
    module: str  # the Python package whose folder holds the file
    distribution: str  # its PyPI name
    relpath: str  # inside the package folder
    licence: str
    credit: str
    split: str


BUILTIN_PHOTOS: tuple[_Builtin, ...] = (
    # test: 2 colour + 2 grey photos
    _Builtin(
        "astronaut", "skimage", "scikit-image", "data/astronaut.png", "public domain", "NASA (Eileen Collins)", "test"
    ),
    _Builtin(
        "coffee", "skimage", "scikit-image", "data/coffee.png", "CC0", "Rachel Michetti / Pikolo Espresso Bar", "test"
    ),
    _Builtin(
        "coins",
        "skimage",
        "scikit-image",
        "data/coins.png",
        "no known copyright restrictions",
        "Brooklyn Museum Collection",
        "test",
    ),
    _Builtin("gravel", "skimage", "scikit-image", "data/gravel.png", "CC0", "CC0Textures (Gravel04)", "test"),
    # val
    _Builtin(
        "grace_hopper",
        "matplotlib",
        "matplotlib",
        "mpl-data/sample_data/grace_hopper.jpg",
        "public domain",
        "U.S. Navy photograph (matplotlib sample data)",
        "val",
    ),
    _Builtin("brick", "skimage", "scikit-image", "data/brick.png", "CC0", "CC0Textures (Bricks25)", "val"),
    _Builtin(
        "clock", "skimage", "scikit-image", "data/clock_motion.png", "public domain", "Stefan van der Walt", "val"
    ),
    # train
    _Builtin("chelsea", "skimage", "scikit-image", "data/chelsea.png", "CC0", "Stefan van der Walt", "train"),
    _Builtin("rocket", "skimage", "scikit-image", "data/rocket.jpg", "public domain", "SpaceX", "train"),
    _Builtin("camera", "skimage", "scikit-image", "data/camera.png", "CC0", "Lav Varshney", "train"),
    _Builtin("grass", "skimage", "scikit-image", "data/grass.png", "CC0", "DeviantArt linolafett (Grass-01)", "train"),
    _Builtin(
        "hubble_deep_field", "skimage", "scikit-image", "data/hubble_deep_field.jpg", "public domain", "NASA", "train"
    ),
)
"""The bundled photographs (licences as stated in scikit-image's ``skimage/data/_fetchers.py``
docstrings; matplotlib's Grace Hopper portrait is an official U.S. Navy photograph) and their split."""

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class Photo:
    """One source photograph.

    Attributes:
        key: unique id (``astronaut``; ``dir:<file name>`` for a photo of an extra folder).
        split: ``test``, ``val`` or ``train``: the only split that uses it.
        source: where it comes from (``scikit-image 0.26.0``, or the extra folder's name).
        file: its path inside the package (``skimage/data/astronaut.png``) or its file name.
        path: where it is on this machine (not recorded in metadata).
        sha256: hash of the file's bytes.
        licence, credit: as stated by the source.
    """

    key: str
    split: str
    source: str
    file: str
    path: Path = field(compare=False)
    sha256: str
    licence: str
    credit: str

    def load(self) -> np.ndarray:
        """The photo as RGB ``uint8 (H, W, 3)`` (grey photos get 3 equal channels)."""
        return _load_rgb(str(self.path), self.sha256).copy()

    def record(self) -> dict[str, str]:
        """What ``meta.json`` says about the photo."""
        return {
            "key": self.key,
            "split": self.split,
            "source": self.source,
            "file": self.file,
            "sha256": self.sha256,
            "licence": self.licence,
            "credit": self.credit,
        }


@lru_cache(maxsize=32)
def _load_rgb(path: str, sha256: str) -> np.ndarray:
    data = Path(path).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise PhotoSourceError(f"photo {path} changed since it was gathered (SHA-256 differs)")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise PhotoSourceError(f"photo {path} cannot be decoded")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    rgb.setflags(write=False)
    return rgb


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _split_of_hash(digest: str) -> str:
    """Split of an extra photo, from its hash: about 25% test, 15% val, 60% train."""
    u = int(digest[:8], 16) % 100
    return "test" if u < 25 else "val" if u < 40 else "train"


def _find_copyright(folder: Path) -> Path | None:
    """A licence file for an extra photo folder: ``copyright`` (Debian's machine-readable format),
    ``LICENSE``/``LICENCE``/``COPYING`` in the folder, or, for a folder unpacked from a Debian
    package (``dpkg -x pkg.deb root``: ``root/usr/share/backgrounds/...``), that package's
    ``root/usr/share/doc/<package>/copyright``."""
    for name in ("copyright", "LICENSE", "LICENSE.txt", "LICENCE", "LICENCE.txt", "COPYING"):
        if (folder / name).is_file():
            return folder / name
    parts = folder.resolve().parts
    if "usr" in parts:
        root = Path(*parts[: len(parts) - parts[::-1].index("usr") - 1])
        found = sorted((root / "usr" / "share" / "doc").glob("*/copyright"))
        if len(found) == 1:
            return found[0]
    return None


def _read_dep5(path: Path) -> list[tuple[list[str], str, str]]:
    """``(file patterns, licence, first copyright line)`` of each ``Files:`` stanza of a Debian
    machine-readable copyright file (empty for any other text)."""
    stanzas: list[tuple[list[str], str, str]] = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8", errors="replace")):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if m and not line.startswith((" ", "\t")):
                key = m.group(1).lower()
                fields[key] = m.group(2).strip()
            elif key is not None:
                fields[key] += " " + line.strip()
        if "files" in fields and "license" in fields:
            stanzas.append((fields["files"].split(), fields["license"], fields.get("copyright", "").split("  ")[0]))
    return stanzas


def _licence_of(photo: Path, stanzas: list[tuple[list[str], str, str]], copyright_file: Path | None) -> tuple[str, str]:
    """``(licence, credit)`` of an extra photo: a ``<photo>.licence``/``.license`` file's first line,
    else the last matching stanza of a Debian copyright file, else a pointer to the licence file."""
    for suffix in (".licence", ".license"):
        side = photo.with_name(photo.name + suffix)
        if side.is_file():
            lines = side.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            return (lines[0].strip() if lines else "not stated"), " ".join(x.strip() for x in lines[1:2])
    posix = photo.resolve().as_posix()
    found = None
    for patterns, licence, credit in stanzas:  # DEP-5: the last matching stanza wins
        if any(fnmatch.fnmatchcase(posix, "*/" + pat) or pat == "*" for pat in patterns):
            found = (licence, credit)
    if found is not None:
        return found
    if copyright_file is not None:
        return f"see {copyright_file.name} beside the photos", ""
    return "not stated", ""


def gather_photos(photo_dirs: Iterable[str | Path] = (), *, builtin: bool = True) -> list[Photo]:
    """The source photographs: the bundled ones (:data:`BUILTIN_PHOTOS`) and every image file of
    ``photo_dirs`` (not recursive; a file's split follows from its SHA-256, so it never moves; its
    licence comes from a ``<file>.licence`` line, the folder's Debian ``copyright`` file or the one
    of the Debian package the folder was unpacked from, see :func:`_find_copyright`).

    Raises:
        PhotoSourceError: a package that bundles photos is not installed, or a file is missing from
            it; the message names the package, the files and the ``pip install`` that brings them.
    """
    photos: list[Photo] = []
    if builtin:
        missing: dict[str, list[str]] = {}
        for b in BUILTIN_PHOTOS:
            spec = importlib.util.find_spec(b.module)
            if spec is None or not spec.submodule_search_locations:
                missing.setdefault(f"{b.distribution} (not installed)", []).append(b.key)
                continue
            folder = Path(list(spec.submodule_search_locations)[0])
            path = folder / b.relpath
            if not path.is_file():
                missing.setdefault(f"{b.distribution} (no {b.module}/{b.relpath})", []).append(b.key)
                continue
            version = importlib.metadata.version(b.distribution)
            photos.append(
                Photo(
                    b.key,
                    b.split,
                    f"{b.distribution} {version}",
                    f"{b.module}/{b.relpath}",
                    path,
                    _sha256(path),
                    b.licence,
                    b.credit,
                )
            )
        if missing:
            what = "; ".join(f"{pkg}: {', '.join(keys)}" for pkg, keys in missing.items())
            dists = sorted({b.distribution for b in BUILTIN_PHOTOS})
            raise PhotoSourceError(
                f"the photo sequences need photographs bundled with PyPI packages; missing: {what}. "
                f"Install them with: pip install {' '.join(dists)} (they are dependencies of rankatt-lib)"
            )
    for d in photo_dirs:
        d = Path(d)
        if not d.is_dir():
            raise PhotoSourceError(f"photo folder {d} does not exist")
        files = sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
        if not files:
            raise PhotoSourceError(f"photo folder {d} holds no image files ({', '.join(PHOTO_SUFFIXES)})")
        copyright_file = _find_copyright(d)
        stanzas = _read_dep5(copyright_file) if copyright_file is not None else []
        for p in files:
            digest = _sha256(p)
            licence, credit = _licence_of(p, stanzas, copyright_file)
            photos.append(
                Photo(f"dir:{p.name}", _split_of_hash(digest), f"folder {d.name}", p.name, p, digest, licence, credit)
            )
    keys = [p.key for p in photos]
    if len(set(keys)) != len(keys):
        raise PhotoSourceError(f"two photos have the same key: {sorted(k for k in keys if keys.count(k) > 1)}")
    return photos


def photos_by_split(photos: Sequence[Photo]) -> dict[str, tuple[Photo, ...]]:
    """``{split: photos}``; a photo belongs to exactly one split."""
    return {sp: tuple(p for p in photos if p.split == sp) for sp in SPLITS}


# --------------------------------------------------------------------------------------------------
# Plan


@dataclass(frozen=True)
class PhotoSequenceSpec:
    """Everything needed to render one sequence (rendering is a pure function of this).

    Attributes:
        name: folder name, ``photo_test_000``.
        split, index: its split and position there.
        seed: the benchmark seed.
        mode: ``"object"`` (a crop moving over another photo) or ``"camera"`` (the camera moves
            over the photo the target is part of).
        attributes: designed attributes (the written tags are those applied, see :data:`ATTRIBUTE_RULES`).
        n_frames: number of frames.
        photos: the split's photographs (the only ones the sequence may use).
        image_size: ``(width, height)``.
    """

    name: str
    split: str
    index: int
    seed: int
    mode: str
    attributes: tuple[str, ...]
    n_frames: int
    photos: tuple[Photo, ...]
    image_size: tuple[int, int] = IMAGE_SIZE

    def rng(self, stream: int = 0) -> np.random.Generator:
        ss = np.random.SeedSequence(entropy=self.seed, spawn_key=(SPLITS[self.split], self.index, stream))
        return np.random.default_rng(ss)

    def fingerprint(self) -> str:
        """Hash of everything the frames depend on (recorded in ``sequence.json``)."""
        d = {
            "generator_version": GENERATOR_VERSION,
            "jpeg_quality": JPEG_QUALITY,
            "opencv": cv2.__version__,
            "name": self.name,
            "split": self.split,
            "index": self.index,
            "seed": self.seed,
            "mode": self.mode,
            "attributes": list(self.attributes),
            "n_frames": self.n_frames,
            "image_size": list(self.image_size),
            "photos": [[p.key, p.sha256] for p in self.photos],
        }
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


_CAMERA_ATTRS = tuple(a for a in ATTRIBUTES if a not in ("DEF", "OPR"))  # a static scene does not deform


def _split_list(split: str) -> tuple[str, ...]:
    if split == "all":
        return ("test", "val", "train")
    if split in SPLITS:
        return (split,)
    raise ValueError(f"split must be 'test', 'val', 'train' or 'all', got {split!r}")


def plan_photo_benchmark(
    seed: int = 0,
    split: str = "all",
    *,
    n_test: int = 20,
    n_val: int = 10,
    n_train: int = 40,
    length_range: tuple[int, int] = (100, 100),
    image_size: tuple[int, int] = IMAGE_SIZE,
    photos: Sequence[Photo] | None = None,
) -> list[PhotoSequenceSpec]:
    """The sequences of the benchmark, without rendering anything (cheap).

    Every third sequence (index 2, 5, ...) is a ``camera`` sequence, the others ``object``
    sequences. ``photos`` defaults to :func:`gather_photos`; a split without photos is an error.
    """
    lo, hi = int(length_range[0]), int(length_range[1])
    if not 2 <= lo <= hi:
        raise ValueError(f"length_range must satisfy 2 <= min <= max, got {length_range}")
    photos = gather_photos() if photos is None else list(photos)
    groups = photos_by_split(photos)
    counts = {"test": n_test, "val": n_val, "train": n_train}
    specs: list[PhotoSequenceSpec] = []
    for sp in _split_list(split):
        if counts[sp] > 0 and not groups[sp]:
            raise PhotoSourceError(f"no photographs for the {sp} split")
        for i in range(counts[sp]):
            rng = np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(SPLITS[sp], i, 99)))
            mode = "camera" if i % 3 == 2 else "object"
            allowed = ATTRIBUTES if mode == "object" else _CAMERA_ATTRS
            first = allowed[i % len(allowed)]
            others = [a for a in allowed if a != first]
            k = int(rng.integers(1, 4))
            chosen = {first, *(str(a) for a in rng.choice(others, size=k, replace=False))}
            attrs = tuple(a for a in ATTRIBUTES if a in chosen)
            n = int(rng.integers(lo, hi + 1))
            specs.append(
                PhotoSequenceSpec(
                    f"photo_{sp}_{i:03d}", sp, i, int(seed), mode, attrs, n, groups[sp], tuple(image_size)
                )
            )
    return specs


# --------------------------------------------------------------------------------------------------
# Sprites: crops of photographs with an alpha mask


def _alpha_mask(h: int, w: int, shape: str, feather: float) -> np.ndarray:
    """A float32 ``(h, w)`` alpha in ``[0, 1]``: 0.5 on the shape's outline, soft over ``feather`` px."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    a, b = w / 2.0, h / 2.0
    x, y = xs + 0.5 - a, ys + 0.5 - b
    if shape == "ellipse":
        r = np.sqrt((x / a) ** 2 + (y / b) ** 2)
        d = (r - 1.0) * min(a, b)
    elif shape == "rounded":
        rad = 0.3 * min(a, b)
        qx, qy = np.abs(x) - (a - rad), np.abs(y) - (b - rad)
        d = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0) - rad
    else:  # rectangle
        d = np.maximum(np.abs(x) - a, np.abs(y) - b)
    d = d + feather  # the soft edge lies inside the crop, so the 0.5 contour is inside it too
    return np.clip(0.5 - d / max(feather, 0.5), 0.0, 1.0).astype(np.float32)


def _texture_score(img: np.ndarray) -> float:
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(cv2.Laplacian(g, cv2.CV_32F).var()) + float(g.std())


def _pick_region(
    rng: np.random.Generator,
    photo: np.ndarray,
    cw: int,
    ch: int,
    tries: int = 10,
    avoid: tuple[float, float] | None = None,
) -> tuple[int, int]:
    """Top-left of a ``cw x ch`` region of ``photo`` with much texture (best of ``tries`` random ones);
    with ``avoid=(x, y)``, regions overlapping the region at that top-left are not taken."""
    ph, pw = photo.shape[:2]
    best, best_xy = -1.0, (0, 0)
    for _ in range(tries):
        x = int(rng.integers(0, max(pw - cw, 0) + 1))
        y = int(rng.integers(0, max(ph - ch, 0) + 1))
        if avoid is not None and abs(x - avoid[0]) < cw and abs(y - avoid[1]) < ch:
            continue
        s = _texture_score(photo[y : y + ch, x : x + cw])
        if s > best:
            best, best_xy = s, (x, y)
    return best_xy


def _sprite(
    photo: np.ndarray, x: int, y: int, cw: int, ch: int, out_w: int, out_h: int, shape: str, feather: float
) -> np.ndarray:
    """Premultiplied float32 RGBA ``(out_h, out_w, 4)`` of the region, resized (area-averaged when shrinking)."""
    crop = photo[y : y + ch, x : x + cw]
    interp = cv2.INTER_AREA if out_w < cw else cv2.INTER_CUBIC
    rgb = cv2.resize(crop, (out_w, out_h), interpolation=interp).astype(np.float32) / 255.0
    alpha = _alpha_mask(out_h, out_w, shape, feather)
    return np.dstack([rgb * alpha[..., None], alpha])


@dataclass
class _Object:
    """A sprite and its pose in every frame: frame = T(cx, cy) R(theta) diag(sx, sy) (sprite - centre)."""

    sprite: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    sx: np.ndarray
    sy: np.ndarray
    theta: np.ndarray  # radians
    back: np.ndarray | None = None  # the sprite shown while turned away (OPR)
    turned: np.ndarray | None = None  # (N,) bool
    warp: float = 0.0  # DEF: sine warp amplitude as a fraction of the sprite size
    warp_period: float = 20.0
    exposure: float = 0.0  # motion blur length per pixel of motion (object mode)
    half: np.ndarray | None = None  # the sprite at half resolution (for strong shrinking)
    half_back: np.ndarray | None = None

    def velocity(self, t: int) -> tuple[float, float]:
        if t == 0:
            return 0.0, 0.0
        return float(self.cx[t] - self.cx[t - 1]), float(self.cy[t] - self.cy[t - 1])


def _half(sprite: np.ndarray) -> np.ndarray:
    h, w = sprite.shape[:2]
    return cv2.resize(sprite, (max(w // 2, 2), max(h // 2, 2)), interpolation=cv2.INTER_AREA)


def _warp(obj: _Object, t: int, blur: bool = True) -> tuple[np.ndarray, np.ndarray, int, int, float]:
    """``obj`` at frame ``t`` on a local canvas: ``(premultiplied rgba, unblurred alpha, x0, y0, blur length)``."""
    turned = obj.turned is not None and bool(obj.turned[t]) and obj.back is not None
    sprite = obj.back if turned else obj.sprite
    sx, sy = float(obj.sx[t]), float(obj.sy[t])
    half = obj.half_back if turned else obj.half
    if half is not None and max(sx, sy) < 0.5:  # area-averaged copy: no aliasing when strongly shrunk
        f = sprite.shape[1] / half.shape[1], sprite.shape[0] / half.shape[0]
        sprite, sx, sy = half, sx * f[0], sy * f[1]
    hs, ws = sprite.shape[:2]
    if obj.warp > 0:
        ys, xs = np.mgrid[0:hs, 0:ws].astype(np.float32)
        amp = obj.warp * min(hs, ws)
        ph = 2 * np.pi * t / obj.warp_period
        lam = 0.9 * max(hs, ws)
        mx = xs + amp * np.sin(2 * np.pi * ys / lam + ph)
        my = ys + 0.6 * amp * np.sin(2 * np.pi * xs / lam + 1.3 * ph + 1.0)
        sprite = cv2.remap(sprite, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    th = float(obj.theta[t])
    c, s = math.cos(th), math.sin(th)
    A = np.array([[c * sx, -s * sy], [s * sx, c * sy]])
    tvec = np.array([obj.cx[t], obj.cy[t]]) - A @ np.array([ws / 2.0 - 0.5, hs / 2.0 - 0.5])
    corners = np.array([[-0.5, -0.5], [ws - 0.5, -0.5], [-0.5, hs - 0.5], [ws - 0.5, hs - 0.5]])
    pts = corners @ A.T + tvec
    vx, vy = obj.velocity(t)
    length = obj.exposure * math.hypot(vx, vy)
    pad = int(math.ceil(length / 2)) + 2
    x0, y0 = int(math.floor(pts[:, 0].min())) - pad, int(math.floor(pts[:, 1].min())) - pad
    x1, y1 = int(math.ceil(pts[:, 0].max())) + pad, int(math.ceil(pts[:, 1].max())) + pad
    M = np.c_[A, tvec - np.array([x0, y0])]
    out = cv2.warpAffine(
        sprite, M, (x1 - x0 + 1, y1 - y0 + 1), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    alpha = out[..., 3].copy()
    if blur and length >= 1.5:
        k = _line_kernel(vx * obj.exposure, vy * obj.exposure)
        out = cv2.filter2D(out, -1, k, borderType=cv2.BORDER_CONSTANT)
    return out, alpha, x0, y0, length


# --------------------------------------------------------------------------------------------------
# Planning a sequence


@dataclass
class _Scene:
    spec: PhotoSequenceSpec
    background: np.ndarray  # float32 RGB photo, rescaled
    cam: np.ndarray  # (N, 2, 3) affine: background pixel -> frame pixel
    target: _Object
    behind: list[_Object]  # distractors, under the target
    occluders: list[_Object]  # over the target
    frame_blur: np.ndarray  # (N, 2) whole-frame blur vector (camera motion, shake)
    gain: np.ndarray  # (N, 3)
    light_field: np.ndarray | None
    light_pos: np.ndarray | None
    noise: np.ndarray  # (K, H, W, 3)
    applied: set[str]  # IV DEF IPR OPR BC decided by the plan
    info: dict[str, Any]


def _trajectory(
    rng: np.random.Generator, N: int, W: int, H: int, r: float, at: set[str], radius: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Centre path in frame pixels: cosine-eased random keyframes inside the safe range (a target of
    radius ``r`` fully visible), plus fast jumps (FM) and excursions out of the image (OV) sized by
    the target's radius in each frame, ``radius``."""
    lo_x, hi_x = min(r + 2, W / 2), max(W - 1 - r - 2, W / 2)
    lo_y, hi_y = min(r + 2, H / 2), max(H - 1 - r - 2, H / 2)

    def inside() -> tuple[float, float]:
        return float(rng.uniform(lo_x, hi_x)), float(rng.uniform(lo_y, hi_y))

    times, xs, ys = [0.0], [], []
    x, y = inside()
    xs.append(x)
    ys.append(y)
    events: list[dict[str, Any]] = []
    fm_at = set()
    if "FM" in at:
        for _ in range(int(rng.integers(1, 3))):
            fm_at.add(int(rng.uniform(0.15, 0.85) * N))
    ov_at = int(rng.uniform(0.25, 0.6) * N) if "OV" in at else -1
    t = 0.0
    while t < N - 1:
        step = float(rng.uniform(14, 32))
        if 0 <= ov_at <= t:  # a fast jump ran past the planned exit: leave right after it
            ov_at = int(t) + 1
        if any(t < f <= t + step for f in fm_at):  # a jump of 90-200 px in 4-6 frames (> 20 px/frame)
            f = next(f for f in sorted(fm_at) if t < f <= t + step)
            fm_at.discard(f)
            times.append(float(f))
            xs.append(xs[-1])
            ys.append(ys[-1])
            dt = float(rng.integers(4, 7))
            ang = rng.uniform(0, 2 * np.pi)
            dist = rng.uniform(90, 200)
            nx = float(np.clip(xs[-1] + dist * math.cos(ang), lo_x, hi_x))
            ny = float(np.clip(ys[-1] + dist * math.sin(ang), lo_y, hi_y))
            if math.hypot(nx - xs[-1], ny - ys[-1]) < 60:  # too close to a wall: jump across
                nx, ny = lo_x + hi_x - xs[-1], lo_y + hi_y - ys[-1]
            times.append(f + dt)
            xs.append(nx)
            ys.append(ny)
            events.append({"kind": "fast", "frame": f + 1, "frames": int(dt)})
            t = f + dt
            continue
        if 0 <= ov_at and t < ov_at <= t + step:  # leave the image across the nearest edge, come back
            full = bool(rng.random() < 0.6)
            cx, cy = xs[-1], ys[-1]
            edge = int(np.argmin([cx, W - 1 - cx, cy, H - 1 - cy]))
            r_out = float(radius[min(int(ov_at) + 12, N - 1)])  # its size while it is out
            beyond = r_out + rng.uniform(8, 40) if full else rng.uniform(0.1, 0.6) * r_out
            out = [(-beyond, cy), (W - 1 + beyond, cy), (cx, -beyond), (cx, H - 1 + beyond)][edge]
            go = float(rng.uniform(8, 16))
            hold = float(rng.integers(3, 10))
            times += [float(ov_at), ov_at + go, ov_at + go + hold]
            xs += [cx, out[0], out[0]]
            ys += [cy, out[1], out[1]]
            events.append({"kind": "out_of_view", "frame": int(ov_at + go) + 1, "fully_out": full})
            ov_at = -1
            t = times[-1]
            continue
        t += step
        times.append(t)
        x, y = inside()
        xs.append(x)
        ys.append(y)
    return _keyframes(N, times, xs), _keyframes(N, times, ys), events


def _distance_fraction(obj: _Object, target: _Object, size: np.ndarray) -> float:
    d = np.hypot(obj.cx - target.cx, obj.cy - target.cy)
    return float(np.mean(d <= _BC_DISTANCE * size))


def _plan(spec: PhotoSequenceSpec) -> _Scene:
    """Plan every object, pose and effect of ``spec`` (a pure function of the spec)."""
    rng = spec.rng(0)
    W, H = spec.image_size
    N = spec.n_frames
    at = set(spec.attributes)
    camera = spec.mode == "camera"
    photos = spec.photos
    applied: set[str] = set()

    # --- the target's size and pose (relative to frame 1) ---
    aspect = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))  # w / h
    area = rng.uniform(150, 380) if "LR" in at else rng.uniform(900, 4200)
    w0, h0 = math.sqrt(area * aspect), math.sqrt(area / aspect)
    if "SV" in at:
        f = rng.uniform(2.3, 2.8) if ("LR" in at or rng.random() < 0.5 or area < 1200) else rng.uniform(0.32, 0.42)
        t1 = rng.uniform(0.3, 0.7) * N
        keys = [0.0, t1, min(t1 + rng.uniform(15, 40), N - 1.0)]
        vals = [0.0, math.log(f), math.log(f) * rng.uniform(0.5, 1.0)]
        log_s = _keyframes(N, keys, vals)
    else:
        c = _smooth1d(rng, N, rng.uniform(25, 60))
        log_s = 0.12 * (c - c[0])
    scale = np.exp(log_s)
    if "IPR" in at:
        turn = rng.choice([-1, 1]) * rng.uniform(np.radians(60), np.radians(200))
        t1 = rng.uniform(0.25, 0.7) * N
        theta = _keyframes(N, [0.0, t1, min(t1 + rng.uniform(20, 60), N - 1.0)], [0.0, turn, turn * rng.uniform(0, 1)])
        if np.degrees(np.abs(theta).max()) >= _IPR_DEGREES:
            applied.add("IPR")
    else:
        c = _smooth1d(rng, N, rng.uniform(25, 60))
        theta = np.radians(5.0) * (c - c[0])
    aspect_t = np.ones(N)
    squash = np.ones(N)
    turned = None
    warp = 0.0
    if not camera and "DEF" in at:
        c = _smooth1d(rng, N, rng.uniform(8, 20))
        aspect_t = np.exp(0.25 * (c - c[0]))
        warp = float(rng.uniform(0.05, 0.1))
        applied.add("DEF")
    if not camera and "OPR" in at:
        t1 = rng.uniform(0.2, 0.5) * N
        dur = rng.uniform(20, 45)
        psi = _keyframes(N, [0.0, t1, min(t1 + dur, N - 1.0)], [0.0, np.pi, rng.choice([np.pi, 2 * np.pi])])
        squash = np.maximum(np.abs(np.cos(psi)), 0.12)
        turned = np.cos(psi) < 0
        if squash.min() < _OPR_SQUASH:
            applied.add("OPR")
    sx = scale * np.sqrt(aspect_t) * squash
    sy = scale / np.sqrt(aspect_t)
    radius = 0.5 * math.hypot(w0, h0) * np.maximum(sx, sy)
    r_max = min(float(radius.max()), 0.45 * min(W, H))
    cx, cy, events = _trajectory(rng, N, W, H, r_max, at, radius)

    # --- photos ---
    bg_photo = photos[int(rng.integers(len(photos)))]
    others = [p for p in photos if p.key != bg_photo.key]
    if camera:
        obj_photo = bg_photo
    elif "BC" in at and rng.random() < 0.5 or not others:
        obj_photo = bg_photo
    else:
        obj_photo = others[int(rng.integers(len(others)))]
    same_photo = obj_photo.key == bg_photo.key
    bg_raw = bg_photo.load()
    ph, pw = bg_raw.shape[:2]

    shape = str(rng.choice(["rectangle", "ellipse", "rounded"]))
    feather = float(rng.uniform(0.8, 3.0))
    smax = float(np.max(np.maximum(sx, sy)))
    exposure = float(rng.uniform(0.9, 1.3)) if "MB" in at else float(rng.uniform(0.2, 0.45))
    frame_blur = np.zeros((N, 2))

    if camera:
        # the camera's zoom z follows the target's scale: zoom z0*scale >= 1 everywhere (no aliasing)
        z = scale / float(scale.min())
        roll = theta
        need = 2.0 * max(W, H)  # room around the target's region for most of the view (beyond it: mirrored)
        u = max(need / min(pw, ph), 0.55 if max(pw, ph) > 700 else 1.0)
        bg = cv2.resize(
            bg_raw, (round(pw * u), round(ph * u)), interpolation=cv2.INTER_AREA if u < 1 else cv2.INTER_CUBIC
        )
        bh, bw = bg.shape[:2]
        # target region in background pixels: size at zoom z[0]
        tw, th = max(int(round(w0 / z[0])), 4), max(int(round(h0 / z[0])), 4)
        lx0, ly0 = int(bw * 0.42) - tw // 2, int(bh * 0.42) - th // 2  # near the centre of the photo
        rx, ry = _pick_region(rng, bg[ly0 : int(bh * 0.58) + th // 2, lx0 : int(bw * 0.58) + tw // 2], tw, th)
        rx, ry = rx + lx0, ry + ly0
        q = np.array([rx + tw / 2.0 - 0.5, ry + th / 2.0 - 0.5])  # the region's centre (background px)
        sprite = _sprite(bg, rx, ry, tw, th, tw, th, shape, feather)
        target = _Object(sprite, cx, cy, z, z.copy(), roll, exposure=0.0)
        cam = np.zeros((N, 2, 3))
        for t in range(N):
            c, s = math.cos(roll[t]), math.sin(roll[t])
            A = z[t] * np.array([[c, -s], [s, c]])
            cam[t, :, :2] = A
            cam[t, :, 2] = np.array([cx[t], cy[t]]) - A @ q  # q lands on the planned centre
        # the camera's motion blurs the whole frame, along the target's image motion
        frame_blur[1:] = np.diff(np.stack([cx, cy], 1), axis=0) * exposure
    else:
        u = max(1.15 * W / pw, 1.15 * H / ph, min(1.0, rng.uniform(0.5, 1.0) * 700 / max(pw, ph)))
        bg = cv2.resize(
            bg_raw, (round(pw * u), round(ph * u)), interpolation=cv2.INTER_AREA if u < 1 else cv2.INTER_CUBIC
        )
        bh, bw = bg.shape[:2]
        # a slowly panning, slightly zooming camera over the background
        span_x, span_y = max(bw - W * 1.06, 0.0), max(bh - H * 1.06, 0.0)
        ox = span_x * (0.5 + 0.45 * _smooth1d(rng, N, rng.uniform(40, 90)))
        oy = span_y * (0.5 + 0.45 * _smooth1d(rng, N, rng.uniform(40, 90)))
        zc = 1.0 + 0.05 * (1 + _smooth1d(rng, N, rng.uniform(40, 90))) / 2
        cam = np.zeros((N, 2, 3))
        cam[:, 0, 0] = cam[:, 1, 1] = zc
        cam[:, 0, 2], cam[:, 1, 2] = -ox * zc, -oy * zc
        obj_raw = bg_raw if same_photo else obj_photo.load()
        oh, ow = obj_raw.shape[:2]
        # crop size in the photo: its own scale, 0.7-2.5x the rendered size, at most 60% of the photo
        k = float(np.clip(rng.uniform(0.7, 2.5), 16 / min(w0, h0), 0.6 * min(ow / w0, oh / h0)))
        cw, ch = max(int(round(w0 * k)), 4), max(int(round(h0 * k)), 4)
        rx, ry = _pick_region(rng, obj_raw, cw, ch)
        rs = max(smax, 1.0)  # sprite resolution: sharp at the largest scale
        out_w, out_h = max(int(round(w0 * rs)), 4), max(int(round(h0 * rs)), 4)
        sprite = _sprite(obj_raw, rx, ry, cw, ch, out_w, out_h, shape, feather)
        back = None
        if turned is not None:
            bx, by = _pick_region(rng, obj_raw, cw, ch, avoid=(rx, ry))
            back = _sprite(obj_raw, bx, by, cw, ch, out_w, out_h, shape, feather)
        target = _Object(
            sprite,
            cx,
            cy,
            sx / rs,
            sy / rs,
            theta,
            back=back,
            turned=turned,
            warp=warp,
            warp_period=float(rng.uniform(10, 25)),
            exposure=exposure,
        )
        target.half = _half(sprite)
        target.half_back = _half(back) if back is not None else None
    sizes = np.hypot(w0, h0) * scale  # the target's diagonal in every frame
    if "MB" in at:  # camera shakes: a few frames blurred as a whole
        for _ in range(int(rng.integers(1, 3))):
            t0 = int(rng.integers(max(N // 6, 1), max(N - 3, 2)))
            ang = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(7, 13)
            frame_blur[t0 : t0 + int(rng.integers(2, 5))] = [length * math.cos(ang), length * math.sin(ang)]

    # --- distractors (BC): crops of the target's own photo, of its size and shape, near it ---
    behind: list[_Object] = []
    src_for_clutter = bg if camera else (bg_raw if same_photo else obj_photo.load())
    tgt_sprite_w, tgt_sprite_h = target.sprite.shape[1], target.sprite.shape[0]
    if "BC" in at:
        for _ in range(int(rng.integers(1, 3))):
            if camera:
                cw, ch = tgt_sprite_w, tgt_sprite_h
            else:
                cw, ch = max(int(round(w0 * k)), 4), max(int(round(h0 * k)), 4)
            dx, dy = _pick_region(rng, src_for_clutter, cw, ch, avoid=(rx, ry))
            spr = _sprite(src_for_clutter, dx, dy, cw, ch, tgt_sprite_w, tgt_sprite_h, shape, feather)
            radius = sizes * rng.uniform(0.9, 1.6)
            ang = rng.uniform(0, 2 * np.pi) + np.arange(N) * rng.choice([-1, 1]) * rng.uniform(0.02, 0.06)
            d = _Object(
                spr,
                cx + radius * np.cos(ang),
                cy + radius * np.sin(ang),
                target.sx.copy(),
                target.sy.copy(),
                theta + rng.uniform(-0.3, 0.3),
                exposure=target.exposure,
            )
            d.half = _half(spr)
            behind.append(d)
        if behind and max(_distance_fraction(d, target, sizes) for d in behind) >= _BC_FRACTION:
            applied.add("BC")
    if same_photo and not camera:
        applied.add("BC")

    # --- occluders (OCC): patches of other photos of the split sweeping over the target ---
    occluders: list[_Object] = []
    occ_events: list[dict[str, Any]] = []
    if "OCC" in at:
        occ_src = others if others else [bg_photo]
        for _ in range(int(rng.integers(1, 3))):
            p = occ_src[int(rng.integers(len(occ_src)))]
            img = p.load()
            te = int(rng.uniform(0.25, 0.85) * N)
            full = bool(rng.random() < 0.6)
            size = sizes[te] * (rng.uniform(1.15, 1.6) if full else rng.uniform(0.6, 0.9))
            oa = float(np.exp(rng.uniform(np.log(0.6), np.log(1.6))))
            ow_, oh_ = max(int(round(size * math.sqrt(oa))), 6), max(int(round(size / math.sqrt(oa))), 6)
            ih, iw = img.shape[:2]
            cw, ch = min(ow_ * 2, iw), min(oh_ * 2, ih)
            ox0, oy0 = _pick_region(rng, img, cw, ch)
            spr = _sprite(
                img,
                ox0,
                oy0,
                cw,
                ch,
                ow_,
                oh_,
                str(rng.choice(["rectangle", "ellipse", "rounded"])),
                float(rng.uniform(0.8, 2.0)),
            )
            dur = rng.uniform(10, 25)
            speed = (size + sizes[te]) / min(dur, max(te, 1))  # far from the target in frame 1
            ang = rng.uniform(0, 2 * np.pi)
            tt = np.arange(N) - te
            off = rng.uniform(-0.15, 0.15, 2) * sizes[te]
            ocx = cx[te] + off[0] + speed * tt * math.cos(ang)
            ocy = cy[te] + off[1] + speed * tt * math.sin(ang)
            ones = np.ones(N)
            o = _Object(
                spr,
                ocx,
                ocy,
                ones,
                ones.copy(),
                np.full(N, rng.uniform(-0.3, 0.3)),
                exposure=0.0 if camera else target.exposure,
            )
            o.half = _half(spr)
            occluders.append(o)
            occ_events.append({"frame": te + 1, "photo": p.key, "full": full})

    # --- illumination ---
    light_field = light_pos = None
    if "IV" in at:
        gain, light_field, light_pos = _plan_illumination(rng, N, W, H)
    else:
        gain = np.ones((N, 3)) * (1.0 + 0.05 * _smooth1d(rng, N, rng.uniform(30, 80)))[:, None]
    sigma = rng.uniform(0.004, 0.012)
    noise = spec.rng(1).standard_normal((3, H, W, 3), dtype=np.float32) * np.float32(sigma)

    used = sorted({bg_photo.key, obj_photo.key, *(e["photo"] for e in occ_events)})
    info = {
        "mode": spec.mode,
        "background_photo": bg_photo.key,
        "object_photo": obj_photo.key,
        "photos_used": used,
        "target_shape": shape,
        "target_size": [round(w0, 1), round(h0, 1)],
        "distractors": len(behind),
        "occluders": occ_events,
        "events": events,
    }
    return _Scene(
        spec,
        bg.astype(np.float32) / 255.0,
        cam,
        target,
        behind,
        occluders,
        frame_blur,
        gain,
        light_field,
        light_pos,
        noise,
        applied,
        info,
    )


# --------------------------------------------------------------------------------------------------
# Rendering


@dataclass
class PhotoFrame:
    """One rendered frame.

    Attributes:
        image: ``(H, W, 3)`` RGB uint8 (before JPEG compression).
        box: ``(4,)`` ground truth ``x, y, w, h`` (1-based; ``0, 0, 0, 0`` when fully out of view).
        full_box: the unclipped box of the whole target (may reach beyond the image).
        occlusion: fraction of the target's alpha covered by occluders.
        blur: motion blur length on the target in pixels.
        illumination: the light on the target's centre (gain times light field).
        mask: ``(H, W)`` bool mask of the unoccluded target (alpha >= 0.5), when asked for.
    """

    image: np.ndarray
    box: np.ndarray
    full_box: np.ndarray
    occlusion: float
    blur: float
    illumination: float
    mask: np.ndarray | None = None


def iter_frames(spec: PhotoSequenceSpec, *, draw_target: bool = True, with_masks: bool = False) -> Iterator[PhotoFrame]:
    """Render the frames of ``spec`` one by one (``draw_target=False``: the scene without the
    target, same ground truth; ``with_masks``: attach the target's mask)."""
    return _frames(_plan(spec), draw_target=draw_target, with_masks=with_masks)


def _frames(sc: _Scene, *, draw_target: bool = True, with_masks: bool = False) -> Iterator[PhotoFrame]:
    spec = sc.spec
    W, H = spec.image_size
    tgt = sc.target
    for t in range(spec.n_frames):
        frame = cv2.warpAffine(
            sc.background, sc.cam[t], (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )
        for obj in sc.behind:
            rgba, _, x0, y0, _ = _warp(obj, t)
            _composite(frame, rgba, x0, y0)
        rgba, alpha, tx0, ty0, blur = _warp(tgt, t)
        if draw_target:
            _composite(frame, rgba, tx0, ty0)
        occ = 0.0
        for obj in sc.occluders:
            orgba, oalpha, ox0, oy0, _ = _warp(obj, t)
            _composite(frame, orgba, ox0, oy0)
            occ = max(occ, _overlap(alpha, tx0, ty0, oalpha, ox0, oy0))
        fb = sc.frame_blur[t]
        light = float(np.mean(sc.gain[t]))
        if sc.light_field is not None and sc.light_pos is not None:
            lx, ly = sc.light_pos[t]
            frame *= sc.light_field[ly : ly + H, lx : lx + W]
            px = int(np.clip(round(tgt.cx[t]), 0, W - 1))
            py = int(np.clip(round(tgt.cy[t]), 0, H - 1))
            light *= float(sc.light_field[ly + py, lx + px, 0])
        frame *= sc.gain[t].astype(np.float32)
        if math.hypot(*fb) >= 1.5:
            frame = cv2.filter2D(frame, -1, _line_kernel(*fb), borderType=cv2.BORDER_REFLECT)
            blur = max(blur, float(math.hypot(*fb)))
        frame += sc.noise[t % len(sc.noise)]
        image = np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)

        m = alpha >= 0.5
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        if rows.size == 0:  # degenerate: the pose centre
            rows = cols = np.array([0])
            tx0, ty0 = int(round(tgt.cx[t])), int(round(tgt.cy[t]))
        fx0, fx1 = tx0 + cols[0], tx0 + cols[-1]
        fy0, fy1 = ty0 + rows[0], ty0 + rows[-1]
        full_box = np.array([fx0 + 1, fy0 + 1, fx1 - fx0 + 1, fy1 - fy0 + 1], np.float64)
        cx0, cx1, cy0, cy1 = max(fx0, 0), min(fx1, W - 1), max(fy0, 0), min(fy1, H - 1)
        # fully out of view: no pixel of the mask inside the image
        inside = False
        if cx1 >= cx0 and cy1 >= cy0:
            sub = m[cy0 - ty0 : cy1 - ty0 + 1, cx0 - tx0 : cx1 - tx0 + 1]
            inside = bool(sub.any())
            if inside:  # tight box of the visible part of the mask
                r2, c2 = np.flatnonzero(sub.any(axis=1)), np.flatnonzero(sub.any(axis=0))
                cy0, cy1 = cy0 + r2[0], cy0 + r2[-1]
                cx0, cx1 = cx0 + c2[0], cx0 + c2[-1]
        box = np.array([cx0 + 1, cy0 + 1, cx1 - cx0 + 1, cy1 - cy0 + 1], np.float64) if inside else np.zeros(4)
        mask = None
        if with_masks:
            mask = np.zeros((H, W), bool)
            mh, mw = m.shape
            x0c, y0c, x1c, y1c = max(tx0, 0), max(ty0, 0), min(tx0 + mw, W), min(ty0 + mh, H)
            if x1c > x0c and y1c > y0c:
                mask[y0c:y1c, x0c:x1c] = m[y0c - ty0 : y1c - ty0, x0c - tx0 : x1c - tx0]
        yield PhotoFrame(image, box, full_box, occ, blur, light, mask)


@dataclass
class PhotoSequence:
    """A rendered sequence in memory: ``frames`` (RGB uint8), ``gt`` ``(N, 4)``, final ``attributes``,
    ``stats`` (measured quantities, design, scene) and ``masks`` when asked for."""

    spec: PhotoSequenceSpec
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


def _tags(
    sc: _Scene, gt: np.ndarray, full: np.ndarray, occ: np.ndarray, blur: np.ndarray, light: np.ndarray
) -> tuple[tuple[str, ...], dict[str, Any]]:
    applied = set(sc.applied)
    iv_ratio = float(light.max() / max(light.min(), 1e-6))
    if iv_ratio >= _IV_RATIO:
        applied.add("IV")
    # FM SV LR OV OCC MB measured with synthetic's thresholds; the rule-based ones passed as "designed"
    tags, stats = _measure(SimpleNamespace(attributes=tuple(applied)), gt, full, occ, blur)
    stats["designed"] = list(sc.spec.attributes)
    stats["illumination_ratio"] = round(iv_ratio, 3)
    stats["max_rotation_deg"] = round(float(np.degrees(np.abs(sc.target.theta).max())), 1)
    stats["designed_not_tagged"] = [a for a in sc.spec.attributes if a not in tags]
    del stats["designed_not_measured"]
    return tags, stats


def render_sequence(spec: PhotoSequenceSpec, *, draw_target: bool = True, with_masks: bool = False) -> PhotoSequence:
    """Render ``spec`` into memory (see :func:`iter_frames`)."""
    sc = _plan(spec)
    frames = list(_frames(sc, draw_target=draw_target, with_masks=with_masks))
    gt = np.array([f.box for f in frames])
    tags, stats = _tags(
        sc,
        gt,
        np.array([f.full_box for f in frames]),
        np.array([f.occlusion for f in frames]),
        np.array([f.blur for f in frames]),
        np.array([f.illumination for f in frames]),
    )
    stats["scene"] = sc.info
    masks = [f.mask for f in frames] if with_masks else None
    return PhotoSequence(spec, [f.image for f in frames], gt, tags, stats, masks)  # type: ignore[arg-type]


_RECORD = "sequence.json"


def _content_hash(folder: Path, n_frames: int) -> str | None:
    """SHA-256 over the frames, ground truth and attributes of a sequence folder (None: files missing)."""
    h = hashlib.sha256()
    names = [f"img/{i:04d}.jpg" for i in range(1, n_frames + 1)] + ["groundtruth_rect.txt", "attributes.txt"]
    for n in names:
        p = folder / n
        if not p.is_file():
            return None
        h.update(n.encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


def sequence_is_complete(spec: PhotoSequenceSpec, folder: str | Path) -> bool:
    """Whether ``folder/spec.name`` holds this very sequence, whole: its ``sequence.json`` has the
    spec's fingerprint, ``img/`` holds exactly the planned frames and every file hashes to the
    recorded value."""
    final = Path(folder) / spec.name
    try:
        rec = json.loads((final / _RECORD).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    if rec.get("fingerprint") != spec.fingerprint() or not (final / "img").is_dir():
        return False
    if len([p for p in (final / "img").iterdir() if not p.name.startswith(".")]) != spec.n_frames:
        return False
    return _content_hash(final, spec.n_frames) == rec.get("content_sha256")


def write_sequence(spec: PhotoSequenceSpec, folder: str | Path) -> dict[str, Any]:
    """Render ``spec`` to ``folder/spec.name`` in the OTB layout, through a hidden temporary folder
    renamed into place (replacing an older version). Returns its metadata record."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / spec.name
    tmp = folder / f".{spec.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "img").mkdir(parents=True)
    sc = _plan(spec)
    boxes, full, occ, blur, light = [], [], [], [], []
    for i, fr in enumerate(_frames(sc), start=1):
        (tmp / "img" / f"{i:04d}.jpg").write_bytes(_encode_jpeg(fr.image))
        boxes.append(fr.box)
        full.append(fr.full_box)
        occ.append(fr.occlusion)
        blur.append(fr.blur)
        light.append(fr.illumination)
    gt = np.array(boxes)
    tags, stats = _tags(sc, gt, np.array(full), np.array(occ), np.array(blur), np.array(light))
    (tmp / "groundtruth_rect.txt").write_text("".join(_format_box(b) + "\n" for b in gt))
    (tmp / "attributes.txt").write_text(",".join(tags) + "\n")
    record = {
        "name": spec.name,
        "split": spec.split,
        "mode": spec.mode,
        "n_frames": spec.n_frames,
        "attributes": list(tags),
        "image_size": list(spec.image_size),
        "stats": stats,
        "scene": sc.info,
    }
    (tmp / _RECORD).write_text(
        json.dumps(
            {"fingerprint": spec.fingerprint(), "content_sha256": _content_hash(tmp, spec.n_frames), "record": record},
            indent=1,
        )
        + "\n"
    )
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return record


def _write_job(job: tuple[PhotoSequenceSpec, Path]) -> tuple[dict[str, Any], bool]:
    """Write one sequence unless it is already complete; ``(record, written)``."""
    spec, folder = job
    if sequence_is_complete(spec, folder):
        return json.loads((folder / spec.name / _RECORD).read_text())["record"], False
    return write_sequence(spec, folder), True


# --------------------------------------------------------------------------------------------------
# The whole benchmark

_README = """\
rankatt photo tracking sequences (OTB format)
=============================================

Pseudo-sequences cut from real photographs, written by rankatt_lib.data.photoseq (generator version
{version}) with seed {seed}: a crop of one photo (soft rectangle/ellipse mask) moving over another
photo, or a camera moving over a photo; with scale change, in-plane rotation, occlusion by patches
of other photos, illumination change, motion blur, out-of-view and distractors cut from the same
photo. NOT a real video benchmark: only the OTB layout and attribute codes are borrowed.

Layout
  <split>/<SEQ>/img/0001.jpg ...     frames, {w}x{h} RGB, JPEG quality {q}
  <split>/<SEQ>/groundtruth_rect.txt one "x,y,w,h" line per frame, 1-based pixels (OTB)
  <split>/<SEQ>/attributes.txt       comma-separated OTB attribute codes
  <split>/<SEQ>/sequence.json        fingerprint and content hash (resuming), per-sequence record
  meta.json                          seed, version, photo sources and licences, attribute rules,
                                     per-sequence attributes and statistics

Splits: test, val and train use disjoint photographs (meta.json "photos" lists each photo's split).

Ground truth: the tight box of the target's unoccluded alpha mask; clipped to the image when the
target is partly out of view; 0,0,0,0 when it is entirely out of view. Frame 1 is always fully
visible. Attribute rules: meta.json "attribute_rules".

Regenerate with:  python data_scripts/make_photo_otb.py --out <dir> --seed {seed}
"""


def make_photo_benchmark(
    root: str | Path,
    seed: int = 0,
    split: str = "all",
    *,
    n_test: int = 20,
    n_val: int = 10,
    n_train: int = 40,
    length_range: tuple[int, int] = (100, 100),
    image_size: tuple[int, int] = IMAGE_SIZE,
    photo_dirs: Sequence[str | Path] = (),
    progress: bool = True,
    workers: int = 1,
) -> dict[str, Any]:
    """Generate (or complete) the photo benchmark under ``root`` (``root/<split>/photo_<split>_000``).

    Resumable: sequences already complete (see :func:`sequence_is_complete`) are kept as they are;
    left-over temporary folders, damaged or stale sequences are redone; sequences of a generated
    split that are no longer planned are removed. ``root/meta.json`` and ``root/README.txt`` are
    written at the end (metadata of another split generated earlier with the same seed, version
    and photos is kept). The output does not depend on ``workers``.

    Returns:
        The metadata written to ``root/meta.json``, plus (not written) ``"written"``: how many
        sequences this call rendered.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with _exclusive(root):
        return _make(root, seed, split, n_test, n_val, n_train, length_range, image_size, photo_dirs, progress, workers)


class GenerationBusyError(RuntimeError):
    """Another process is generating into the same folder."""


@contextmanager
def _exclusive(root: Path) -> Iterator[None]:
    """Hold ``root/.lock`` (an advisory lock, released when the process ends, even when killed)."""
    try:
        import fcntl
    except ImportError:  # not on POSIX: no lock
        yield
        return
    with open(root / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise GenerationBusyError(
                f"another process is generating into {root} (it holds {root / '.lock'}); wait for it or stop it"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _make(
    root: Path,
    seed: int,
    split: str,
    n_test: int,
    n_val: int,
    n_train: int,
    length_range: tuple[int, int],
    image_size: tuple[int, int],
    photo_dirs: Sequence[str | Path],
    progress: bool,
    workers: int,
) -> dict[str, Any]:
    photos = gather_photos(photo_dirs)
    specs = plan_photo_benchmark(
        seed,
        split,
        n_test=n_test,
        n_val=n_val,
        n_train=n_train,
        length_range=length_range,
        image_size=image_size,
        photos=photos,
    )
    splits = _split_list(split)
    for sp in splits:
        d = root / sp
        d.mkdir(parents=True, exist_ok=True)
        planned = {s.name for s in specs if s.split == sp}
        for p in d.iterdir():
            if p.is_dir() and p.name.startswith(".photo_") and p.name.endswith(".tmp"):
                shutil.rmtree(p)  # a killed run's partial sequence
            elif p.is_dir() and _NAME.fullmatch(p.name) and p.name not in planned:
                shutil.rmtree(p)
    jobs = [(s, root / s.split) for s in specs]
    from tqdm.auto import tqdm

    bar = tqdm(total=sum(s.n_frames for s in specs), unit="frame", desc="photo sequences", disable=not progress)
    results: list[tuple[dict[str, Any], bool]] = []
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

    photo_records = [p.record() for p in photos]
    meta: dict[str, Any] = {
        "name": "rankatt photo tracking sequences",
        "format": "OTB",
        "generator": "rankatt_lib.data.photoseq",
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "image_size": list(image_size),
        "jpeg_quality": JPEG_QUALITY,
        "opencv_version": cv2.__version__,  # resizing, warping and JPEG encoding: part of the exact bytes
        "ground_truth": "1-based x,y,w,h; clipped to the image when partly out of view; 0,0,0,0 when fully out of view",
        "attributes": list(ATTRIBUTES),
        "attribute_rules": ATTRIBUTE_RULES,
        "photos": photo_records,
        "splits": {},
    }
    old_path = root / "meta.json"
    if old_path.exists():
        try:
            old = json.loads(old_path.read_text())
            if (
                old.get("seed") == seed
                and old.get("generator_version") == GENERATOR_VERSION
                and old.get("photos") == photo_records
                and old.get("image_size") == list(image_size)
            ):
                meta["splits"].update({k: v for k, v in old.get("splits", {}).items() if k not in splits})
        except (json.JSONDecodeError, OSError):
            pass
    for sp in splits:
        meta["splits"][sp] = [r for r, _ in results if r["split"] == sp]
    meta["splits"] = {sp: meta["splits"][sp] for sp in ("test", "val", "train") if sp in meta["splits"]}
    tmp = root / ".meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1) + "\n")
    tmp.replace(old_path)
    (root / "README.txt").write_text(
        _README.format(version=GENERATOR_VERSION, seed=seed, w=image_size[0], h=image_size[1], q=JPEG_QUALITY)
    )
    return {**meta, "written": sum(1 for _, w in results if w)}


def main(argv: list[str] | None = None) -> int:
    """``rankatt photo`` (and ``data_scripts/make_photo_otb.py``): generate, print a summary."""
    import argparse
    import sys
    import time

    ap = argparse.ArgumentParser(
        prog="rankatt photo",
        description="Generate tracking pseudo-sequences cut from real photographs in the OTB format "
        "(OUT/<split>/<SEQ>/img/0001.jpg, groundtruth_rect.txt, attributes.txt; OUT/meta.json). "
        "Deterministic (the same seed gives the same files) and resumable (finished sequences are kept).",
    )
    ap.add_argument("--out", default="data/photo", help="output folder (default data/photo)")
    ap.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    ap.add_argument("--split", choices=("test", "val", "train", "all"), default="all", help="default all")
    ap.add_argument("--n-test", type=int, default=20, help="sequences in the test split (default 20)")
    ap.add_argument("--n-val", type=int, default=10, help="sequences in the val split (default 10)")
    ap.add_argument("--n-train", type=int, default=40, help="sequences in the train split (default 40)")
    add_generation_options(ap, frames=(100, 100))
    ap.add_argument(
        "--photos",
        action="append",
        default=[],
        metavar="DIR",
        help="an extra folder of photos (split by each file's hash); repeatable",
    )
    ap.add_argument("--list-photos", action="store_true", help="list the photographs and their splits, then stop")
    args = ap.parse_args(argv)
    if min(args.n_test, args.n_val, args.n_train) < 0 or args.workers < 1:
        ap.error("--n-test/--n-val/--n-train must be >= 0 and --workers >= 1")
    try:
        if args.list_photos:
            for p in gather_photos(args.photos):
                print(f"{p.split:5s}  {p.key:20s} {p.source:22s} {p.file:45s} {p.licence} ({p.credit})")
            return 0
        t0 = time.perf_counter()
        meta = make_photo_benchmark(
            args.out,
            seed=args.seed,
            split=args.split,
            n_test=args.n_test,
            n_val=args.n_val,
            n_train=args.n_train,
            length_range=tuple(args.frames),
            image_size=tuple(args.size),
            photo_dirs=args.photos,
            progress=not args.no_progress,
            workers=args.workers,
        )
    except (PhotoSourceError, GenerationBusyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    dt = time.perf_counter() - t0
    for sp, seqs in meta["splits"].items():
        print(f"{sp}: {len(seqs)} sequences, {sum(s['n_frames'] for s in seqs)} frames")
    print(
        f"wrote {args.out} (seed {args.seed}, generator {meta['generator_version']}; "
        f"{meta['written']} sequences rendered, the others were complete) in {dt:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
