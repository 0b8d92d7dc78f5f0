"""Builders of small OTB-like trees on disk for the data tests.

Frames are tiny (16x16) images; the same encoded bytes are written to every frame file, so a
tree with thousands of frames takes a fraction of a second. Ground-truth rows encode the frame
number they belong to, so tests can check that rows and frames line up:
row for frame ``f`` of target ``t`` is ``x = f, y = 2 f, w = 10 + t, h = 20``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from rankatt_lib.data import otb_meta

SIZE = 16

# The real folders hold more images than the ground truth annotates for these sequences
# (first..last image numbers); see rankatt_lib/data/otb_meta.py.
EXTRA_IMAGES: dict[str, tuple[int, int]] = {
    "David": (1, 770),
    "Football1": (1, 81),
    "Freeman3": (1, 474),
    "Freeman4": (1, 297),
    "Diving": (1, 231),
}


@cache
def image_bytes(ext: str = "jpg", gray: bool = False) -> bytes:
    """Encoded 16x16 test image. Colour: left half pure red, right half pure blue (RGB)."""
    if gray:
        img = np.full((SIZE, SIZE), 128, np.uint8)
        img[:, SIZE // 2 :] = 200
    else:
        img = np.zeros((SIZE, SIZE, 3), np.uint8)  # BGR for OpenCV
        img[:, : SIZE // 2] = (0, 0, 255)
        img[:, SIZE // 2 :] = (255, 0, 0)
    ok, buf = cv2.imencode(f".{ext}", img)
    assert ok
    return buf.tobytes()


def write_frames(
    img_dir: Path, numbers: Iterable[int], digits: int = 4, ext: str = "jpg", gray: bool = False
) -> list[Path]:
    """Write frame files ``img_dir/<number zero-padded>.<ext>``; return their paths."""
    img_dir.mkdir(parents=True, exist_ok=True)
    data = image_bytes(ext, gray)
    paths = []
    for i in numbers:
        p = img_dir / f"{i:0{digits}d}.{ext}"
        p.write_bytes(data)
        paths.append(p)
    return paths


def gt_row(frame: int, target: int = 0) -> tuple[float, float, float, float]:
    """The ground-truth box the fixtures write for ``frame`` of ``target``."""
    return (float(frame), 2.0 * frame, 10.0 + target, 20.0)


def format_rows(rows: Iterable[tuple[float, ...]], sep: str | Mapping[int, str] = ",") -> str:
    """Ground-truth text; ``sep`` is one separator, or per-line separators (0-based line -> sep,
    key ``-1`` the default)."""
    lines = []
    for k, row in enumerate(rows):
        s = sep if isinstance(sep, str) else sep.get(k, sep.get(-1, ","))
        lines.append(s.join(f"{v:g}" for v in row))
    return "\n".join(lines) + "\n"


def make_sequence(
    root: Path,
    name: str,
    n: int,
    *,
    ext: str = "jpg",
    gray: bool = False,
    sep: str = ",",
    attributes: str | None = None,
) -> Path:
    """A plain OTB-format sequence ``root/name`` with frames 1..n and matching ground truth."""
    folder = root / name
    write_frames(folder / "img", range(1, n + 1), ext=ext, gray=gray)
    (folder / "groundtruth_rect.txt").write_text(format_rows((gt_row(f) for f in range(1, n + 1)), sep))
    if attributes is not None:
        (folder / "attributes.txt").write_text(attributes)
    return folder


def make_otb_tree(
    root: Path,
    names: Iterable[str],
    *,
    frames: bool = True,
    gray: Iterable[str] = (),
    sep: Mapping[str, str | Mapping[int, str]] | None = None,
) -> Path:
    """An OTB root with the given benchmark sequences laid out as on the OTB site.

    With ``frames=False`` only the folders and ground-truth files are written (enough for
    constructing :class:`rankatt_lib.data.OTB` and for attribute queries).
    """
    gray = set(gray)
    sep = dict(sep or {})
    for name in names:
        info = otb_meta.SEQUENCES[name]
        folder = root / info.folder
        folder.mkdir(parents=True, exist_ok=True)
        target = int(name.split(".")[1]) if "." in name else 0
        rows = [gt_row(f, target) for f in range(info.first, info.last + 1)]
        (folder / info.gt_file).write_text(format_rows(rows, sep.get(name, ",")))
        if info.folder == "Human4":
            # The real Human4 folder also holds an empty ground-truth file for a first target.
            (folder / "groundtruth_rect.1.txt").write_text("")
        if frames:
            first, last = EXTRA_IMAGES.get(name, (info.first, info.last))
            write_frames(folder / "img", range(first, last + 1), digits=info.digits, gray=name in gray)
    return root
