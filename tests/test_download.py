"""End-to-end tests of rankatt_lib.data.download against a local HTTP server on 127.0.0.1.

The server (http.server in a thread, a free port) serves zip archives built in tmp folders,
honours ``Range`` / ``If-Range``, and can be told to drop a connection half way through a file,
to answer with an HTML page, or to 404. Every request waits at most a few seconds.
"""

from __future__ import annotations

import io
import json
import re
import runpy
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from fixtures_otb import format_rows, gt_row, image_bytes

from rankatt_lib.data import OTB, OTBFormatDataset
from rankatt_lib.data import download as dl

TIMEOUT = 5.0


# ---------------------------------------------------------------------------------------------
# Local server


@dataclass
class Served:
    """What the server serves and what it saw."""

    files: dict[str, bytes] = field(default_factory=dict)
    etags: dict[str, str] = field(default_factory=dict)
    drop_once: set[str] = field(default_factory=set)  # send half the body, then hang up
    html: set[str] = field(default_factory=set)  # answer with an HTML page
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def headers_for(self, path: str) -> list[dict[str, str]]:
        return [h for p, h in self.requests if p == path]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: closing ends the body

    def log_message(self, format: str, *args: object) -> None:  # silence
        pass

    def do_GET(self) -> None:
        served: Served = self.server.served  # type: ignore[attr-defined]
        path = self.path.split("?")[0]
        served.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
        if path in served.html:
            body = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if path not in served.files:
            self.send_error(404, "Not Found")
            return
        data = served.files[path]
        etag = served.etags.get(path, '"v1"')
        start = 0
        range_header = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if range_header and (if_range is None or if_range == etag):
            m = re.fullmatch(r"bytes=(\d+)-", range_header)
            assert m, range_header
            start = int(m.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.end_headers()
        if path in served.drop_once:
            served.drop_once.discard(path)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            return  # HTTP/1.0: the server closes the connection, short of Content-Length
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[tuple[str, Served]]:
    """``(base_url, served)`` of a server on 127.0.0.1 and a free port."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.served = Served()  # type: ignore[attr-defined]
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/otb", httpd.served  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=TIMEOUT)


# ---------------------------------------------------------------------------------------------
# Archives


def otb_zip(folder: str, n: int, *, wrap: bool = True, noise: int = 0) -> bytes:
    """A zip laid out like the OTB site's: ``<folder>/img/0001.jpg ...`` and the ground truth.

    ``noise`` adds an incompressible stored member of that many bytes (to make the file long).
    """
    buf = io.BytesIO()
    prefix = f"{folder}/" if wrap else ""
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(1, n + 1):
            zf.writestr(f"{prefix}img/{i:04d}.jpg", image_bytes("jpg"))
        zf.writestr(f"{prefix}groundtruth_rect.txt", format_rows(gt_row(f) for f in range(1, n + 1)))
        if noise:
            payload = np.random.default_rng(0).integers(0, 256, noise, dtype=np.uint8).tobytes()
            zf.writestr(zipfile.ZipInfo(f"{prefix}noise.bin"), payload, compress_type=zipfile.ZIP_STORED)
    return buf.getvalue()


def corrupt(data: bytes) -> bytes:
    """Flip one byte inside the stored ``noise.bin`` member: the zip stays readable, its CRC fails."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(next(n for n in zf.namelist() if n.endswith("noise.bin")))
    offset = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 100
    out = bytearray(data)
    out[offset] ^= 0xFF
    return bytes(out)


def otb_archive(base: str, folder: str) -> dl.Archive:
    return dl.archives_for("otb2015", [folder], base_url=base)[0]


def no_leftovers(dest: Path) -> bool:
    """Nothing hidden (temporary folders, downloads) is left in ``dest``."""
    return not [p for p in dest.iterdir() if p.name.startswith(".")] if dest.exists() else True


FAST = dict(timeout=TIMEOUT, retries=0, retry_wait=0.0, progress=False)


# ---------------------------------------------------------------------------------------------
# The archive lists


def test_otb_archive_lists_and_url_convention(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(dl.BASE_URL_ENV, raising=False)
    a13 = dl.archives_for("otb2013")
    a15 = dl.archives_for("otb2015")
    assert len(a13) == 50 and len(a15) == 98 and len(dl.archives_for("tb50")) == 49
    by_name = {a.name: a for a in a15}
    assert by_name["Jogging"].urls == ("http://cvlab.hanyang.ac.kr/tracker_benchmark/seq/Jogging.zip",)
    assert by_name["Human4"].filename == "Human4.zip" and by_name["Human4"].target == "Human4"
    assert by_name["Basketball"].required == ("img",) and by_name["Basketball"].top_level == "Basketball"
    assert "Skating2" not in {a.name for a in a13} and "Jogging" in {a.name for a in a13}
    # Sequences or folders, in any toolkit's spelling, select their folder's zip.
    picked = dl.archives_for("otb2015", ["Jogging.1", "jogging-2", "Human4", "Skating2.2", "David"])
    assert [a.name for a in picked] == ["David", "Human4", "Jogging", "Skating2"]
    with pytest.raises(ValueError, match="otb2013 has no sequence or folder Board"):
        dl.archives_for("otb2013", ["Board"])
    with pytest.raises(ValueError, match="unknown dataset"):
        dl.archives_for("vot2018")


def test_base_url_override_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(dl.BASE_URL_ENV, "http://mirror.example/otb/")
    assert dl.archives_for("otb2015", ["Deer"])[0].urls == ("http://mirror.example/otb/Deer.zip",)
    assert dl.archives_for("otb2015", ["Deer"], base_url="http://x/y")[0].urls == ("http://x/y/Deer.zip",)
    assert dl.archives_for("tc128")[0].urls == ("http://mirror.example/otb/Temple-color-128.zip",)
    monkeypatch.delenv(dl.BASE_URL_ENV)
    tc128, uav = dl.archives_for("tc128")[0], dl.archives_for("uav123")[0]
    assert tc128.urls[0].endswith("/TColor-128/Temple-color-128.zip") and len(tc128.urls) == 2
    assert uav.filename == "Dataset_UAV123.zip" and uav.size == 14_049_397_769 and "google" in uav.urls[0]
    assert dl.default_dest("otb2013") == Path("data/OTB") and dl.default_dest("uav123") == Path("data/UAV123")


# ---------------------------------------------------------------------------------------------
# Download, resume, verify, extract


def test_download_and_extract(server: tuple[str, Served], tmp_path: Path) -> None:
    base, served = server
    served.files["/otb/Deer.zip"] = otb_zip("Deer", 71)
    dest = tmp_path / "OTB"
    results = dl.fetch_all(dl.archives_for("otb2015", ["Deer"], base_url=base), dest, log=False, **FAST)
    assert [(r.archive.name, r.status, r.error) for r in results] == [("Deer", "downloaded", None)]
    assert (dest / "Deer" / "img" / "0071.jpg").read_bytes() == image_bytes("jpg")
    assert no_leftovers(dest)
    # The result is a loadable OTB sequence, frame range and all.
    seq = OTB(dest, names=["Deer"])["Deer"]
    assert len(seq) == 71 and seq.image(0).shape == (16, 16, 3)
    np.testing.assert_array_equal(seq.gt[70], gt_row(71))
    # A second run finds it present and asks the server nothing.
    n = len(served.requests)
    again = dl.fetch(otb_archive(base, "Deer"), dest, **FAST)
    assert again.status == "present" and len(served.requests) == n


def test_interrupted_transfer_resumes_with_range(server: tuple[str, Served], tmp_path: Path) -> None:
    base, served = server
    data = otb_zip("Deer", 71, noise=200_000)
    served.files["/otb/Deer.zip"] = data
    served.drop_once.add("/otb/Deer.zip")
    dest = tmp_path / "OTB"
    archive = otb_archive(base, "Deer")

    first = dl.fetch_all([archive], dest, log=False, **FAST)[0]
    assert first.status == "failed"
    assert "connection closed after" in first.error and "resumes" in first.error and base in first.error
    part = dest / ".downloads" / "Deer.zip.part"
    assert part.stat().st_size == len(data) // 2
    assert not (dest / "Deer").exists()  # nothing that looks complete

    second = dl.fetch(archive, dest, **FAST)
    assert second.status == "downloaded"
    headers = served.headers_for("/otb/Deer.zip")
    assert len(headers) == 2 and "range" not in headers[0]
    assert headers[1]["range"] == f"bytes={len(data) // 2}-" and headers[1]["if-range"] == '"v1"'
    assert (dest / "Deer" / "noise.bin").read_bytes() == zipfile.ZipFile(io.BytesIO(data)).read(
        "Deer/noise.bin"
    )
    assert len(list((dest / "Deer" / "img").iterdir())) == 71
    assert no_leftovers(dest)


def test_retry_resumes_within_one_run(server: tuple[str, Served], tmp_path: Path) -> None:
    base, served = server
    data = otb_zip("Deer", 10, noise=50_000)
    served.files["/otb/Deer.zip"] = data
    served.drop_once.add("/otb/Deer.zip")
    result = dl.fetch(otb_archive(base, "Deer"), tmp_path, **{**FAST, "retries": 1})
    assert result.status == "downloaded"
    assert [h.get("range") for h in served.headers_for("/otb/Deer.zip")] == [None, f"bytes={len(data) // 2}-"]


def test_changed_file_on_server_restarts_download(server: tuple[str, Served], tmp_path: Path) -> None:
    base, served = server
    data = otb_zip("Deer", 5)
    served.files["/otb/Deer.zip"] = data
    served.etags["/otb/Deer.zip"] = '"v2"'
    downloads = tmp_path / ".downloads"
    downloads.mkdir()
    (downloads / "Deer.zip.part").write_bytes(b"stale bytes of an older version")
    (downloads / "Deer.zip.part.json").write_text(json.dumps({"validator": '"v1"'}))
    assert dl.fetch(otb_archive(base, "Deer"), tmp_path, **FAST).status == "downloaded"
    assert served.headers_for("/otb/Deer.zip")[0]["if-range"] == '"v1"'  # refused: whole file sent
    assert len(list((tmp_path / "Deer" / "img").iterdir())) == 5


def test_complete_part_file_is_not_downloaded_again(server: tuple[str, Served], tmp_path: Path) -> None:
    base, served = server
    data = otb_zip("Deer", 5)
    served.files["/otb/Deer.zip"] = data
    downloads = tmp_path / ".downloads"
    downloads.mkdir()
    (downloads / "Deer.zip.part").write_bytes(data)  # killed after the last byte, before the rename
    (downloads / "Deer.zip.part.json").write_text(json.dumps({"validator": '"v1"'}))
    assert dl.fetch(otb_archive(base, "Deer"), tmp_path, **FAST).status == "downloaded"
    assert served.headers_for("/otb/Deer.zip")[0]["range"] == f"bytes={len(data)}-"  # answered 416
    assert (tmp_path / "Deer" / "groundtruth_rect.txt").is_file()


def test_corrupt_archive_is_refused_and_others_continue(server: tuple[str, Served], tmp_path: Path) -> None:
    base, served = server
    served.files["/otb/Deer.zip"] = corrupt(otb_zip("Deer", 5, noise=1000))
    served.files["/otb/Fish.zip"] = otb_zip("Fish", 3)
    dest = tmp_path / "OTB"
    results = dl.fetch_all(
        dl.archives_for("otb2015", ["Deer", "Fish"], base_url=base), dest, log=False, **FAST
    )
    deer, fish = results
    assert deer.status == "failed" and fish.status == "downloaded"
    assert "Deer.zip is corrupt: member Deer/noise.bin fails its CRC check" in deer.error
    assert "downloads it again" in deer.error
    assert not (dest / "Deer").exists()
    assert not (dest / ".downloads").exists()  # the corrupt zip is deleted, no .part either
    assert no_leftovers(dest)
    assert OTBFormatDataset(dest).names == ["Fish"]


def test_html_page_instead_of_archive(server: tuple[str, Served], tmp_path: Path) -> None:
    base, served = server
    served.html.add("/otb/Deer.zip")
    with pytest.raises(dl.DownloadError, match=r"Deer\.zip: the server sent an HTML page"):
        dl.fetch(otb_archive(base, "Deer"), tmp_path, **FAST)
    # An HTML page served as if it were a zip is caught by the verification.
    served.html.clear()
    served.files["/otb/Deer.zip"] = b"\n<!DOCTYPE html><html>Quota exceeded</html>"
    with pytest.raises(dl.ArchiveError, match=r"Deer\.zip is not a zip archive \(it is an HTML page"):
        dl.fetch(otb_archive(base, "Deer"), tmp_path, **FAST)
    assert not (tmp_path / "Deer").exists() and no_leftovers(tmp_path)


def test_404_is_reported_and_the_cli_exits_non_zero(
    server: tuple[str, Served], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, served = server
    served.files["/otb/Fish.zip"] = otb_zip("Fish", 3)
    dest = tmp_path / "OTB"
    argv = ["--dataset", "otb2013", "--sequences", "Deer", "Fish", "--dest", str(dest)]
    status = dl.main([*argv, "--base-url", base, "--retries", "0", "--timeout", "5", "--no-progress"])
    out, err = capsys.readouterr()
    assert status == 1
    assert f"Deer: failed: {base}/Deer.zip: HTTP 404 Not Found" in err
    assert "[2/2] Fish: downloaded" in out
    assert "2 archive(s): 1 downloaded, 0 already present, 1 failed" in err
    assert not (dest / "Deer").exists() and (dest / "Fish" / "img" / "0003.jpg").is_file()
    # Once the server has it, the same command finishes the job and succeeds.
    served.files["/otb/Deer.zip"] = otb_zip("Deer", 4)
    status = dl.main([*argv, "--base-url", base, "--retries", "0", "--no-progress"])
    out, _ = capsys.readouterr()
    assert status == 0 and "1 downloaded, 1 already present, 0 failed" in out


def test_unreachable_host_fails_fast(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(dl.DownloadError, match=rf"127\.0\.0\.1:{port}/Deer\.zip"):
        dl.fetch(otb_archive(f"http://127.0.0.1:{port}", "Deer"), tmp_path, **FAST)


def test_sha256_and_size_checks(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(otb_zip("A", 2))
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    dl.verify_archive(path, size=path.stat().st_size, sha256=digest)
    with pytest.raises(dl.ArchiveError, match=r"a\.zip: sha256 [0-9a-f]{64} does not match the expected 00"):
        dl.verify_archive(path, sha256="00" * 32)
    with pytest.raises(dl.ArchiveError, match=rf"a\.zip: {path.stat().st_size} bytes, expected 12"):
        dl.verify_archive(path, size=12)


def test_known_checksum_mismatch_deletes_download(server: tuple[str, Served], tmp_path: Path) -> None:
    base, served = server
    served.files["/otb/A.zip"] = otb_zip("A", 2)
    archive = dl.Archive("A", (f"{base}/A.zip",), "A.zip", "A", "A", ("img",), sha256="ab" * 32)
    with pytest.raises(dl.ArchiveError, match="does not match the expected"):
        dl.fetch(archive, tmp_path, **FAST)
    assert not (tmp_path / "A").exists() and no_leftovers(tmp_path)


def test_unsafe_member_paths_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("Seq/img/0001.jpg", b"x")
        zf.writestr("Seq/../../evil.txt", b"gotcha")
    with pytest.raises(dl.ArchiveError, match="outside the target"):
        dl.verify_archive(path)


def test_interrupted_extraction_leaves_no_sequence(
    server: tuple[str, Served], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, served = server
    served.files["/otb/Deer.zip"] = otb_zip("Deer", 20)
    real_extractall = zipfile.ZipFile.extractall

    def dies_half_way(self: zipfile.ZipFile, path: str | Path | None = None, members=None, pwd=None) -> None:
        real_extractall(self, path, self.namelist()[:10])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "extractall", dies_half_way)
    result = dl.fetch_all([otb_archive(base, "Deer")], tmp_path, log=False, **FAST)[0]
    assert result.status == "failed" and "No space left on device" in result.error
    assert not (tmp_path / "Deer").exists()
    assert [p.name for p in tmp_path.iterdir()] == [".downloads"]  # only the verified zip, kept
    monkeypatch.undo()
    n = len(served.requests)
    assert dl.fetch(otb_archive(base, "Deer"), tmp_path, **FAST).status == "downloaded"
    assert len(served.requests) == n  # installed from the kept archive, not downloaded again
    assert len(list((tmp_path / "Deer" / "img").iterdir())) == 20 and no_leftovers(tmp_path)


def test_leftovers_of_a_killed_run_are_cleaned(server: tuple[str, Served], tmp_path: Path) -> None:
    base, served = server
    served.files["/otb/Deer.zip"] = otb_zip("Deer", 3)
    stale = tmp_path / ".Deer.extract-abc123" / "Deer" / "img"
    stale.mkdir(parents=True)
    assert dl.fetch(otb_archive(base, "Deer"), tmp_path, **FAST).status == "downloaded"
    assert no_leftovers(tmp_path)


def test_force_replaces_existing_data(server: tuple[str, Served], tmp_path: Path) -> None:
    base, served = server
    served.files["/otb/Deer.zip"] = otb_zip("Deer", 3)
    (tmp_path / "Deer").mkdir()
    (tmp_path / "Deer" / "marker").write_text("old")
    assert dl.fetch(otb_archive(base, "Deer"), tmp_path, **FAST).status == "present"
    assert dl.fetch(otb_archive(base, "Deer"), tmp_path, force=True, **FAST).status == "downloaded"
    assert not (tmp_path / "Deer" / "marker").exists() and (tmp_path / "Deer" / "img" / "0003.jpg").is_file()
    assert no_leftovers(tmp_path)


def test_archive_without_top_level_folder(server: tuple[str, Served], tmp_path: Path) -> None:
    base, served = server
    served.files["/otb/Deer.zip"] = otb_zip("Deer", 3, wrap=False)
    assert dl.fetch(otb_archive(base, "Deer"), tmp_path, **FAST).status == "downloaded"
    assert sorted(p.name for p in (tmp_path / "Deer").iterdir()) == ["groundtruth_rect.txt", "img"]


def test_archive_without_frames_is_refused(server: tuple[str, Served], tmp_path: Path) -> None:
    base, served = server
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Deer/readme.txt", "no frames here")
    served.files["/otb/Deer.zip"] = buf.getvalue()
    with pytest.raises(dl.ArchiveError, match=r"Deer\.zip lacks the expected img \(it holds: readme\.txt\)"):
        dl.fetch(otb_archive(base, "Deer"), tmp_path, **FAST)
    assert not (tmp_path / "Deer").exists()


def test_single_archive_datasets(server: tuple[str, Served], tmp_path: Path) -> None:
    base, served = server
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("UAV123/data_seq/UAV123/bike1/000001.jpg", image_bytes("jpg"))
        zf.writestr("UAV123/anno/UAV123/bike1.txt", "1,2,3,4\n")
    served.files["/otb/Dataset_UAV123.zip"] = buf.getvalue()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Temple-color-128/Airport_ce/img/0001.jpg", image_bytes("jpg"))
        zf.writestr("Temple-color-128/Airport_ce/Airport_ce_gt.txt", "1,2,3,4\n")
    served.files["/otb/Temple-color-128.zip"] = buf.getvalue()
    uav = dl.fetch(dl.archives_for("uav123", base_url=base)[0], tmp_path / "UAV123", **FAST)
    tc = dl.fetch(dl.archives_for("tc128", base_url=base)[0], tmp_path / "TC128", **FAST)
    assert uav.status == tc.status == "downloaded"
    assert (tmp_path / "UAV123" / "anno" / "UAV123" / "bike1.txt").is_file()
    assert (tmp_path / "TC128" / "Airport_ce" / "Airport_ce_gt.txt").is_file()
    assert no_leftovers(tmp_path)


def test_install_from_a_folder_of_manual_downloads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manual = tmp_path / "Downloads"
    manual.mkdir()
    (manual / "Deer.zip").write_bytes(otb_zip("Deer", 4))
    dest = tmp_path / "OTB"
    args = [
        "--dataset",
        "otb2015",
        "--sequences",
        "Deer",
        "Fish",
        "--dest",
        str(dest),
        "--from-dir",
        str(manual),
    ]
    status = dl.main([*args, "--no-progress"])
    _, err = capsys.readouterr()
    assert status == 1 and "Fish.zip does not exist (looked for it because of --from-dir)" in err
    assert (dest / "Deer" / "img" / "0004.jpg").is_file() and (manual / "Deer.zip").is_file()


def test_script_lists_archives(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(dl.BASE_URL_ENV, raising=False)
    script = Path(__file__).resolve().parents[1] / "data_scripts" / "download_otb.py"
    monkeypatch.setattr("sys.argv", [str(script), "--dataset", "otb2013", "--list"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(script), run_name="__main__")
    assert exit_info.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 50
    assert lines[0].startswith("Basketball\thttp://cvlab.hanyang.ac.kr/tracker_benchmark/seq/Basketball.zip")
