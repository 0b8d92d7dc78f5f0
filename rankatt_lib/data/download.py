"""Download tracking benchmarks: OTB-2013 / OTB-2015 (per-sequence zips), UAV123, TC128.

Every archive goes through the same steps, so that an interrupted or failed run never leaves
something on disk that looks complete:

1. **download** into ``<parent>/.downloads/<archive>.part`` (``<parent>`` is the folder the
   extracted data goes into). A transfer that stops early keeps the ``.part`` file and the next run
   (or the next retry) resumes it with an HTTP ``Range`` request, guarded by ``If-Range`` with the
   server's ``ETag`` / ``Last-Modified`` so that a file changed on the server is fetched anew;
   a server that ignores ranges sends the whole file and we start over. The ``.part`` file becomes
   ``<archive>`` only once all bytes are in.
2. **verify**: the size (when known), the sha256 (when known), and the zip's integrity
   (``zipfile.testzip`` checks every member's CRC); member paths that would escape the target
   (``../``, absolute) are refused. A corrupt archive is deleted (resuming it could not repair it)
   and the next run downloads it from scratch.
3. **extract atomically**: into a hidden temporary folder ``<parent>/.<target>.extract-XXXX`` next
   to the target, then one ``rename`` to the target. A folder with the target's name therefore
   only ever exists complete; leftover temporary folders of a killed run are removed by the next
   run (and hidden folders are never taken for sequences by :mod:`rankatt_lib.data.otb`).

A 404 (or any other failure) of one archive is reported with its URL or file, the other archives
still go ahead, and :func:`main` prints a summary and exits non-zero if anything failed.

Only the standard library (``urllib``) does HTTP; ``tqdm`` draws the progress bars. The base URL
of every dataset can be replaced (``--base-url`` or the environment variable
``RANKATT_DATA_BASE_URL``): the archive's file name is appended to it. Tests use this to serve
archives from a local HTTP server.

Sources of the URLs:

* OTB: ``http://cvlab.hanyang.ac.kr/tracker_benchmark/seq/<Folder>.zip``, one zip per sequence
  folder (``Jogging.zip`` holds Jogging.1 and Jogging.2) -- the URLs written into the benchmark
  authors' MATLAB toolkit (https://github.com/jwlim/tracker_benchmark, branch ``pami15``,
  ``matlab/util/MakeSequenceConfigVer1[01].m``) and used by got10k's ``got10k/datasets/otb.py``.
* UAV123 (Mueller, Smith & Ghanem, ECCV 2016): the project page
  https://cemse.kaust.edu.sa/ivul/uav123 distributes ``Dataset_UAV123.zip`` (14,049,397,769 bytes,
  UAV123 and UAV20L) through Google Drive, file id ``0B6sQMCU1i4NbNGxWQzRVak5yLWs``. Drive may
  answer with a sign-in or quota page instead of the file; then download it in a browser and
  install it with ``--from-dir``.
* TC128 / Temple Color 128 (Liang, Blasch & Ling, TIP 2015): ``Temple-color-128.zip`` from the
  project page, now at https://www3.cs.stonybrook.edu/~hling/data/TColor-128/TColor-128.html,
  formerly http://www.dabi.temple.edu/~hbling/data/TColor-128/ (the URL got10k's
  ``tcolor128.py`` uses; kept as a mirror).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from rankatt_lib.data import otb_meta

__all__ = [
    "BASE_URL_ENV",
    "OTB_BASE_URL",
    "DATASETS",
    "Archive",
    "FetchResult",
    "DownloadError",
    "IncompleteDownload",
    "ArchiveError",
    "archives_for",
    "default_dest",
    "download",
    "verify_archive",
    "extract_atomically",
    "fetch",
    "fetch_all",
    "summarize",
    "main",
]

OTB_BASE_URL = "http://cvlab.hanyang.ac.kr/tracker_benchmark/seq/"
BASE_URL_ENV = "RANKATT_DATA_BASE_URL"
USER_AGENT = "rankatt-downloader/1 (+python urllib)"
CHUNK = 1 << 16

UAV123_URL = (
    "https://drive.usercontent.google.com/download?id=0B6sQMCU1i4NbNGxWQzRVak5yLWs"
    "&export=download&confirm=t&resourcekey=0-IjwQcWEzP2x3ec8kXtLBpA"
)
UAV123_SIZE = 14_049_397_769
TC128_URLS = (
    "https://www3.cs.stonybrook.edu/~hling/data/TColor-128/Temple-color-128.zip",
    "http://www.dabi.temple.edu/~hbling/data/TColor-128/Temple-color-128.zip",
)

#: The datasets this module downloads, with a one-line description.
DATASETS: dict[str, str] = {
    "otb2013": "OTB-2013: 51 sequences in 50 per-sequence zips from the OTB site",
    "otb2015": "OTB-2015 / TB-100: 100 sequences in 98 per-sequence zips from the OTB site (about 2.7 GB)",
    "tb50": "TB-50: the 50 hardest TB-100 sequences (49 zips from the OTB site)",
    "uav123": "UAV123 (+UAV20L): one 13 GiB zip, Google Drive link of the project page",
    "tc128": "TC128 (Temple Color 128): one zip from the project page",
}

_DEFAULT_DEST = {
    "otb2013": "data/OTB",
    "otb2015": "data/OTB",
    "tb50": "data/OTB",
    "uav123": "data/UAV123",
    "tc128": "data/TC128",
}

_OTB_LISTS = {"otb2013": otb_meta.OTB2013, "otb2015": otb_meta.OTB2015, "tb50": otb_meta.TB50}


class DownloadError(Exception):
    """An archive could not be downloaded (the message names the URL)."""


class IncompleteDownload(DownloadError):
    """The transfer stopped early; the ``.part`` file is kept and the next attempt resumes it."""


class ArchiveError(Exception):
    """An archive is corrupt, unsafe or not what was expected (the message names the file)."""


@dataclass(frozen=True)
class Archive:
    """One archive to fetch and where its content goes.

    Attributes:
        name: label used in messages (``"Basketball"``, ``"UAV123"``).
        urls: where to get it, tried in order (mirrors).
        filename: the archive's file name.
        target: folder created under the destination for the content; ``""`` means the
            destination folder itself.
        top_level: the single folder the archive wraps its content in, which is dropped on
            extraction: a name (compared case-insensitively), ``"*"`` for any name, or ``None``.
        required: paths that must exist in the extracted content (``("img",)`` for OTB).
        size: expected size in bytes, when known.
        sha256: expected sha256 hex digest, when known.
    """

    name: str
    urls: tuple[str, ...]
    filename: str
    target: str
    top_level: str | None = None
    required: tuple[str, ...] = ()
    size: int | None = None
    sha256: str | None = None


@dataclass
class FetchResult:
    """What :func:`fetch` did with one archive: ``status`` is ``downloaded``, ``present`` or ``failed``."""

    archive: Archive
    status: str
    path: Path
    error: str | None = None


def default_dest(dataset: str) -> Path:
    """Default destination folder of a dataset (``data/OTB`` for the OTB versions)."""
    return Path(_DEFAULT_DEST[dataset])


def _base_url(base_url: str | None) -> str | None:
    chosen = base_url if base_url else os.environ.get(BASE_URL_ENV, "").strip()
    return chosen.rstrip("/") + "/" if chosen else None


def _otb_folders(dataset: str, sequences: Iterable[str] | None) -> list[str]:
    listed = _OTB_LISTS[dataset]
    if sequences is None:
        return otb_meta.folders(listed)
    allowed = {otb_meta.SEQUENCES[n].folder.lower(): otb_meta.SEQUENCES[n].folder for n in listed}
    by_name = {n.lower().replace("-", ".").replace("_", "."): n for n in listed}
    chosen: list[str] = []
    unknown: list[str] = []
    for s in sequences:
        key = s.lower().replace("-", ".").replace("_", ".")
        if key in allowed:
            chosen.append(allowed[key])
        elif key in by_name:
            chosen.append(otb_meta.SEQUENCES[by_name[key]].folder)
        else:
            unknown.append(s)
    if unknown:
        raise ValueError(f"{dataset} has no sequence or folder {', '.join(unknown)}")
    return sorted(set(chosen))


def archives_for(
    dataset: str, sequences: Iterable[str] | None = None, base_url: str | None = None
) -> list[Archive]:
    """The archives of a dataset (see :data:`DATASETS`).

    Args:
        dataset: ``otb2013``, ``otb2015``, ``tb50``, ``uav123`` or ``tc128``.
        sequences: OTB only: restrict to these sequences or folders (``Jogging.1``, ``Jogging``,
            ``Human4`` ...); each maps to its folder's zip.
        base_url: replaces the official host(s): the URL becomes ``base_url/<archive file name>``.
            Default: the environment variable ``RANKATT_DATA_BASE_URL``, else the official URLs.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    base = _base_url(base_url)
    if dataset in _OTB_LISTS:
        return [
            Archive(
                name=folder,
                urls=((base or OTB_BASE_URL) + f"{folder}.zip",),
                filename=f"{folder}.zip",
                target=folder,
                top_level=folder,
                required=("img",),
            )
            for folder in _otb_folders(dataset, sequences)
        ]
    if sequences is not None:
        raise ValueError(f"--sequences only applies to the OTB datasets, not {dataset}")
    if dataset == "uav123":
        filename = "Dataset_UAV123.zip"
        return [
            Archive(
                name="UAV123",
                urls=(base + filename,) if base else (UAV123_URL,),
                filename=filename,
                target="",
                top_level="*",
                required=("data_seq", "anno"),
                size=None if base else UAV123_SIZE,
            )
        ]
    filename = "Temple-color-128.zip"
    return [
        Archive(
            name="TC128",
            urls=(base + filename,) if base else TC128_URLS,
            filename=filename,
            target="",
            top_level="*",
        )
    ]


# ---------------------------------------------------------------------------------------------
# HTTP


def _content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """``bytes 100-199/1000`` -> (100, 199, 1000); ``bytes */1000`` -> (None, None, 1000)."""
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*", value or "")
    if not m:
        return None, None, None

    def num(s: str | None) -> int | None:
        return int(s) if s and s != "*" else None

    return num(m.group(1)), num(m.group(2)), num(m.group(3))


def _load_validator(meta: Path) -> str | None:
    try:
        return json.loads(meta.read_text()).get("validator")
    except (OSError, ValueError):
        return None


def _transfer(
    url: str,
    part: Path,
    meta: Path,
    *,
    expected_size: int | None,
    timeout: float,
    progress: bool,
    desc: str,
    _restarted: bool = False,
) -> None:
    """One HTTP request that appends to (or restarts) ``part``; raises unless it ends complete."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
        validator = _load_validator(meta)
        if validator:
            headers["If-Range"] = validator
    request = urllib.request.Request(url, headers=headers)

    def restart(reason: str) -> None:
        if _restarted:
            raise DownloadError(f"{url}: {reason}, even after starting over")
        part.unlink(missing_ok=True)
        meta.unlink(missing_ok=True)
        _transfer(
            url,
            part,
            meta,
            expected_size=expected_size,
            timeout=timeout,
            progress=progress,
            desc=desc,
            _restarted=True,
        )

    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            total = _content_range(exc.headers.get("Content-Range"))[2]
            exc.close()
            if total == have:
                return  # the partial file was already complete
            return restart(f"range {have}- not satisfiable (server size {total})")
        exc.close()
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise IncompleteDownload(f"{url}: timed out connecting ({exc.reason})") from None
        raise DownloadError(f"{url}: {exc.reason}") from None
    except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        raise IncompleteDownload(f"{url}: {type(exc).__name__}: {exc}") from None

    with response:
        if response.headers.get("Content-Type", "").lower().startswith("text/html"):
            raise DownloadError(
                f"{url}: the server sent an HTML page instead of {part.name.removesuffix('.part')} "
                "(an error, sign-in or quota page?)"
            )
        header = response.headers.get("Content-Length")
        length = int(header) if header and header.isdigit() else None
        if response.status == 206 and have:
            start, _, total = _content_range(response.headers.get("Content-Range"))
            if start != have:
                response.close()
                return restart(f"server resumed at byte {start}, not {have}")
            mode = "ab"
        else:
            have, mode = 0, "wb"
            total = length
            validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
            meta.write_text(json.dumps({"url": url, "validator": validator, "total": total}))
        if total is None and length is not None:
            total = have + length
        if expected_size is not None and total is not None and total != expected_size:
            part.unlink(missing_ok=True)
            meta.unlink(missing_ok=True)
            raise DownloadError(f"{url}: the server has {total} bytes, expected {expected_size}")

        done = have
        with (
            open(part, mode) as out,
            tqdm(
                total=total,
                initial=have,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=desc,
                disable=not progress,
                leave=False,
                file=sys.stderr,
            ) as bar,
        ):
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise IncompleteDownload(
                        f"{url}: transfer interrupted after {done} bytes ({type(exc).__name__}: {exc}); "
                        f"{part} is kept and the next run resumes it"
                    ) from None
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
    if total is not None and done < total:
        raise IncompleteDownload(
            f"{url}: connection closed after {done} of {total} bytes; "
            f"{part} is kept and the next run resumes it"
        )
    if total is not None and done > total:
        part.unlink(missing_ok=True)
        meta.unlink(missing_ok=True)
        raise DownloadError(f"{url}: received {done} bytes, more than the announced {total}")


def download(
    url: str,
    path: str | Path,
    *,
    expected_size: int | None = None,
    timeout: float = 60.0,
    retries: int = 3,
    retry_wait: float = 2.0,
    progress: bool = True,
    desc: str | None = None,
) -> Path:
    """Download ``url`` to ``path`` through ``path.part``, resuming an earlier partial download.

    An interrupted transfer is resumed up to ``retries`` times (waiting ``retry_wait`` seconds,
    doubling); if it still fails the ``.part`` file stays for the next call.

    Raises:
        IncompleteDownload: the transfer kept stopping early (``.part`` kept).
        DownloadError: HTTP error (e.g. 404), unreachable host, HTML page instead of the file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    meta = path.with_name(path.name + ".part.json")
    wait = retry_wait
    for attempt in range(retries + 1):
        try:
            _transfer(
                url,
                part,
                meta,
                expected_size=expected_size,
                timeout=timeout,
                progress=progress,
                desc=desc or path.name,
            )
            break
        except IncompleteDownload:
            if attempt == retries:
                raise
            time.sleep(wait)
            wait *= 2
    os.replace(part, path)
    meta.unlink(missing_ok=True)
    return path


# ---------------------------------------------------------------------------------------------
# Verification and extraction


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _unsafe_member(name: str) -> bool:
    p = PurePosixPath(name.replace("\\", "/"))
    return p.is_absolute() or ".." in p.parts or bool(re.match(r"^[A-Za-z]:", name))


def verify_archive(path: str | Path, *, size: int | None = None, sha256: str | None = None) -> None:
    """Check an archive: size and sha256 when given, zip structure and every member's CRC.

    Raises:
        ArchiveError: naming the file and what is wrong with it.
    """
    path = Path(path)
    actual = path.stat().st_size
    if size is not None and actual != size:
        raise ArchiveError(f"{path}: {actual} bytes, expected {size}")
    if sha256 is not None:
        digest = _sha256(path)
        if digest.lower() != sha256.lower():
            raise ArchiveError(f"{path}: sha256 {digest} does not match the expected {sha256}")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            head = f.read(512).lstrip().lower()
        html = head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head"))
        raise ArchiveError(
            f"{path} is not a zip archive"
            + (" (it is an HTML page: the server sent an error, sign-in or quota page)" if html else "")
        )
    try:
        with zipfile.ZipFile(path) as zf:
            unsafe = [n for n in zf.namelist() if _unsafe_member(n)]
            if unsafe:
                raise ArchiveError(
                    f"{path}: refusing members that would land outside the target: {unsafe[:5]}"
                )
            bad = zf.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
        raise ArchiveError(f"{path} is a corrupt zip archive: {exc}") from None
    if bad is not None:
        raise ArchiveError(f"{path} is corrupt: member {bad} fails its CRC check")


def _content_root(tmp: Path, top_level: str | None) -> Path:
    entries = [p for p in tmp.iterdir() if p.name not in ("__MACOSX", ".DS_Store")]
    if (
        top_level is not None
        and len(entries) == 1
        and entries[0].is_dir()
        and (top_level == "*" or entries[0].name.lower() == top_level.lower())
    ):
        return entries[0]
    return tmp


def extract_atomically(
    archive: str | Path,
    target: str | Path,
    *,
    top_level: str | None = None,
    required: Sequence[str] = (),
) -> Path:
    """Extract a (verified) zip so that ``target`` appears complete or not at all.

    The archive is extracted into a hidden temporary folder next to ``target``; its single
    top-level folder is dropped when it matches ``top_level`` (a name, or ``"*"``); the
    ``required`` paths are checked; then one ``rename`` creates ``target``. On any failure the
    temporary folder is removed and ``target`` is not created.

    Raises:
        FileExistsError: ``target`` already exists.
        ArchiveError: a ``required`` path is missing from the archive.
    """
    archive, target = Path(archive), Path(target)
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.extract-", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp)
        src = _content_root(tmp, top_level)
        missing = [r for r in required if not (src / r).exists()]
        if missing:
            found = ", ".join(sorted(p.name for p in src.iterdir())) or "nothing"
            raise ArchiveError(f"{archive} lacks the expected {', '.join(missing)} (it holds: {found})")
        os.rename(src, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _remove_leftovers(target: Path) -> None:
    """Remove temporary folders a killed run left next to ``target``."""
    if not target.parent.is_dir():
        return
    for pattern in (f".{target.name}.extract-*", f".{target.name}.old-*"):
        for p in target.parent.glob(pattern):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (other archives in progress or kept) or already gone


# ---------------------------------------------------------------------------------------------
# Fetching archives


def fetch(
    archive: Archive,
    dest: str | Path,
    *,
    force: bool = False,
    keep_archive: bool = False,
    from_dir: str | Path | None = None,
    timeout: float = 60.0,
    retries: int = 3,
    retry_wait: float = 2.0,
    progress: bool = True,
) -> FetchResult:
    """Download, verify and extract one archive into ``dest`` (see the module docstring).

    Args:
        archive: what to fetch.
        dest: destination folder; the content goes to ``dest/archive.target``.
        force: replace an existing target (atomically: the old one is removed only after the new
            one is in place).
        keep_archive: keep the downloaded zip in ``.downloads`` (by default it is deleted).
        from_dir: take the archive from this folder (a manual download) instead of the network.
        timeout, retries, retry_wait: per-request timeout, resume attempts, first wait.
        progress: draw a tqdm progress bar.

    Returns:
        A :class:`FetchResult` with status ``downloaded`` or ``present``.

    Raises:
        DownloadError, ArchiveError, OSError: the archive could not be fetched or installed.
    """
    dest = Path(dest)
    final = dest / archive.target if archive.target else dest
    _remove_leftovers(final)
    if final.exists() and not force:
        return FetchResult(archive, "present", final)

    downloads = final.parent / ".downloads"
    if from_dir is not None:
        path = Path(from_dir) / archive.filename
        if not path.is_file():
            raise DownloadError(
                f"{archive.name}: {path} does not exist (looked for it because of --from-dir)"
            )
        verify_archive(path, size=archive.size, sha256=archive.sha256)
    else:
        path = downloads / archive.filename
        if force:
            path.unlink(missing_ok=True)  # fetch it anew rather than reuse a kept archive
        if not path.is_file():  # else: a complete download an earlier run did not get to extract
            errors = []
            for url in archive.urls:
                try:
                    download(
                        url,
                        path,
                        expected_size=archive.size,
                        timeout=timeout,
                        retries=retries,
                        retry_wait=retry_wait,
                        progress=progress,
                        desc=archive.name,
                    )
                    break
                except IncompleteDownload:
                    raise
                except DownloadError as exc:
                    errors.append(str(exc))
            else:
                _remove_if_empty(downloads)
                raise DownloadError("; ".join(errors))
        try:
            verify_archive(path, size=archive.size, sha256=archive.sha256)
        except ArchiveError as exc:
            path.unlink(missing_ok=True)
            _remove_if_empty(downloads)
            raise ArchiveError(f"{exc}; deleted it, the next run downloads it again") from None

    old = None
    if final.exists():  # force
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.rename(final, old)
    try:
        extract_atomically(path, final, top_level=archive.top_level, required=archive.required)
    except BaseException:
        if old is not None:
            os.rename(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    if from_dir is None and not keep_archive:
        path.unlink(missing_ok=True)
        _remove_if_empty(downloads)
    return FetchResult(archive, "downloaded", final)


def fetch_all(
    archives: Sequence[Archive],
    dest: str | Path,
    *,
    force: bool = False,
    keep_archive: bool = False,
    from_dir: str | Path | None = None,
    timeout: float = 60.0,
    retries: int = 3,
    retry_wait: float = 2.0,
    progress: bool = True,
    log: bool = True,
) -> list[FetchResult]:
    """:func:`fetch` every archive; a failure is recorded and the others still go ahead.

    The keyword arguments are those of :func:`fetch`; ``log`` prints one line per archive.
    """
    results = []
    for i, archive in enumerate(archives, 1):
        where = Path(dest) / archive.target if archive.target else Path(dest)
        try:
            result = fetch(
                archive,
                dest,
                force=force,
                keep_archive=keep_archive,
                from_dir=from_dir,
                timeout=timeout,
                retries=retries,
                retry_wait=retry_wait,
                progress=progress,
            )
        except (DownloadError, ArchiveError, OSError) as exc:
            result = FetchResult(archive, "failed", where, error=str(exc))
        results.append(result)
        if log:
            line = f"[{i}/{len(archives)}] {archive.name}: {result.status}"
            if result.status == "failed":
                print(f"{line}: {result.error}", file=sys.stderr, flush=True)
            else:
                print(f"{line} -> {result.path}", flush=True)
    return results


def summarize(results: Sequence[FetchResult]) -> str:
    """One paragraph: counts per status, then each failure with its error."""
    counts = {s: sum(r.status == s for r in results) for s in ("downloaded", "present", "failed")}
    text = (
        f"{len(results)} archive(s): {counts['downloaded']} downloaded, "
        f"{counts['present']} already present, {counts['failed']} failed"
    )
    failed = [r for r in results if r.status == "failed"]
    if failed:
        text += ":\n" + "\n".join(f"  {r.archive.name}: {r.error}" for r in failed)
        text += "\nRun the same command again to retry them (partial downloads are resumed)."
    return text


# ---------------------------------------------------------------------------------------------
# Command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rankatt download",
        description="Download OTB-2013/2015, UAV123 or TC128: resumable, verified, extracted atomically.",
        epilog="Datasets: " + "; ".join(f"{k}: {v}" for k, v in DATASETS.items()),
    )
    p.add_argument(
        "--dataset", choices=list(DATASETS), default="otb2015", help="what to download (default otb2015)"
    )
    p.add_argument(
        "--dest", type=Path, help="destination folder (default data/OTB, data/UAV123 or data/TC128)"
    )
    p.add_argument("--sequences", nargs="+", metavar="NAME", help="OTB only: these sequences or folders")
    p.add_argument(
        "--base-url",
        help=f"fetch <base-url>/<archive>.zip instead of the official host (env {BASE_URL_ENV})",
    )
    p.add_argument("--from-dir", type=Path, help="install archives already downloaded into this folder")
    p.add_argument("--force", action="store_true", help="replace data that is already there")
    p.add_argument("--keep-archives", action="store_true", help="keep the zips in <dest>/.downloads")
    p.add_argument("--retries", type=int, default=3, help="resume attempts per archive (default 3)")
    p.add_argument("--timeout", type=float, default=60.0, help="network timeout in seconds (default 60)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--list", action="store_true", help="print the archives and their URLs, download nothing")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (``rankatt download``, ``data_scripts/download_otb.py``); returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        archives = archives_for(args.dataset, args.sequences, args.base_url)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    dest = args.dest if args.dest is not None else default_dest(args.dataset)
    if args.list:
        for a in archives:
            print(f"{a.name}\t{' '.join(a.urls)}\t-> {dest / a.target if a.target else dest}")
        return 0
    print(f"{args.dataset}: {len(archives)} archive(s) into {dest}", flush=True)
    results = fetch_all(
        archives,
        dest,
        force=args.force,
        keep_archive=args.keep_archives,
        from_dir=args.from_dir,
        timeout=args.timeout,
        retries=args.retries,
        progress=not args.no_progress,
    )
    print(summarize(results), file=sys.stderr if any(r.status == "failed" for r in results) else sys.stdout)
    return 1 if any(r.status == "failed" for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
