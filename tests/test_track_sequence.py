"""The public one-sequence loop, ``rankatt_lib.evaluation.run.track_sequence``."""

from __future__ import annotations

import numpy as np
import pytest

from rankatt_lib.evaluation.run import track_sequence


class _Seq:
    def __init__(self, n: int, name: str = "toy") -> None:
        self.name, self.n = name, n
        self.gt = np.array([[10 + i, 20, 30, 40] for i in range(n)], dtype=float)

    def __len__(self) -> int:
        return self.n

    def image(self, i: int) -> np.ndarray:
        return np.full((8, 8, 3), i, dtype=np.uint8)  # the frame's index in every pixel


class _Shifter:
    """Moves its box one pixel right per frame, and remembers which frames it saw."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def init(self, image, box):
        self.box = np.asarray(box, dtype=float)
        self.seen.append(int(image[0, 0, 0]))

    def update(self, image):
        self.seen.append(int(image[0, 0, 0]))
        self.box = self.box + [1, 0, 0, 0]
        return self.box.tolist()


def test_boxes_times_and_the_order_of_frames():
    tracker, seq = _Shifter(), _Seq(5)
    boxes, times = track_sequence(tracker, seq)
    assert tracker.seen == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(boxes[:, 0], [10, 11, 12, 13, 14])   # row 0 is the initial box
    np.testing.assert_array_equal(boxes[:, 1:], np.tile([20, 30, 40], (5, 1)))
    assert times.shape == (5,) and (times >= 0).all()


def test_on_frame_sees_every_frame_after_the_tracker_and_cannot_change_the_result():
    calls = []

    def on_frame(i, image, box, tracker):
        calls.append((i, int(image[0, 0, 0]), box.tolist(), len(tracker.seen)))
        box[:] = -1  # a copy: the returned boxes do not change

    boxes, _ = track_sequence(_Shifter(), _Seq(3), on_frame=on_frame)
    assert calls == [(0, 0, [10, 20, 30, 40], 1), (1, 1, [11, 20, 30, 40], 2), (2, 2, [12, 20, 30, 40], 3)]
    np.testing.assert_array_equal(boxes[:, 0], [10, 11, 12])


def test_a_bad_box_names_the_frame():
    class Bad(_Shifter):
        def update(self, image):
            super().update(image)
            return [1, 2, 3] if len(self.seen) == 3 else [1, 2, 3, 4]

    with pytest.raises(ValueError, match="3 values at frame 3"):
        track_sequence(Bad(), _Seq(4))


def test_ground_truth_that_does_not_match_the_frames_is_refused():
    seq = _Seq(3)
    seq.gt = seq.gt[:2]
    with pytest.raises(ValueError, match=r"'toy': 3 frames but ground truth of shape \(2, 4\)"):
        track_sequence(_Shifter(), seq)


def test_n_frames_tracks_the_first_frames_only():
    tracker = _Shifter()
    boxes, times = track_sequence(tracker, _Seq(6), n_frames=3)
    assert tracker.seen == [0, 1, 2] and boxes.shape == (3, 4) and times.shape == (3,)
    with pytest.raises(ValueError, match="has 6 frames; n_frames=7 is not 1 to 6"):
        track_sequence(_Shifter(), _Seq(6), n_frames=7)
