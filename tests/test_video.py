"""`python -m rankatt_lib track`: tracking a user's own video, and its errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rankatt_lib import registry
from rankatt_lib.__main__ import main
from rankatt_lib.video import VideoError, open_video, parse_box, track_video

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
