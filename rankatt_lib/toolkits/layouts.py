"""Result folders and metadata in the layouts of the other tracking toolkits, both ways.

What each toolkit writes and reads for OTB (learned from their code; nothing of it is copied):

=============  =====================================  ==================  ===========================
toolkit        boxes                                  timing              multi-target names
=============  =====================================  ==================  ===========================
``got10k``     ``<dir>/<tracker>/<seq>.txt``, commas  ``<dir>/<tracker>/  ``Jogging.1``, ``Human4``
               (``experiments/otb.py``)               times/<seq>_time``  (``datasets/otb.py``:
                                                      ``.txt``            folder name, ``.k`` when a
                                                                          folder holds several)
``pysot``      ``<dir>/<tracker>/<seq>.txt``, commas  none for OTB        ``Jogging-1``, ``Human4-2``
               (``toolkit/datasets/otb.py``)                              (``OTB100.json`` keys)
``pytracking`` ``<dir>/<tracker>/<seq>.txt``, tabs    ``<seq>_time.txt``  ``Jogging_1``, ``Human4_2``
               (``evaluation/running.py``)            beside the boxes    (``otbdataset.py``)
``otb-mat``    ``<dir>/<seq>_<tracker>.mat``: a cell  ``fps`` field       ``jogging-1`` (lower case,
               ``results`` of structs ``type``,                           the MATLAB toolkit's
               ``res``, ``fps``, ``len``,                                 ``configSeqs``)
               ``annoBegin``, ``startFrame``,
               ``anno``
=============  =====================================  ==================  ===========================

This project writes ``<dir>/<tracker>/<seq>.txt`` with ``<seq>_time.txt`` beside it and the
benchmark's own names (``Jogging.1``, ``Human4.2``). :func:`export_results` writes a tracker's
results in a toolkit's layout and spelling; :func:`import_results` reads any of the layouts back
into this project's (every spelling is matched with :func:`rankatt_lib.evaluation.results.match_names`), so
that published results score under every protocol here. :func:`pysot_metadata` builds pysot's
``OTB100.json`` / ``CVPR13.json`` / ``OTB50.json`` from the user's own OTB folder.

Boxes are written with Python's round-trip ``repr`` (pytracking itself saves whole pixels; its
reader takes floats), so a round trip gives back exactly the numbers that were written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rankatt_lib.data import otb_meta
from rankatt_lib.evaluation import results as res

__all__ = [
    "TOOLKITS",
    "PYSOT_JSON",
    "toolkit_name",
    "ToolkitResults",
    "read_results_folder",
    "project_names",
    "export_results",
    "export_notes",
    "import_results",
    "write_otb_mat",
    "read_otb_mat",
    "pysot_metadata",
    "write_pysot_json",
]

TOOLKITS: tuple[str, ...] = ("got10k", "pysot", "pytracking", "otb-mat")
"""Layouts :func:`export_results` writes (``import_results`` reads them all)."""

PYSOT_JSON: dict[str, tuple[str, ...]] = {
    "OTB100": otb_meta.OTB2015,
    "CVPR13": otb_meta.OTB2013,
    "OTB50": otb_meta.TB50,
}
"""pysot's OTB metadata files (``toolkit/datasets/otb.py``: name + ``.json``) and their sequences."""

_MAT_SUFFIX = ".mat"


def toolkit_name(name: str, toolkit: str) -> str:
    """A sequence's name as ``toolkit`` spells it (``name`` in this project's spelling).

    ``Jogging.1`` -> got10k ``Jogging.1``, pysot ``Jogging-1``, pytracking ``Jogging_1``, OTB
    MATLAB ``jogging-1``; ``Human4.2`` -> got10k ``Human4`` (its only target), pysot ``Human4-2``,
    pytracking ``Human4_2``. Names without a dot are the same everywhere (lower case for
    ``otb-mat``).

    Raises:
        ValueError: an unknown toolkit.
    """
    _check_toolkit(toolkit)
    if toolkit == "got10k":
        return "Human4" if name == "Human4.2" else name
    if toolkit == "pysot":
        return name.replace(".", "-")
    if toolkit == "pytracking":
        return name.replace(".", "_")
    return name.replace(".", "-").lower()


def _check_toolkit(toolkit: str) -> None:
    if toolkit not in TOOLKITS:
        raise ValueError(f"unknown toolkit {toolkit!r}; choose one of {', '.join(TOOLKITS)}")


# --------------------------------------------------------------------------- OTB MATLAB .mat


def write_otb_mat(
    path: str | os.PathLike[str],
    boxes: Any,
    *,
    fps: float = -1.0,
    start_frame: int = 1,
    anno: Any | None = None,
    anno_begin: int | None = None,
) -> Path:
    """Write one trajectory as the OTB MATLAB toolkit's ``<seq>_<tracker>.mat`` (atomically).

    The file holds ``results``, a 1x1 cell with a struct ``type = 'rect'``, ``res`` (N x 4
    ``x, y, w, h`` in 1-based pixels), ``fps``, ``len`` (N), ``startFrame`` (image number of the
    first row of ``res``), ``annoBegin`` (image number of the first row of ``anno``) and ``anno``
    (the ground truth, or an empty matrix).
    """
    from scipy.io import savemat

    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"write_otb_mat({str(path)!r}): expected boxes of shape (N, 4), got {arr.shape}")
    gt = np.zeros((0, 4)) if anno is None else np.asarray(anno, dtype=np.float64).reshape(-1, 4)
    struct = {
        "type": "rect",
        "res": arr,
        "fps": float(fps),
        "len": float(len(arr)),
        "startFrame": float(start_frame),
        "annoBegin": float(start_frame if anno_begin is None else anno_begin),
        "anno": gt,
    }
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = struct
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        savemat(str(tmp), {"results": cell}, do_compression=True)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


@dataclass
class OTBMatResult:
    """One trajectory read from an OTB MATLAB ``.mat`` file (:func:`read_otb_mat`)."""

    boxes: np.ndarray
    fps: float
    start_frame: int
    anno_begin: int
    anno: np.ndarray


def _field(struct: Any, name: str, path: Path) -> Any:
    if name not in getattr(struct, "_fieldnames", ()):
        raise ValueError(f"{path}: the struct in results{{1}} has no field {name!r}")
    return getattr(struct, name)


def _scalar(value: Any, name: str, path: Path) -> float:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.size != 1:
        raise ValueError(f"{path}: field {name!r} should be one number, got {arr.size} values")
    return float(arr[0])


def read_otb_mat(path: str | os.PathLike[str]) -> OTBMatResult:
    """Read the first run (``results{1}``) of an OTB MATLAB toolkit result file.

    Raises:
        ValueError: not a ``.mat`` file, no ``results`` cell, a field missing, a ``type`` other
            than ``'rect'`` (the affine types of some 2013 trackers are not converted), ``res`` not
            N x 4 or not ``len`` rows; the message names the file.
    """
    from scipy.io import loadmat

    p = Path(path)
    try:
        data = loadmat(str(p), squeeze_me=True, struct_as_record=False)
    except Exception as exc:  # scipy raises several types for a damaged or foreign file
        raise ValueError(f"{p}: not a readable MATLAB .mat file ({exc})") from None
    if "results" not in data:
        raise ValueError(f"{p}: no variable 'results' (an OTB toolkit result file holds a cell 'results')")
    cell = data["results"]
    if isinstance(cell, np.ndarray):
        if cell.size == 0:
            raise ValueError(f"{p}: 'results' is an empty cell")
        cell = cell.reshape(-1)[0]
    struct = cell
    kind = str(_field(struct, "type", p))
    if kind != "rect":
        raise ValueError(f"{p}: results{{1}}.type is {kind!r}; only 'rect' (x, y, w, h rows) is read")
    boxes = np.asarray(_field(struct, "res", p), dtype=np.float64)
    if boxes.ndim == 1 and boxes.size == 4:
        boxes = boxes.reshape(1, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{p}: results{{1}}.res should be N x 4 (x, y, w, h), got shape {boxes.shape}")
    n = int(_scalar(_field(struct, "len", p), "len", p))
    if n != len(boxes):
        raise ValueError(f"{p}: results{{1}}.len is {n} but res has {len(boxes)} rows")
    start = int(_scalar(_field(struct, "startFrame", p), "startFrame", p))
    begin = int(_scalar(_field(struct, "annoBegin", p), "annoBegin", p))
    fps = _scalar(_field(struct, "fps", p), "fps", p) if "fps" in struct._fieldnames else -1.0
    anno = np.asarray(getattr(struct, "anno", np.zeros((0, 4))), dtype=np.float64)
    anno = anno.reshape(-1, 4) if anno.size else np.zeros((0, 4))
    return OTBMatResult(boxes, fps, start, begin, anno)


# --------------------------------------------------------------------------- reading any layout


@dataclass
class ToolkitResults:
    """One tracker's results read from a folder: sequence name (as found) -> boxes / seconds."""

    boxes: dict[str, np.ndarray]
    times: dict[str, np.ndarray] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    layout: str = ""


_NOT_BOXES = ("_object_presence_scores.txt", res.TIME_SUFFIX)


def read_results_folder(folder: str | os.PathLike[str], tracker: str | None = None) -> ToolkitResults:
    """Read one tracker's results in any of the layouts (this project's, got10k, pysot,
    pytracking, OTB MATLAB ``.mat``).

    Args:
        folder: a tracker folder of ``<seq>.txt`` files (timing beside them or in ``times/``), or a
            folder of ``<seq>_<tracker>.mat`` files.
        tracker: for ``.mat`` folders, which tracker's files (needed when several are there).

    Raises:
        FileNotFoundError: ``folder`` is not a folder.
        ValueError: no result file in it, or ``.mat`` files of several trackers and no ``tracker``;
            a damaged file (named).
    """
    d = Path(folder)
    if not d.is_dir():
        raise FileNotFoundError(f"{d} is not a folder of tracking results")
    mats = sorted(f for f in d.glob(f"*{_MAT_SUFFIX}") if f.is_file() and not f.name.startswith("."))
    txts = sorted(
        f
        for f in d.glob("*.txt")
        if f.is_file() and not f.name.startswith(".") and not f.name.endswith(_NOT_BOXES)
    )
    if mats and not txts:
        return _read_mat_folder(d, mats, tracker)
    if not txts:
        raise ValueError(f"{d}: no result files (<sequence>.txt or <sequence>_<tracker>.mat)")
    out = ToolkitResults({}, layout="txt")
    for f in txts:
        name = f.name[: -len(".txt")]
        out.boxes[name] = res.read_boxes(f)
        out.files[name] = f
        t = res.find_times(d, name)
        if t is not None:
            out.times[name] = res.read_times(t)
    return out


def _mat_tracker(stems: list[str]) -> str | None:
    """The tracker name shared by ``<sequence>_<tracker>`` file stems: the longest ``_``-separated
    ending common to all of them (sequence names may hold ``_`` too), or ``None``."""
    common: set[str] | None = None
    for stem in stems:
        parts = stem.split("_")
        endings = {"_".join(parts[i:]) for i in range(1, len(parts))}
        common = endings if common is None else common & endings
    return max(common, key=len) if common else None


def _read_mat_folder(d: Path, mats: list[Path], tracker: str | None) -> ToolkitResults:
    stems = [f.name[: -len(_MAT_SUFFIX)] for f in mats]
    bad = [f for f, stem in zip(mats, stems, strict=True) if "_" not in stem.strip("_")]
    if bad:
        raise ValueError(f"{bad[0]}: an OTB toolkit result file is named <sequence>_<tracker>.mat")
    if tracker is None:
        tracker = _mat_tracker(stems)
        if tracker is None:
            guesses = sorted({stem.partition("_")[2] for stem in stems})
            raise ValueError(
                f"{d} holds .mat results of several trackers ({', '.join(guesses[:8])}"
                f"{', ...' if len(guesses) > 8 else ''}); say which one (tracker=... / --source-tracker)"
            )
    suffix = f"_{tracker}"
    chosen = [(stem[: -len(suffix)], f) for stem, f in zip(stems, mats, strict=True) if stem.endswith(suffix)]
    chosen = [(seq, f) for seq, f in chosen if seq]
    if not chosen:
        raise ValueError(f"{d}: no <sequence>_{tracker}.mat file")
    out = ToolkitResults({}, layout="otb-mat")
    for seq, f in chosen:
        r = read_otb_mat(f)
        out.boxes[seq] = r.boxes
        out.files[seq] = f
        if r.fps > 0:  # the toolkit keeps a mean speed only: every frame gets its mean time
            out.times[seq] = np.full(len(r.boxes), 1.0 / r.fps)
    return out


def project_names(names: Iterable[str], dataset_names: Iterable[str] | None) -> dict[str, str]:
    """Found result name -> this project's name: the dataset's (results for other sequences are left
    out) when ``dataset_names`` is given, else OTB's for OTB sequences (``Jogging-1`` ->
    ``Jogging.1``) and the name as found for any other.

    Raises:
        ValueError: two results for one sequence.
    """
    found = list(names)
    if dataset_names is not None:
        matched = res.match_names(found, list(dataset_names))
        return {r: n for n, r in matched.items()}
    from rankatt_lib.data.otb import canonical_otb_name

    out = {}
    for n in found:
        try:
            out[n] = canonical_otb_name(n)
        except KeyError:
            out[n] = n
    seen: dict[str, str] = {}
    for k, v in out.items():
        if v in seen:
            raise ValueError(f"{seen[v]!r} and {k!r} are both results for sequence {v!r}; keep one")
        seen[v] = k
    return out


def import_results(
    folder: str | os.PathLike[str],
    results_root: str | os.PathLike[str],
    benchmark: str,
    tracker: str,
    *,
    source_tracker: str | None = None,
    dataset_names: Iterable[str] | None = None,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Copy a result folder of any toolkit into this project's layout.

    Writes ``<results_root>/<benchmark>/<tracker>/<name>.txt`` (and ``<name>_time.txt`` where the
    folder has timing) under this project's names: the dataset's names when ``dataset_names`` is
    given (results for sequences outside it are not copied), else OTB's for OTB sequences.

    Args:
        source_tracker: for ``.mat`` folders, which tracker's files.
        overwrite: replace existing result files; by default an existing file with other content is
            an error (a finished result is never lost), one with the same boxes is left alone.

    Returns:
        this project's sequence name -> the box file written (or found identical).

    Raises:
        FileExistsError: a result file exists with other content (named), unless ``overwrite``.
    """
    found = read_results_folder(folder, source_tracker)
    names = project_names(found.boxes, dataset_names)
    if not names:
        raise ValueError(f"{folder}: none of its results is a sequence of the dataset")
    planned = []
    for src, name in sorted(names.items(), key=lambda kv: kv[1]):
        target = res.result_path(results_root, benchmark, tracker, name)
        if target.is_file() and not overwrite:
            try:
                same = np.array_equal(res.read_boxes(target), found.boxes[src], equal_nan=True)
            except ValueError:
                same = False
            if not same:
                raise FileExistsError(
                    f"{target} exists with other boxes than {found.files[src]}; "
                    "move it away or import with overwrite=True (--overwrite)"
                )
        planned.append((src, name, target))
    written = {}
    for src, name, target in planned:
        res.write_boxes(target, found.boxes[src])
        if src in found.times:
            res.write_times(res.times_path(results_root, benchmark, tracker, name), found.times[src])
        written[name] = target
    return written


# --------------------------------------------------------------------------- writing a toolkit's layout


def _otb_range(name: str, n_rows: int) -> tuple[int, int]:
    """(startFrame, annoBegin) image numbers of an OTB sequence's ``n_rows``-row trajectory."""
    info = otb_meta.SEQUENCES.get(name)
    if info is None:
        return 1, 1
    if n_rows == info.n_annotated - info.init_omit and info.init_omit:
        return info.first + info.init_omit, info.first + info.init_omit
    return info.first, info.first


def export_results(
    boxes: Mapping[str, Any],
    out: str | os.PathLike[str],
    toolkit: str,
    tracker: str,
    *,
    times: Mapping[str, Any] | None = None,
    ground_truth: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write one tracker's results in ``toolkit``'s layout and sequence spelling.

    Args:
        boxes: this project's sequence name -> ``(N, 4)`` boxes.
        out: the toolkit's results folder for the benchmark (got10k: ``results/OTB2015``; pysot:
            ``results/OTB100``; pytracking: ``<results_path>/<tracker name>``, with ``tracker``
            its parameter name; ``otb-mat``: ``results/results_OPE``).
        toolkit: one of :data:`TOOLKITS`.
        tracker: the tracker's name in the toolkit.
        times: sequence -> per-frame seconds; written where the toolkit keeps timing (got10k's
            ``times/``, pytracking beside the boxes, the ``.mat`` ``fps`` field); pysot keeps none.
        ground_truth: sequence -> ground truth, stored as ``anno`` in ``.mat`` files.

    Returns:
        The files written.
    """
    _check_toolkit(toolkit)
    res._check_component(tracker, "tracker")
    root = Path(out)
    times = times or {}
    written: list[Path] = []
    spelled = {n: toolkit_name(n, toolkit) for n in boxes}
    clash = {v for v in spelled.values() if list(spelled.values()).count(v) > 1}
    if clash:
        raise ValueError(f"several sequences would be written as {', '.join(sorted(clash))} for {toolkit}")
    for name, arr in boxes.items():
        theirs = spelled[name]
        seq_times = times.get(name)
        if toolkit == "otb-mat":
            fps = -1.0
            if seq_times is not None and len(seq_times) and float(np.sum(seq_times)) > 0:
                fps = len(seq_times) / float(np.sum(seq_times))
            b = np.asarray(arr, dtype=np.float64)
            start, begin = _otb_range(name, len(b))
            gt = None if ground_truth is None else ground_truth.get(name)
            written.append(
                write_otb_mat(root / f"{theirs}_{tracker}{_MAT_SUFFIX}", b, fps=fps, start_frame=start,
                              anno=gt, anno_begin=begin)
            )
            continue
        folder = root / tracker
        box_file = folder / f"{theirs}.txt"
        if toolkit == "pytracking":
            b = np.asarray(arr, dtype=np.float64).reshape(-1, 4)
            res.atomic_write_text(box_file, "".join("\t".join(repr(float(v)) for v in row) + "\n" for row in b))
        else:
            res.write_boxes(box_file, arr)
        written.append(box_file)
        if seq_times is None or toolkit == "pysot":
            continue
        t_file = (folder / res.TIMES_DIR if toolkit == "got10k" else folder) / f"{theirs}{res.TIME_SUFFIX}"
        written.append(res.write_times(t_file, seq_times))
    return written


def export_notes(boxes: Mapping[str, Any], toolkit: str) -> list[str]:
    """What the toolkit will make of these trajectories' lengths, where it differs from here.

    got10k's ``ExperimentOTB`` scores Tiger1 on all 354 frames (it has no init-omit rule) and
    asserts one row per frame, so a Tiger1 tracked from frame 6 (349 rows, this project's OTB
    loader) is rejected by its ``report()``.
    """
    _check_toolkit(toolkit)
    notes = []
    for name, arr in boxes.items():
        info = otb_meta.SEQUENCES.get(name)
        if toolkit != "got10k" or info is None or not info.init_omit:
            continue
        if len(arr) == info.n_annotated - info.init_omit:
            notes.append(
                f"{name}: {len(arr)} rows (tracked from frame {info.first + info.init_omit}); got10k scores all "
                f"{info.n_annotated} frames and its report() will reject this file (track it with init_omit=False)"
            )
    return notes


# --------------------------------------------------------------------------- pysot's metadata


def pysot_metadata(dataset: Any, root: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """pysot's per-sequence metadata for the sequences of ``dataset`` (e.g. a :class:`rankatt_lib.data.otb.OTB`).

    Keys are pysot's names (``Jogging-1``); each value has ``video_dir``, ``init_rect``,
    ``img_names`` (relative to ``root``, the folder the json goes into), ``gt_rect`` and ``attr``
    (OTB attribute codes), as ``toolkit/datasets/otb.py`` reads them. A folder that holds two
    targets (Jogging, Skating2) is named after the target (``Jogging-1/img/...``): pysot's
    ``testing_dataset/README.md`` asks for a copy or link ``Jogging-1`` of ``Jogging`` per target.
    The frames and ground truth are the ones the dataset loads (Tiger1 from frame 6 with
    ``init_omit``; David from frame 300).
    """
    base = Path(root).resolve()
    meta: dict[str, dict[str, Any]] = {}
    for seq in dataset:
        key = toolkit_name(seq.name, "pysot")
        folder = Path(seq.frames[0]).parent.parent.name
        video_dir = key if "." in seq.name and seq.name != "Human4.2" else folder  # Human4: one target
        img_names = []
        for f in seq.frames:
            rel = Path(f).resolve().relative_to(base)
            parts = list(rel.parts)
            parts[0] = video_dir
            img_names.append("/".join(parts))
        gt = [[float(v) for v in row] for row in np.asarray(seq.gt)]
        meta[key] = {
            "video_dir": video_dir,
            "init_rect": gt[0],
            "img_names": img_names,
            "gt_rect": gt,
            "attr": list(seq.attributes),
        }
    return meta


def write_pysot_json(otb_root: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write ``OTB100.json``, ``CVPR13.json`` and ``OTB50.json`` (pysot's names; OTB50 is TB-50)
    for the versions whose sequences are all under ``otb_root`` (into ``out``, default
    ``otb_root``, where pysot looks for them). Returns the files written.

    Raises:
        rankatt_lib.data.otb.MissingDataError: not even one version is complete (names the missing).
    """
    from rankatt_lib.data.otb import OTB, MissingDataError

    root = Path(otb_root)
    dest = Path(out) if out is not None else root
    written = []
    errors = []
    for json_name, version in (("OTB100", 2015), ("CVPR13", 2013), ("OTB50", "tb50")):
        try:
            dataset = OTB(root, version=version)
        except MissingDataError as exc:
            errors.append(str(exc))
            continue
        meta = pysot_metadata(dataset, root)
        written.append(res.atomic_write_text(dest / f"{json_name}.json", json.dumps(meta)))
    if not written:
        raise MissingDataError(errors[0] if errors else f"no OTB sequences under {root}")
    return written

