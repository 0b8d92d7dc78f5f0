"""`python -m rankatt_lib track`: tracking a user's own video, and its errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rankatt_lib import registry
from rankatt_lib.__main__ import main
from rankatt_lib.toolkits.video import DamagedFrameError, VideoError, open_video, parse_box, track_video

W, H, N, S = 96, 72, 12, 16


def scene(t: int) -> tuple[np.ndarray, tuple[int, int]]:
    """A textured square moving right by 2 px per frame over a textured background."""
    rng = np.random.default_rng(0)
    bg = rng.integers(40, 120, (H, W, 3), dtype=np.uint8)
    target = np.random.default_rng(1).integers(150, 255, (S, S, 3), dtype=np.uint8)
    x, y = 20 + 2 * t, 28
    img = bg.copy()
    img[y : y + S, x : x + S] = target
    return img, (x, y)


@pytest.fixture()
def frame_dir(tmp_path):
    d = tmp_path / "frames"
    d.mkdir()
    for t in range(N):
        cv2.imwrite(str(d / f"{t:04d}.png"), cv2.cvtColor(scene(t)[0], cv2.COLOR_RGB2BGR))
    return d


@pytest.fixture()
def video_file(tmp_path):
    path = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (W, H))
    assert w.isOpened()
    for t in range(N):
        w.write(cv2.cvtColor(scene(t)[0], cv2.COLOR_RGB2BGR))
    w.release()
    return path


def test_tracks_a_folder_of_frames_and_writes_boxes(frame_dir, tmp_path):
    out = tmp_path / "boxes.txt"
    boxes = track_video(frame_dir, (20, 28, S, S), tracker="kcf", out=out, progress=False)
    assert boxes.shape == (N, 4)
    truth = np.array([scene(t)[1] for t in range(N)], dtype=float)
    assert np.abs(boxes[:, :2] - truth).max() < 1.5  # 0-based in, 0-based out
    written = np.loadtxt(out, delimiter=",")
    np.testing.assert_allclose(written, boxes, atol=0.01)


def test_tracks_a_video_file_and_renders(video_file, tmp_path):
    render = tmp_path / "out" / "tracked.avi"
    boxes = track_video(video_file, (20, 28, S, S), tracker="kcf", render=render, progress=False)
    assert len(boxes) == N
    assert abs(boxes[-1, 0] - (20 + 2 * (N - 1))) < 2.5  # JPEG-compressed video: a little looser
    rendered = open_video(render)
    assert rendered.size == (W, H)
    assert sum(1 for _ in rendered.frames()) == N


def test_unreadable_video_is_a_clear_error(tmp_path):
    bad = tmp_path / "not_a_video.mp4"
    bad.write_text("hello")
    with pytest.raises(VideoError, match="cannot read .*not_a_video.mp4"):
        open_video(bad)
    with pytest.raises(VideoError, match="does not exist"):
        open_video(tmp_path / "missing.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoError, match="no image files"):
        open_video(tmp_path / "empty")


@pytest.mark.parametrize(
    "box, message",
    [((200, 200, 10, 10), "outside"), ((10, 10, 0, 5), "zero or negative size"), ((5, 5, -3, 4), "negative")],
)
def test_bad_boxes_are_clear_errors(frame_dir, box, message):
    with pytest.raises(ValueError, match=message):
        track_video(frame_dir, box, tracker="kcf", progress=False)


def test_parse_box():
    np.testing.assert_array_equal(parse_box("1,2,3,4"), [1, 2, 3, 4])
    np.testing.assert_array_equal(parse_box("1 2 3.5 4"), [1, 2, 3.5, 4])
    with pytest.raises(ValueError, match="four numbers"):
        parse_box("1,2,3")
    with pytest.raises(ValueError, match="four numbers"):
        parse_box("a,b,c,d")


def test_a_failing_tracker_keeps_the_boxes_tracked_so_far(frame_dir, tmp_path):
    class Flaky:
        def init(self, image, box):
            self.box, self.n = np.asarray(box, float), 0

        def update(self, image):
            self.n += 1
            if self.n == 5:
                raise RuntimeError("boom")
            return self.box

    registry.register("flaky-test", replace=True)(lambda **kw: Flaky())
    try:
        out = tmp_path / "b.txt"
        with pytest.raises(RuntimeError, match="boom"):
            track_video(frame_dir, (20, 28, S, S), tracker="flaky-test", out=out, progress=False)
        assert not out.exists()
        partial = np.loadtxt(f"{out}.partial", delimiter=",")
        assert partial.shape == (5, 4)  # frame 1 + four successful updates
    finally:
        registry.unregister("flaky-test")


def test_cli(frame_dir, tmp_path, capsys):
    out = tmp_path / "cli.txt"
    rc = main(["track", str(frame_dir), "--box", "20,28,16,16", "--tracker", "kcf", "--out", str(out), "--no-progress"])
    assert rc == 0
    assert np.loadtxt(out, delimiter=",").shape == (N, 4)
    assert f"tracked {N} frames with kcf" in capsys.readouterr().out
    assert main(["track", str(frame_dir), "--box", "500,500,5,5", "--tracker", "kcf", "--no-progress"]) == 2
    assert "outside" in capsys.readouterr().err
    assert main(["track", str(frame_dir), "--box", "20,28,16,16", "--tracker", "nope", "--no-progress"]) == 2
    assert "nope" in capsys.readouterr().err


# --------------------------------------------------------------------------- issue 18: order, damage, outputs


class Counting:
    """Keeps its box; counts inits (a tracker that must not run when the output is bad)."""

    inits = 0

    def init(self, image, box):
        Counting.inits += 1
        self.box = np.asarray(box, float)

    def update(self, image):
        return self.box


@pytest.fixture()
def counting():
    registry.register("counting-test", replace=True)(lambda **kw: Counting())
    Counting.inits = 0
    yield Counting
    registry.unregister("counting-test")


def test_unpadded_frame_names_are_tracked_in_frame_order(tmp_path):
    """ffmpeg's 1.png ... 12.png: text order would be 1, 10, 11, 12, 2, ..."""
    d = tmp_path / "ffmpeg"
    d.mkdir()
    for t in range(N):
        cv2.imwrite(str(d / f"{t + 1}.png"), cv2.cvtColor(scene(t)[0], cv2.COLOR_RGB2BGR))
    assert [f.name for f in open_video(d)._files] == [f"{t + 1}.png" for t in range(N)]
    boxes = track_video(d, (20, 28, S, S), tracker="kcf", progress=False)
    truth = np.array([scene(t)[1] for t in range(N)], dtype=float)
    assert np.abs(boxes[:, :2] - truth).max() < 1.5  # row k is frame k


def _truncate_jpeg(frame_dir, t):
    """Replace frame t of the fixture by a JPEG cut in half; returns its path."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(scene(t)[0], cv2.COLOR_RGB2BGR))
    bad = frame_dir / f"{t:04d}.jpg"
    (frame_dir / f"{t:04d}.png").unlink()
    bad.write_bytes(buf.tobytes()[: len(buf) // 2])
    return bad


def test_a_truncated_frame_is_an_error_naming_it_or_skipped_on_request(frame_dir, tmp_path, capsys):
    bad = _truncate_jpeg(frame_dir, 5)
    out = tmp_path / "b.txt"
    with pytest.raises(DamagedFrameError, match=r"damaged frame .*0005\.jpg: truncated JPEG"):
        track_video(frame_dir, (20, 28, S, S), tracker="kcf", out=out, progress=False)
    assert not out.exists() and np.loadtxt(f"{out}.partial", delimiter=",").shape == (5, 4)
    with pytest.warns(UserWarning, match=r"0005\.jpg.*frame skipped"):
        boxes = track_video(frame_dir, (20, 28, S, S), tracker="kcf", progress=False, damaged="skip")
    assert boxes.shape == (N, 4) and np.isnan(boxes[5]).all() and not np.isnan(np.delete(boxes, 5, 0)).any()
    truth = np.array([scene(t)[1] for t in range(N)], dtype=float)
    assert np.abs(np.delete(boxes[:, :2] - truth, 5, 0)).max() < 1.5

    assert main(["track", str(frame_dir), "--box", "20,28,16,16", "--tracker", "kcf", "--no-progress"]) == 2
    assert str(bad) in capsys.readouterr().err
    with pytest.warns(UserWarning):
        argv = ["track", str(frame_dir), "--box", "20,28,16,16", "--tracker", "kcf", "--no-progress", "--skip-damaged"]
        assert main(argv) == 0
    assert "nan,nan,nan,nan" in capsys.readouterr().out


def test_a_frame_of_another_size_is_an_error(frame_dir):
    cv2.imwrite(str(frame_dir / "0007.png"), np.zeros((H // 2, W, 3), np.uint8))
    with pytest.raises(VideoError, match=rf"frame .*0007\.png is {W}x{H // 2} but 0000\.png is {W}x{H}"):
        track_video(frame_dir, (20, 28, S, S), tracker="kcf", progress=False)


def test_a_bad_out_path_is_refused_before_tracking(frame_dir, tmp_path, counting, capsys):
    folder = tmp_path / "a_folder"
    folder.mkdir()
    with pytest.raises(VideoError, match=r"--out .*a_folder is a folder"):
        track_video(frame_dir, (20, 28, S, S), tracker="counting-test", out=folder, progress=False)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(VideoError, match=r"--out .*a_file/boxes\.txt cannot be written"):
        track_video(frame_dir, (20, 28, S, S), tracker="counting-test", out=a_file / "boxes.txt", progress=False)
    with pytest.raises(VideoError, match=r"--render .*a_file/r\.avi cannot be written"):
        track_video(frame_dir, (20, 28, S, S), tracker="counting-test", render=a_file / "r.avi", progress=False)
    assert counting.inits == 0  # refused before any work
    argv = ["track", str(frame_dir), "--box", "20,28,16,16", "--tracker", "counting-test", "--out", str(folder)]
    rc = main([*argv, "--no-progress"])
    assert rc == 2 and "is a folder" in capsys.readouterr().err and counting.inits == 0


def test_boxes_survive_an_out_file_that_fails_at_the_end(frame_dir, tmp_path, counting, monkeypatch):
    from rankatt_lib.toolkits import video

    out = tmp_path / "b.txt"
    real = video.atomic_write_text

    def fail_for_out(path, text):
        if str(path) == str(out):
            raise OSError(28, "No space left on device")
        return real(path, text)

    monkeypatch.setattr(video, "atomic_write_text", fail_for_out)
    msg = rf"cannot write .*b\.txt \(No space left on device\); the {N} boxes are in .*b\.txt\.partial"
    with pytest.raises(VideoError, match=msg):
        track_video(frame_dir, (20, 28, S, S), tracker="counting-test", out=out, progress=False)
    np.testing.assert_allclose(np.loadtxt(f"{out}.partial", delimiter=","), np.tile([20, 28, S, S], (N, 1)))


def test_errors_show_the_users_own_box(frame_dir, capsys):
    assert main(["track", str(frame_dir), "--box", "100,100,10,10", "--tracker", "kcf", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "[100.0, 100.0, 10.0, 10.0]" in err and "outside" in err and "101" not in err


def test_out_files_respect_the_umask(frame_dir, tmp_path, counting):
    import os

    old = os.umask(0o022)
    try:
        track_video(frame_dir, (20, 28, S, S), tracker="counting-test", out=tmp_path / "o.txt", progress=False)
        assert (tmp_path / "o.txt").stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        track_video(frame_dir, (20, 28, S, S), tracker="counting-test", out=tmp_path / "p.txt", progress=False)
        assert (tmp_path / "p.txt").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


# --------------------------------------------------------------------------- issue 19: track ergonomics


def _track_copy(frame_dir, tmp_path, numbers, box):
    """Track a folder holding only the frames ``numbers`` (1-based) of ``frame_dir``."""
    import shutil

    sub = tmp_path / f"only_{numbers[0]}_{numbers[-1]}"
    sub.mkdir()
    files = sorted(frame_dir.iterdir())
    for k in numbers:
        shutil.copy(files[k - 1], sub / files[k - 1].name)
    return track_video(sub, box, tracker="kcf", progress=False)


def test_frames_range_tracks_only_those_frames(frame_dir, tmp_path):
    from rankatt_lib.toolkits.video import time_path

    box3 = (*scene(2)[1], S, S)  # the object in frame 3
    out = tmp_path / "r.txt"
    boxes = track_video(frame_dir, box3, tracker="kcf", frames=(3, 8), out=out, progress=False)
    assert boxes.shape == (6, 4)
    np.testing.assert_array_equal(boxes[0], box3)
    np.testing.assert_array_equal(boxes, _track_copy(frame_dir, tmp_path, range(3, 9), box3))
    assert np.loadtxt(time_path(out)).shape == (6,)
    to_end = track_video(frame_dir, box3, tracker="kcf", frames=(3, None), progress=False)
    assert len(to_end) == N - 2


def test_frames_range_in_a_video_file(video_file):
    box3 = (*scene(2)[1], S, S)
    boxes = track_video(video_file, box3, tracker="kcf", frames=(3, 10), progress=False)
    assert boxes.shape == (8, 4)
    truth = np.array([scene(t)[1] for t in range(2, 10)], dtype=float)
    assert np.abs(boxes[:, :2] - truth).max() < 2.5


@pytest.mark.parametrize(
    "text, message",
    [
        ("0:3", "frame numbers start at 1"),
        ("5:2", "the last frame is before the first"),
        ("abc", "--frames must be a:b"),
        ("3", "--frames must be a:b"),
    ],
)
def test_bad_frame_ranges(text, message):
    from rankatt_lib.toolkits.video import parse_frames

    with pytest.raises(ValueError, match=message):
        parse_frames(text)


def test_frames_out_of_range_is_an_error_naming_the_video(frame_dir, video_file, counting, capsys):
    from rankatt_lib.toolkits.video import parse_frames

    assert parse_frames("10:250") == (10, 250) and parse_frames("7:") == (7, None) and parse_frames(":4") == (1, 4)
    with pytest.raises(VideoError, match=rf"--frames 5:20 is out of range: .*frames has {N} frames \(1:{N}\)"):
        track_video(frame_dir, (20, 28, S, S), tracker="counting-test", frames=(5, 20), progress=False)
    with pytest.raises(VideoError, match=rf"--frames {N + 1}: is out of range: .*clip.avi has {N} frames"):
        track_video(video_file, (20, 28, S, S), tracker="counting-test", frames=(N + 1, None), progress=False)
    assert counting.inits == 0
    argv = ["track", str(frame_dir), "--box", "20,28,16,16", "--tracker", "counting-test", "--no-progress"]
    assert main([*argv, "--frames", "3:99"]) == 2
    assert f"error: --frames 3:99 is out of range: {frame_dir} has {N} frames" in capsys.readouterr().err
    assert main([*argv, "--frames", "x"]) == 2
    assert "error: --frames must be a:b" in capsys.readouterr().err


class FakeCapture:
    """Stands for cv2.VideoCapture(index): the test scene as BGR frames, then the end."""

    opened: list = []

    def __init__(self, index, n=N):
        FakeCapture.opened.append(index)
        self.n, self.k, self.released = (n if index != 3 else 0), 0, False

    def isOpened(self):
        return self.n > 0

    def read(self):
        if self.k >= self.n:
            return False, None
        self.k += 1
        return True, cv2.cvtColor(scene(self.k - 1)[0], cv2.COLOR_RGB2BGR)

    def get(self, prop):
        return 0.0  # cameras often report no fps

    def release(self):
        self.released = True


def test_a_webcam_index_is_tracked(frame_dir, tmp_path, monkeypatch, capsys):
    FakeCapture.opened = []
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    boxes = track_video(1, (20, 28, S, S), tracker="kcf", progress=False)
    assert FakeCapture.opened == [1]
    # the same frames as the lossless PNG folder: the same boxes
    np.testing.assert_array_equal(boxes, track_video(frame_dir, (20, 28, S, S), tracker="kcf", progress=False))
    # a range on a camera: frames 4..9
    part = track_video(0, (*scene(3)[1], S, S), tracker="kcf", frames=(4, 9), progress=False)
    assert part.shape == (6, 4) and FakeCapture.opened[-1] == 0
    # the command line: digits that are no file are a camera
    out = tmp_path / "cam.txt"
    assert main(["track", "1", "--box", "20,28,16,16", "--tracker", "kcf", "--out", str(out), "--no-progress"]) == 0
    np.testing.assert_array_equal(np.loadtxt(out, delimiter=","), np.round(boxes, 2))
    # a camera that ends before the range does: an error, the boxes kept
    with pytest.raises(VideoError, match=rf"--frames 2:40 is out of range: camera1 ended after frame {N}"):
        track_video(1, (22, 28, S, S), tracker="kcf", frames=(2, 40), out=tmp_path / "c.txt", progress=False)
    assert np.loadtxt(tmp_path / "c.txt.partial", delimiter=",").shape == (N - 1, 4)
    # no camera there
    assert main(["track", "3", "--box", "20,28,16,16", "--tracker", "kcf", "--no-progress"]) == 2
    assert "error: cannot read camera 3" in capsys.readouterr().err


def test_select_without_a_display_is_a_clear_error(frame_dir, counting, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    rc = main(["track", str(frame_dir), "--select", "--tracker", "counting-test", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: --select needs a display") and "--box x,y,w,h" in err
    assert counting.inits == 0
    # --box and --select together, or neither: argparse refuses (exit 2)
    for extra in (["--select", "--box", "1,1,5,5"], []):
        with pytest.raises(SystemExit) as info:
            main(["track", str(frame_dir), *extra, "--no-progress"])
        assert info.value.code == 2


def test_select_with_a_display_but_a_headless_opencv(monkeypatch):
    from rankatt_lib.toolkits.video import check_display

    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(cv2, "getBuildInformation", lambda: "  GUI:                           NONE\n")
    with pytest.raises(VideoError, match="built without a GUI"):
        check_display()
    monkeypatch.setattr(cv2, "getBuildInformation", lambda: "  GUI:                           GTK3\n")
    check_display()  # no error


def test_select_uses_the_drawn_box(frame_dir, monkeypatch, tmp_path):
    from rankatt_lib.toolkits import video

    shown = []
    monkeypatch.setattr(video, "check_display", lambda: None)
    monkeypatch.setattr(cv2, "destroyWindow", lambda title: None)

    def fake_roi(title, img, showCrosshair=True):
        shown.append(img.copy())
        return (20, 28, 16, 16)

    monkeypatch.setattr(cv2, "selectROI", fake_roi)
    boxes = track_video(frame_dir, None, tracker="kcf", select=True, progress=False)
    np.testing.assert_array_equal(boxes, track_video(frame_dir, (20, 28, S, S), tracker="kcf", progress=False))
    # the window showed frame 1, in OpenCV's BGR
    np.testing.assert_array_equal(shown[0], cv2.cvtColor(scene(0)[0], cv2.COLOR_RGB2BGR))
    monkeypatch.setattr(cv2, "selectROI", lambda *a, **k: (0, 0, 0, 0))
    with pytest.raises(VideoError, match="no box was drawn"):
        track_video(frame_dir, None, tracker="kcf", select=True, progress=False)
    with pytest.raises(ValueError, match="not both"):
        track_video(frame_dir, (1, 1, 5, 5), select=True, progress=False)


def test_time_file_beside_the_boxes(frame_dir, tmp_path, capsys):
    from rankatt_lib.toolkits.video import time_path

    assert time_path("a/boxes.txt").as_posix() == "a/boxes_time.txt"
    out = tmp_path / "boxes.txt"
    rc = main(["track", str(frame_dir), "--box", "20,28,16,16", "--tracker", "kcf", "--out", str(out), "--no-progress"])
    assert rc == 0 and f"seconds per frame in {tmp_path / 'boxes_time.txt'}" in capsys.readouterr().out
    secs = np.loadtxt(tmp_path / "boxes_time.txt")
    assert secs.shape == (N,) and np.all(secs > 0) and np.all(secs < 5)


def _probe(path) -> str:
    import subprocess

    import imageio_ffmpeg

    proc = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True
    )
    return proc.stderr  # ffmpeg -i with no output describes the input and exits 1


def test_render_mp4_is_browser_playable_h264(frame_dir, tmp_path):
    import imageio_ffmpeg

    render = tmp_path / "t.mp4"
    boxes = track_video(frame_dir, (20, 28, S, S), tracker="kcf", render=render, progress=False)
    info = _probe(render)
    stream = next(ln for ln in info.splitlines() if "Video:" in ln)
    assert "Video: h264" in stream and "yuv420p" in stream and f"{W}x{H}" in stream, stream
    reader = imageio_ffmpeg.read_frames(str(render))
    meta = reader.__next__()
    frames = [np.frombuffer(f, np.uint8).reshape(H, W, 3) for f in reader]
    assert meta["size"] == (W, H) and len(frames) == N
    # the box is drawn: the orange top edge of the last box is there (H.264 is lossy: roughly)
    x, y = (int(round(v)) for v in boxes[-1, :2])
    edge = frames[-1][y, x + 2 : x + S - 2].astype(int)
    assert np.all(np.abs(edge - [255, 165, 0]).max(axis=1) < 60), edge


def test_render_odd_sizes_and_other_suffixes(tmp_path, counting):
    d = tmp_path / "odd"
    d.mkdir()
    for t in range(4):
        cv2.imwrite(str(d / f"{t:04d}.png"), cv2.cvtColor(scene(t)[0][:71, :95], cv2.COLOR_RGB2BGR))
    track_video(d, (20, 28, S, S), tracker="counting-test", render=tmp_path / "o.mp4", progress=False)
    assert "96x72" in _probe(tmp_path / "o.mp4")  # padded by a pixel to even sides, not resized
    counting.inits = 0
    with pytest.raises(VideoError, match=r"--render .*o\.mkv: write \.mp4 \(H\.264.*or \.avi"):
        track_video(d, (20, 28, S, S), tracker="counting-test", render=tmp_path / "o.mkv", progress=False)
    assert counting.inits == 0
