"""Tracking sequences on disk: the OTB format, and the real OTB-2013 / OTB-2015 benchmarks.

A sequence in the OTB format is a folder::

    SEQ/img/0001.jpg, 0002.jpg, ...    frames (jpg or png; grayscale allowed)
    SEQ/groundtruth_rect.txt           one ``x, y, w, h`` row per frame (1-based pixels),
                                       separated by commas, tabs or spaces
    SEQ/attributes.txt                 optional: OTB attribute codes separated by commas

A folder that holds several targets has ``groundtruth_rect.1.txt``, ``groundtruth_rect.2.txt``
instead; its sequences are called ``SEQ.1``, ``SEQ.2`` (as ``Jogging.1`` in OTB).

:class:`OTBFormatDataset` reads any folder of such sequences (our synthetic benchmark, converted
training data). :class:`OTB` reads the real benchmark, whose sequences don't all follow the format
to the letter; the frame ranges, names and attribute tags it uses are in :mod:`rankatt_lib.data.otb_meta`.

Every problem with the files on disk is an exception that names the sequence and the file:
:class:`MissingDataError` (a ``FileNotFoundError``), :class:`GroundTruthError` (a ``ValueError``),
:class:`ImageReadError` (an ``OSError``); all derive from :class:`DatasetError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from rankatt_lib.data import otb_meta

__all__ = [
    "canonical_otb_name",
    "ATTRIBUTES",
    "ATTRIBUTE_NAMES",
    "DatasetError",
    "MissingDataError",
    "GroundTruthError",
    "ImageReadError",
    "Sequence",
    "OTBFormatDataset",
    "OTB",
    "read_ground_truth",
    "read_bgr",
    "read_image",
    "image_damage",
    "list_frames",
    "check_frame_numbers",
    "DOWNLOAD_HINT",
]

#: The 11 OTB attribute codes (Wu, Lim & Yang, TPAMI 2015, Table 1).
ATTRIBUTES: tuple[str, ...] = ("IV", "SV", "OCC", "DEF", "MB", "FM", "IPR", "OPR", "OV", "BC", "LR")

#: Long names of the attribute codes, as the OTB papers print them in plot titles.
ATTRIBUTE_NAMES: dict[str, str] = {
    "IV": "Illumination Variation",
    "SV": "Scale Variation",
    "OCC": "Occlusion",
    "DEF": "Deformation",
    "MB": "Motion Blur",
    "FM": "Fast Motion",
    "IPR": "In-Plane Rotation",
    "OPR": "Out-of-Plane Rotation",
    "OV": "Out-of-View",
    "BC": "Background Clutters",
    "LR": "Low Resolution",
}

assert ATTRIBUTES == otb_meta.OTB_ATTRIBUTES

#: How to get the real benchmark; quoted by the errors about missing sequences.
DOWNLOAD_HINT = "rankatt download --dataset {dataset} --dest {dest}"

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
_GT_MULTI = re.compile(r"^groundtruth_rect\.?(\d+)\.txt$")
# Fields are separated by a comma (with optional blanks around it) or by a run of blanks.
_GT_SPLIT = re.compile(r"\s*,\s*|\s+")


class DatasetError(Exception):
    """Base class of the errors about sequences on disk."""


class MissingDataError(DatasetError, FileNotFoundError):
    """A dataset root, sequence folder, ground-truth file or frame that should exist does not."""


class GroundTruthError(DatasetError, ValueError):
    """A ground-truth file is malformed or does not match the frames."""


class ImageReadError(DatasetError, OSError):
    """A frame exists but cannot be decoded."""


def _show(items: SequenceABC[str], limit: int = 12) -> str:
    """``a, b, c`` or ``a, b, ... and 7 more``."""
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f", ... and {len(items) - limit} more"


def read_ground_truth(path: str | Path, sequence: str | None = None) -> np.ndarray:
    """Read an OTB ground-truth file into an ``(N, 4)`` float64 array of ``x, y, w, h`` rows.

    Fields may be separated by commas, tabs, spaces or any mix of them (OTB uses all three, even
    within one file: BlurCar1). A UTF-8 byte-order mark, Windows line ends and blank lines at the
    end are tolerated; a blank line in the middle would shift every later row to the wrong frame
    and is an error, as is a row without exactly 4 numbers. ``NaN`` is accepted (some datasets mark
    absent targets with it). An empty file gives an array of shape ``(0, 4)``.

    Raises:
        MissingDataError: the file does not exist.
        GroundTruthError: a malformed row; the message names the file and the 1-based line.
    """
    path = Path(path)
    label = f"sequence {sequence}: " if sequence else ""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MissingDataError(f"{label}ground-truth file {path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise GroundTruthError(f"{label}ground-truth file {path} is not a text file ({exc})") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    rows = np.empty((len(lines), 4), dtype=np.float64)
    for k, line in enumerate(lines):
        stripped = line.strip()
        where = f"{label}{path} line {k + 1}"
        if not stripped:
            raise GroundTruthError(f"{where} is empty (a blank line inside the ground truth)")
        fields = _GT_SPLIT.split(stripped)
        if len(fields) != 4 or "" in fields:
            raise GroundTruthError(
                f"{where}: expected 4 numbers x, y, w, h separated by commas, tabs or spaces, "
                f"got {stripped!r}"
            )
        try:
            rows[k] = [float(f) for f in fields]
        except ValueError:
            raise GroundTruthError(f"{where}: not a number in {stripped!r}") from None
    return rows


def image_damage(data: bytes) -> str | None:
    """Why the encoded image ``data`` is incomplete, or ``None`` when nothing is found wrong.

    The format is told by the file's first bytes, not by its name.

    OpenCV decodes a truncated JPEG without an error: it fills the missing part with grey and
    only prints "Premature end of JPEG file". A complete JPEG ends its last scan with the
    end-of-image marker ``FF D9`` (neither marker can occur inside entropy-coded data, and an EXIF
    thumbnail's markers come before the main image's scan); a complete PNG ends with its ``IEND``
    chunk. Other formats are left to the decoder.
    """
    if data[:2] == b"\xff\xd8":
        sos = data.rfind(b"\xff\xda")
        if sos < 0:
            return "truncated JPEG (no image data)"
        if data.rfind(b"\xff\xd9") < sos:
            return "truncated JPEG (the file ends before the end-of-image marker)"
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        if b"IEND" not in data[-32:]:
            return "truncated PNG (no IEND chunk at the end)"
    return None


def read_bgr(path: str | Path, sequence: str | None = None, ignore_orientation: bool = True) -> np.ndarray:
    """Read an image file as OpenCV's BGR ``uint8`` array, refusing truncated files
    (:func:`image_damage`); the one frame decoder of :func:`read_image` and :mod:`rankatt_lib.toolkits.video`.

    Raises:
        MissingDataError: the file does not exist.
        ImageReadError: it exists but is damaged, or OpenCV cannot decode it.
    """
    path = Path(path)
    label = f"sequence {sequence}: " if sequence else ""
    if not path.is_file():
        raise MissingDataError(f"{label}frame {path} does not exist")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"{label}cannot read frame {path}: {exc.strerror or exc}") from None
    damage = image_damage(data)
    if damage is not None:
        raise ImageReadError(f"{label}damaged frame {path}: {damage}")
    # the same decoder and flags as cv2.imread, on the bytes read once
    flags = cv2.IMREAD_COLOR | (cv2.IMREAD_IGNORE_ORIENTATION if ignore_orientation else 0)
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if bgr is None:
        raise ImageReadError(f"{label}cannot decode frame {path} (corrupt file or unsupported format)")
    return bgr


def read_image(path: str | Path, sequence: str | None = None) -> np.ndarray:
    """Read an image file as an RGB ``uint8`` array ``(H, W, 3)``; grayscale becomes 3 equal channels.

    EXIF orientation is ignored (the ground truth refers to the stored pixel grid). A truncated
    JPEG or PNG is an error (:func:`image_damage`), not an image with a grey part.

    Raises:
        MissingDataError: the file does not exist.
        ImageReadError: it exists but is damaged, or OpenCV cannot decode it.
    """
    bgr = read_bgr(path, sequence)
    if bgr.ndim == 2:  # pragma: no cover - IMREAD_COLOR always gives 3 channels; kept as a guard
        return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@dataclass(eq=False)
class Sequence:
    """A tracking sequence: frames, one ground-truth box per frame, attribute tags.

    Attributes:
        name: the sequence name (``"Jogging.1"``).
        frames: image files, one per ground-truth row, in order.
        gt: ``(N, 4)`` float64 array of ``x, y, w, h`` boxes in the dataset's convention
            (OTB: 1-based pixels). Rows may be invalid (e.g. the last OTB box of Board and of
            Twinnings is ``0, 0, 0, 0``); evaluation decides what to do with them.
        attributes: attribute codes from :data:`ATTRIBUTES`.
    """

    name: str
    frames: list[Path]
    gt: np.ndarray
    attributes: tuple[str, ...] = ()
    _size: tuple[int, int, Path] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.frames = [Path(f) for f in self.frames]
        gt = np.asarray(self.gt, dtype=np.float64)
        if gt.ndim != 2 or gt.shape[1] != 4:
            raise GroundTruthError(
                f"sequence {self.name}: ground truth must have shape (N, 4), got {gt.shape}"
            )
        if len(self.frames) != len(gt):
            raise GroundTruthError(
                f"sequence {self.name}: {len(self.frames)} frames but {len(gt)} ground-truth rows"
            )
        self.gt = gt
        self.attributes = tuple(self.attributes)

    def __len__(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        return f"Sequence(name={self.name!r}, frames={len(self)}, attributes={self.attributes!r})"

    @property
    def init_box(self) -> np.ndarray:
        """The first ground-truth box, ``(4,)`` float64 (what a tracker is initialised with)."""
        return self.gt[0].copy()

    def image(self, i: int) -> np.ndarray:
        """Frame ``i`` (0-based; negative counts from the end) as RGB ``uint8`` ``(H, W, 3)``."""
        n = len(self.frames)
        if not -n <= i < n:
            raise IndexError(f"sequence {self.name}: frame index {i} out of range for {n} frames")
        image = read_image(self.frames[i], self.name)
        h, w = image.shape[:2]
        if self._size is None:
            self._size = (w, h, self.frames[i])
        elif self._size[:2] != (w, h):
            ref_w, ref_h, ref = self._size
            raise ImageReadError(
                f"sequence {self.name}: frame {self.frames[i]} is {w}x{h} but frame {ref} is "
                f"{ref_w}x{ref_h}; all frames of a sequence must have one size"
            )
        return image

    def images(self) -> Iterator[np.ndarray]:
        """All frames in order, read one at a time."""
        for i in range(len(self.frames)):
            yield self.image(i)


_DIGITS = re.compile(r"(\d+)")


def _frame_key(p: Path) -> tuple[tuple[str | int, ...], str]:
    """Natural order: the digit runs of a name compare as numbers (``img2`` < ``img10``)."""
    parts = _DIGITS.split(p.stem)
    return tuple(int(t) if k % 2 else t for k, t in enumerate(parts)), p.name


def list_frames(img_dir: Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> list[Path]:
    """Image files of a folder (hidden files left out), in frame order: numbers in the names
    compare as numbers, so ``1.jpg, 2.jpg, ..., 10.jpg`` (ffmpeg's unpadded names) and
    ``0001.jpg, 0002.jpg`` both come in frame order. Used for OTB-format sequences and by
    :func:`rankatt_lib.toolkits.video.open_video` alike."""
    files = [
        p
        for p in img_dir.iterdir()
        if p.suffix.lower() in suffixes and not p.name.startswith(".") and p.is_file()
    ]
    return sorted(files, key=_frame_key)


def check_frame_numbers(frames: SequenceABC[Path], where: str) -> None:
    """Raise if frames named by number (``0001.jpg``) skip or repeat a number.

    ``frames`` is a :func:`list_frames` result; ``where`` starts the message (``"sequence X: "``).
    A gap would pair every later frame with the wrong ground-truth row (frame 0003 missing plus a
    stray 0007 keeps the count right); a repeated number (``1.jpg`` and ``0001.jpg``) has no order.
    Frames whose names are not all numbers are not checked.

    Raises:
        GroundTruthError: naming the folder and the missing, repeated or stray numbers.
    """
    if not frames or not all(f.stem.isdigit() for f in frames):
        return
    numbers = [int(f.stem) for f in frames]
    folder = frames[0].parent
    seen: dict[int, Path] = {}
    for n, f in zip(numbers, frames, strict=True):
        if n in seen:
            raise GroundTruthError(f"{where}{folder} holds two files for frame {n}: {seen[n].name} and {f.name}")
        seen[n] = f
    first, last = numbers[0], numbers[-1]
    if last - first + 1 != len(numbers):
        missing = sorted(set(range(first, last + 1)) - set(numbers))
        raise GroundTruthError(
            f"{where}{folder} skips frame number(s) {_show([str(m) for m in missing])} between "
            f"{frames[0].name} and {frames[-1].name}; each frame must have the next number, or the "
            "frames after a gap are paired with the wrong ground-truth rows"
        )


def _read_attributes(path: Path, sequence: str) -> tuple[str, ...]:
    if not path.is_file():
        return ()
    codes = [c for c in re.split(r"[,\s]+", path.read_text(encoding="utf-8-sig")) if c]
    unknown = [c for c in codes if c not in ATTRIBUTES]
    if unknown:
        raise DatasetError(
            f"sequence {sequence}: {path} has unknown attribute codes {unknown}; "
            f"allowed: {', '.join(ATTRIBUTES)}"
        )
    return tuple(dict.fromkeys(codes))


class _SequenceCollection:
    """What both dataset classes share: names, lookup, iteration, attribute filter."""

    name: str
    _names: list[str]

    @property
    def names(self) -> list[str]:
        """Sequence names, in dataset order."""
        return list(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._resolve(key) is not None

    def __iter__(self) -> Iterator[Sequence]:
        for n in self._names:
            yield self._load(n)

    def __getitem__(self, key: str | int) -> Sequence:
        if isinstance(key, (int, np.integer)):
            i = int(key)
            if not -len(self._names) <= i < len(self._names):
                raise IndexError(f"{self.name}: index {i} out of range for {len(self._names)} sequences")
            return self._load(self._names[i])
        resolved = self._resolve(key)
        if resolved is None:
            raise KeyError(f"{self.name} has no sequence {key!r}; it has: {_show(self._names)}")
        return self._load(resolved)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, sequences={len(self)})"

    def attributes_of(self, name: str) -> tuple[str, ...]:
        """Attribute codes of one sequence, without loading its frames."""
        resolved = self._resolve(name)
        if resolved is None:
            raise KeyError(f"{self.name} has no sequence {name!r}")
        return self._attributes(resolved)

    def by_attribute(self, code: str) -> list[str]:
        """Names of the sequences tagged with attribute ``code`` (one of :data:`ATTRIBUTES`)."""
        if code not in ATTRIBUTES:
            raise ValueError(f"unknown attribute {code!r}; use one of {', '.join(ATTRIBUTES)}")
        return [n for n in self._names if code in self._attributes(n)]

    # Implemented by subclasses.
    def _resolve(self, key: str) -> str | None:
        return key if key in self._names else None

    def _load(self, name: str) -> Sequence:  # pragma: no cover - abstract
        raise NotImplementedError

    def _attributes(self, name: str) -> tuple[str, ...]:  # pragma: no cover - abstract
        raise NotImplementedError


class OTBFormatDataset(_SequenceCollection):
    """Every OTB-format sequence under ``root`` (see the module docstring for the layout).

    Args:
        root: folder whose sub-folders are sequences. Folders without ``img/`` or without a
            ground-truth file, and hidden folders (``.name``, e.g. a download in progress), are
            not sequences. A multi-target folder with ``groundtruth_rect.1.txt`` / ``.2.txt`` gives
            ``SEQ.1`` / ``SEQ.2``; an empty numbered ground-truth file is no target.
        names: only these sequences, in this order (default: all, sorted by name).
        name: the dataset's name (default: the folder name of ``root``).

    Sequences are read when asked for, so a broken sequence fails when it is used, with an error
    naming it; the number of frames in ``img/`` must equal the number of ground-truth rows.
    """

    def __init__(self, root: str | Path, names: Iterable[str] | None = None, name: str | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise MissingDataError(f"dataset root {self.root} does not exist or is not a folder")
        self.name = name if name is not None else self.root.resolve().name
        self._where: dict[str, tuple[Path, Path]] = self._discover()
        if not self._where:
            raise MissingDataError(
                f"no OTB-format sequences under {self.root} "
                "(expected SEQ/img/*.jpg and SEQ/groundtruth_rect.txt)"
            )
        if names is None:
            self._names = sorted(self._where)
        else:
            wanted = list(dict.fromkeys(names))
            missing = [n for n in wanted if n not in self._where]
            if missing:
                raise MissingDataError(
                    f"{self.name}: no sequence {_show(missing)} under {self.root}; "
                    f"found: {_show(sorted(self._where))}"
                )
            self._names = wanted

    def _discover(self) -> dict[str, tuple[Path, Path]]:
        found: dict[str, tuple[Path, Path]] = {}
        for d in sorted(self.root.iterdir()):
            if d.name.startswith(".") or not d.is_dir() or not (d / "img").is_dir():
                continue
            plain = d / "groundtruth_rect.txt"
            if plain.is_file():
                found[d.name] = (d, plain)
            for f in sorted(d.iterdir()):
                m = _GT_MULTI.match(f.name)
                if m and f.is_file() and f.read_text(encoding="utf-8-sig").strip():
                    found[f"{d.name}.{int(m.group(1))}"] = (d, f)
        return found

    def sequence_dir(self, name: str) -> Path:
        """The folder that holds sequence ``name``."""
        return self._where[name][0]

    def _attributes(self, name: str) -> tuple[str, ...]:
        folder = self._where[name][0]
        return _read_attributes(folder / "attributes.txt", name)

    def _load(self, name: str) -> Sequence:
        folder, gt_path = self._where[name]
        gt = read_ground_truth(gt_path, name)
        frames = list_frames(folder / "img")
        check_frame_numbers(frames, f"sequence {name}: ")
        if len(gt) == 0:
            raise GroundTruthError(f"sequence {name}: ground-truth file {gt_path} is empty")
        if len(frames) != len(gt):
            raise GroundTruthError(
                f"sequence {name}: {gt_path} has {len(gt)} rows but {folder / 'img'} holds "
                f"{len(frames)} frames; the OTB format needs one row per frame"
            )
        return Sequence(name, frames, gt, self._attributes(name))


def _otb_version(version: int | str) -> tuple[str, tuple[str, ...], str]:
    """``(dataset name, sequence list, downloader dataset key)`` for a version argument."""
    v = str(version).lower().replace("-", "").replace("_", "")
    if v in ("2013", "otb2013", "otb50", "cvpr13", "cvpr2013"):
        return "OTB2013", otb_meta.OTB2013, "otb2013"
    if v in ("2015", "otb2015", "otb100", "tb100", "100"):
        return "OTB2015", otb_meta.OTB2015, "otb2015"
    if v in ("tb50", "50"):
        return "TB50", otb_meta.TB50, "tb50"
    raise ValueError(f"unknown OTB version {version!r}; use 2013, 2015 or 'tb50'")


def _alias_key(name: str) -> str:
    return name.lower().replace("-", ".").replace("_", ".")


_OTB_ALIASES: dict[str, str] = {_alias_key(n): n for n in otb_meta.SEQUENCES}
# Other toolkits call the only Human4 target "Human4" (got10k, pysot) or "Human4_2" (pytracking).
_OTB_ALIASES["human4"] = "Human4.2"


def canonical_otb_name(name: str) -> str:
    """The benchmark's name for a sequence given under another toolkit's spelling.

    ``Jogging-1`` (python toolkit), ``Jogging_1`` (pytracking), ``jogging.1`` and ``Jogging.1`` all
    give ``Jogging.1``; ``Human4`` gives ``Human4.2``.

    Raises:
        KeyError: not an OTB sequence.
    """
    try:
        return _OTB_ALIASES[_alias_key(name)]
    except KeyError:
        raise KeyError(f"{name!r} is not an OTB sequence") from None


class OTB(_SequenceCollection):
    """The real OTB benchmark under ``root`` (the folder that holds ``Basketball/``, ``Biker/``...).

    Args:
        root: folder with one sub-folder per OTB sequence folder, as unpacked from the OTB site's
            per-sequence zips (``rankatt download`` puts them in ``data/OTB``).
        version: ``2015`` (TB-100, 100 sequences), ``2013`` (CVPR 2013, 51 sequences) or ``"tb50"``.
        names: only these sequences of the version (other toolkits' spellings such as ``Jogging-1``
            or ``Human4`` are accepted); default all of them, sorted by name.
        init_omit: leave out the leading frames the OTB toolkit leaves out (Tiger1 starts at frame
            6 of its 354; see :mod:`rankatt_lib.data.otb_meta`). ``False`` keeps all 354 Tiger1 frames,
            as got10k's toolkit does.

    What this class handles, sequence by sequence (facts and sources in :mod:`rankatt_lib.data.otb_meta`):
    annotated frame ranges that don't start at 1 or stop early (David 300-770, BlurCar1 247-988,
    BlurCar3 3-359, BlurCar4 18-397, Football1 1-74, Freeman3 1-460, Freeman4 1-283, Diving 1-215);
    two targets in one folder (Jogging.1/.2, Skating2.1/.2 from ``groundtruth_rect.1.txt`` /
    ``.2.txt``); Human4, whose only target is ``Human4.2``; 5-digit frame names (Board); any mix of
    separators in the ground truth; grayscale frames.

    Raises:
        MissingDataError: sequences of the version are not on disk; the message lists them and
            says how to download them. Frames are checked when a sequence is loaded.
    """

    def __init__(
        self,
        root: str | Path,
        version: int | str = 2015,
        names: Iterable[str] | None = None,
        init_omit: bool = True,
    ) -> None:
        self.root = Path(root)
        self.version = version
        self.name, all_names, self._dataset_key = _otb_version(version)
        self.init_omit = init_omit
        if names is None:
            self._names = list(all_names)
        else:
            wanted = [canonical_otb_name(n) for n in names]
            outside = [n for n in wanted if n not in all_names]
            if outside:
                raise KeyError(f"{self.name} does not contain {_show(outside)}")
            self._names = list(dict.fromkeys(wanted))
        self._check_present()

    def _check_present(self) -> None:
        hint = DOWNLOAD_HINT.format(dataset=self._dataset_key, dest=self.root)
        if not self.root.is_dir():
            raise MissingDataError(
                f"{self.name}: the OTB folder {self.root} does not exist. Download the benchmark with:\n"
                f"  {hint}"
            )
        missing = []
        for n in self._names:
            info = otb_meta.SEQUENCES[n]
            if not (self.root / info.folder / info.gt_file).is_file():
                missing.append(n)
        if missing:
            folders = otb_meta.folders(missing)
            command = hint + (f" --sequences {' '.join(folders)}" if len(folders) <= 10 else "")
            raise MissingDataError(
                f"{self.name}: {len(missing)} of {len(self._names)} sequences are missing under "
                f"{self.root} (no <folder>/<ground-truth file>): {_show(missing, 20)}.\n"
                f"Download them with:\n  {command}"
            )

    def _resolve(self, key: str) -> str | None:
        try:
            name = canonical_otb_name(key)
        except KeyError:
            return None
        return name if name in self._names else None

    def info(self, name: str) -> otb_meta.SequenceInfo:
        """The benchmark facts about a sequence (frame range, padding, attributes)."""
        resolved = self._resolve(name)
        if resolved is None:
            raise KeyError(f"{self.name} has no sequence {name!r}")
        return otb_meta.SEQUENCES[resolved]

    def _attributes(self, name: str) -> tuple[str, ...]:
        return otb_meta.SEQUENCES[name].attributes

    def _frame_pattern(self, info: otb_meta.SequenceInfo, img_dir: Path) -> tuple[int, str]:
        """Zero padding and extension of the frame files, found by probing the first frame."""
        for digits in dict.fromkeys((info.digits, 4, 5, 6, 8)):
            for ext in ("jpg", "png", "jpeg"):
                if (img_dir / f"{info.first:0{digits}d}.{ext}").is_file():
                    return digits, ext
        expected = img_dir / f"{info.first:0{info.digits}d}.jpg"
        raise MissingDataError(f"sequence {info.name}: first frame {expected} does not exist")

    def _load(self, name: str) -> Sequence:
        info = otb_meta.SEQUENCES[name]
        folder = self.root / info.folder
        gt_path = folder / info.gt_file
        gt = read_ground_truth(gt_path, name)
        if len(gt) != info.n_annotated:
            raise GroundTruthError(
                f"sequence {name}: {gt_path} has {len(gt)} rows, expected {info.n_annotated} "
                f"(one per frame {info.first}..{info.last} of the benchmark)"
            )
        img_dir = folder / "img"
        digits, ext = self._frame_pattern(info, img_dir)
        skip = info.init_omit if self.init_omit else 0
        frames = [img_dir / f"{i:0{digits}d}.{ext}" for i in range(info.first + skip, info.last + 1)]
        missing = [str(f) for f in frames if not f.is_file()]
        if missing:
            raise MissingDataError(
                f"sequence {name}: {len(missing)} of {len(frames)} frames are missing: {_show(missing, 5)}"
            )
        return Sequence(name, frames, gt[skip:], info.attributes)
