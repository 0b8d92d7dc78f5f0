"""``data_scripts/ranking_trace.py``: the bookkeeping of which frame each ranked kernel comes from,
and the per-frame occlusion re-rendered from the photo generator's plan (issue #20)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from data_script_loader import load_data_script
from test_crest import textured_sequence
from tracker_helpers import fast

from rankatt_lib.data.photoseq import iter_frames, make_photo_benchmark, plan_photo_benchmark
from rankatt_lib.trackers.base import shared_backbone

pytestmark = pytest.mark.usefixtures("one_thread")
rt = load_data_script("ranking_trace")


class _Seq:
    def __init__(self, n: int) -> None:
        self.frames, self.gt = textured_sequence(n=n, step=(4.0, 1.0))
        self.name = "toy"

    def image(self, i: int) -> np.ndarray:
        return self.frames[i]

    def __len__(self) -> int:
        return len(self.frames)


@pytest.mark.parametrize("init", ["copies", "first_frames"])
def test_born_names_the_frame_each_ranked_kernel_was_written_on(init: str) -> None:
    """Every slot's kernel is, bit for bit, the kernel the updater wrote on the frame ``born`` says
    (frame 1: h0), after the ranking re-ordered the slots; the trace's boxes are the tracker's."""
    seq = _Seq(7)
    written: dict[int, torch.Tensor] = {}
    seen: list[tuple[int, list[int], torch.Tensor]] = []

    def on_frame(frame: int, tracker, born: list[int]) -> None:
        kernels = tracker.ranking.kernels.clone()
        written[frame] = tracker.h0.clone() if frame == 1 else kernels[born.index(frame)]
        seen.append((frame, born, kernels))

    tracker = fast(shared_backbone("cpu"), ranking_init=init)
    rec = rt.trace(seq, tracker, on_frame=on_frame)
    assert rec["frames"] == 7 and len(rec["per_frame"]) == 6
    for frame, born, kernels in seen:
        assert len(born) == kernels.shape[0]
        for slot, b in enumerate(born):
            assert b <= frame
            assert torch.equal(kernels[slot], written[b].reshape(kernels[slot].shape)), (frame, slot, born)
    for row in rec["per_frame"]:
        order = row["order"]
        assert sorted(order) == list(range(len(order)))
        assert row["scores"] == sorted(row["scores"], reverse=True)
        assert row["top_changed"] == (order[0] != 0)
        kept = row["born"] if len(row["born_after"]) > len(row["born"]) else row["born"][:-1]  # appended / replaced
        assert row["born_after"] == [*kept, row["frame"]]
    # the same tracker run without the trace gives the same boxes
    plain = fast(shared_backbone("cpu"), ranking_init=init)
    plain.init(seq.image(0), seq.gt[0])
    boxes = [seq.gt[0]] + [plain.update(seq.image(i)) for i in range(1, len(seq))]
    np.testing.assert_allclose(np.array(rec["boxes"]), np.array(boxes), atol=1e-9)
    if init == "first_frames":  # the ranking grows from h0 alone, keeping every new kernel
        assert [len(b) for _, b, _ in seen][:4] == [1, 2, 3, 3]


def test_fixed_kernel_is_never_replaced() -> None:
    """Without the ranking the slots keep h0's copies: every slot was written on frame 1."""
    seq = _Seq(5)
    tracker = fast(shared_backbone("cpu"), use_ranking=False)
    rec = rt.trace(seq, tracker)
    assert all(row["born"] == [1] * len(row["born"]) for row in rec["per_frame"])
    assert all(c == pytest.approx(1.0) for row in rec["per_frame"] for c in row["cos_h0"])


def test_photo_occlusion_matches_the_generator(tmp_path: Path) -> None:
    root = tmp_path / "photo"
    make_photo_benchmark(root, seed=0, split="test", n_test=3, n_val=0, n_train=0, length_range=(9, 13), progress=False)
    meta = json.loads((root / "meta.json").read_text())
    for spec in plan_photo_benchmark(0, "test", n_test=3, n_val=0, n_train=0, length_range=(9, 13)):
        expected = [round(float(f.occlusion), 4) for f in iter_frames(spec)]
        gt = np.loadtxt(root / "test" / spec.name / "groundtruth_rect.txt", delimiter=",", ndmin=2)
        got = rt.photo_occlusion((root / "test").resolve(), spec.name, gt)
        assert got == expected and len(got) == spec.n_frames
    assert {r["name"] for r in meta["splits"]["test"]} == {"photo_test_000", "photo_test_001", "photo_test_002"}
    # a ground truth that is not the generator's is refused, naming the sequence
    gt_file = root / "test" / "photo_test_001" / "groundtruth_rect.txt"
    gt = np.loadtxt(gt_file, delimiter=",", ndmin=2)
    gt[0, 0] += 5
    with pytest.raises(SystemExit, match="photo_test_001 frame 1"):
        rt.photo_occlusion((root / "test").resolve(), "photo_test_001", gt[:5])


def test_photo_occlusion_is_none_for_other_data(tmp_path: Path) -> None:
    (tmp_path / "test" / "seq").mkdir(parents=True)
    gt = np.ones((3, 4))
    assert rt.photo_occlusion(tmp_path / "test", "seq", gt) is None
    (tmp_path / "meta.json").write_text(json.dumps({"generator": "rankatt_lib.data.synthetic"}))
    assert rt.photo_occlusion(tmp_path / "test", "seq", gt) is None
