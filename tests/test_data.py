"""Tests of rankatt_lib.data and rankatt_lib.data.otb_meta on small trees built in tmp folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from fixtures_otb import format_rows, gt_row, image_bytes, make_otb_tree, make_sequence, write_frames

from rankatt_lib.data import (
    ATTRIBUTES,
    OTB,
    DatasetError,
    GroundTruthError,
    ImageReadError,
    MissingDataError,
    OTBFormatDataset,
    Sequence,
    canonical_otb_name,
    image_damage,
    list_frames,
    otb_meta,
    read_ground_truth,
    read_image,
)

# ---------------------------------------------------------------------------------------------
# Ground-truth parsing


@pytest.mark.parametrize(
    "text",
    [
        "1,2,3,4\n5,6,7,8\n",
        "1\t2\t3\t4\n5\t6\t7\t8\n",
        "1 2 3 4\n5 6 7 8\n",
        "1,\t2 ,3  4\r\n5\t\t6, 7 8\r\n\r\n\n",  # mixed separators, CRLF, trailing blank lines
        "\ufeff1,2,3,4\n5,6,7,8",  # byte-order mark, no final newline
    ],
)
def test_ground_truth_separators(tmp_path: Path, text: str) -> None:
    p = tmp_path / "gt.txt"
    p.write_bytes(text.encode("utf-8"))
    gt = read_ground_truth(p)
    assert gt.dtype == np.float64
    np.testing.assert_array_equal(gt, [[1, 2, 3, 4], [5, 6, 7, 8]])


def test_ground_truth_floats_and_nan(tmp_path: Path) -> None:
    p = tmp_path / "gt.txt"
    p.write_text("1.5,-2.25,3e1,4\nNaN,NaN,NaN,NaN\n")
    gt = read_ground_truth(p)
    np.testing.assert_array_equal(gt[0], [1.5, -2.25, 30.0, 4.0])
    assert np.isnan(gt[1]).all()


def test_empty_ground_truth_has_zero_rows(tmp_path: Path) -> None:
    p = tmp_path / "gt.txt"
    p.write_text("")
    assert read_ground_truth(p).shape == (0, 4)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("1,2,3,4\n5,6,7,8\n9,10,11\n", r"gt\.txt line 3: expected 4 numbers.*'9,10,11'"),
        ("1,2,3,4\n1,2,3,4,5\n", r"line 2: expected 4 numbers"),
        ("1,2,3,4\n1,,3,4\n", r"line 2: expected 4 numbers"),
        ("1,2,3,4\n1,2,x,4\n", r"line 2: not a number in '1,2,x,4'"),
        ("1,2,3,4\n\n5,6,7,8\n", r"line 2 is empty"),
    ],
)
def test_malformed_ground_truth_names_file_and_line(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "gt.txt"
    p.write_text(text)
    with pytest.raises(GroundTruthError, match=match) as info:
        read_ground_truth(p, "Seq")
    assert "sequence Seq" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_ground_truth_file(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match="nope.txt does not exist"):
        read_ground_truth(tmp_path / "nope.txt")


# ---------------------------------------------------------------------------------------------
# Sequence


def test_sequence_validates_shapes(tmp_path: Path) -> None:
    frames = write_frames(tmp_path / "img", range(1, 4))
    seq = Sequence("S", frames, [[1, 2, 3, 4]] * 3, ("IV",))
    assert len(seq) == 3 and seq.gt.dtype == np.float64 and seq.gt.shape == (3, 4)
    np.testing.assert_array_equal(seq.init_box, [1, 2, 3, 4])
    assert "frames=3" in repr(seq)
    with pytest.raises(GroundTruthError, match="S: 3 frames but 2 ground-truth rows"):
        Sequence("S", frames, [[1, 2, 3, 4]] * 2)
    with pytest.raises(GroundTruthError, match=r"shape \(N, 4\)"):
        Sequence("S", frames, [[1, 2, 3]] * 3)


def test_image_is_rgb_uint8(tmp_path: Path) -> None:
    folder = make_sequence(tmp_path, "Colour", 2, ext="png")
    seq = OTBFormatDataset(tmp_path)["Colour"]
    img = seq.image(0)
    assert img.shape == (16, 16, 3) and img.dtype == np.uint8
    # The fixture image is red on the left and blue on the right: RGB order, not OpenCV's BGR.
    assert tuple(img[0, 0]) == (255, 0, 0)
    assert tuple(img[0, -1]) == (0, 0, 255)
    assert seq.frames[0] == folder / "img" / "0001.png"


def test_grayscale_frames_become_three_channels(tmp_path: Path) -> None:
    make_sequence(tmp_path, "Gray", 3, gray=True)
    seq = OTBFormatDataset(tmp_path)["Gray"]
    images = list(seq.images())
    assert len(images) == 3
    for img in images:
        assert img.shape == (16, 16, 3) and img.dtype == np.uint8
        np.testing.assert_array_equal(img[..., 0], img[..., 1])
        np.testing.assert_array_equal(img[..., 0], img[..., 2])
    assert abs(int(images[0][0, 0, 0]) - 128) <= 2 and abs(int(images[0][0, -1, 0]) - 200) <= 2


def test_unreadable_and_missing_frames_name_sequence_and_file(tmp_path: Path) -> None:
    folder = make_sequence(tmp_path, "Broken", 3)
    seq = OTBFormatDataset(tmp_path)["Broken"]
    (folder / "img" / "0002.jpg").write_bytes(b"this is not a jpeg")
    with pytest.raises(ImageReadError, match=r"sequence Broken: cannot decode frame .*0002\.jpg"):
        seq.image(1)
    (folder / "img" / "0003.jpg").unlink()
    with pytest.raises(MissingDataError, match=r"sequence Broken: frame .*0003\.jpg does not exist"):
        seq.image(-1)
    with pytest.raises(IndexError, match="Broken: frame index 3 out of range"):
        seq.image(3)
    assert seq.image(0).shape == (16, 16, 3)


# ---------------------------------------------------------------------------------------------
# OTBFormatDataset


def test_otb_format_dataset_discovers_sorted_sequences(tmp_path: Path) -> None:
    make_sequence(tmp_path, "Zebra", 2, attributes="IV, OCC\n")
    make_sequence(tmp_path, "Apple", 3, sep="\t")
    make_sequence(tmp_path, "Mango", 4, attributes="SV,OCC,LR")
    (tmp_path / "NotASequence").mkdir()  # no img/
    make_sequence(tmp_path, ".Apple.extract-123", 2)  # hidden: an extraction in progress
    (tmp_path / "README.txt").write_text("hello")

    ds = OTBFormatDataset(tmp_path, name="toy")
    assert ds.name == "toy"
    assert ds.names == ["Apple", "Mango", "Zebra"]
    assert len(ds) == 3 and "Mango" in ds and "NotASequence" not in ds
    assert [s.name for s in ds] == ["Apple", "Mango", "Zebra"]
    assert ds[0].name == "Apple" and ds[-1].name == "Zebra"
    apple = ds["Apple"]
    assert len(apple) == 3 and apple.attributes == ()
    np.testing.assert_array_equal(apple.gt, [gt_row(1), gt_row(2), gt_row(3)])
    assert [f.name for f in apple.frames] == ["0001.jpg", "0002.jpg", "0003.jpg"]
    assert ds["Zebra"].attributes == ("IV", "OCC")
    assert ds.by_attribute("OCC") == ["Mango", "Zebra"]
    assert ds.by_attribute("LR") == ["Mango"]
    assert ds.by_attribute("FM") == []
    with pytest.raises(ValueError, match="unknown attribute 'XX'"):
        ds.by_attribute("XX")
    with pytest.raises(KeyError, match="no sequence 'Banana'"):
        ds["Banana"]
    with pytest.raises(IndexError):
        ds[3]
    assert OTBFormatDataset(tmp_path).name == tmp_path.name


def test_otb_format_dataset_names_subset_keeps_order(tmp_path: Path) -> None:
    for n in ("A", "B", "C"):
        make_sequence(tmp_path, n, 2)
    ds = OTBFormatDataset(tmp_path, names=["C", "A"])
    assert ds.names == ["C", "A"]
    with pytest.raises(MissingDataError, match=r"no sequence D, E under .*found: A, B, C"):
        OTBFormatDataset(tmp_path, names=["A", "D", "E"])


def test_frames_are_sorted_numerically(tmp_path: Path) -> None:
    folder = tmp_path / "Seq"
    write_frames(folder / "img", range(1, 11), digits=1)  # 1.jpg ... 10.jpg: 10 sorts before 2 by name
    (folder / "groundtruth_rect.txt").write_text(format_rows([gt_row(f) for f in range(1, 11)]))
    seq = OTBFormatDataset(tmp_path)["Seq"]
    assert [f.name for f in seq.frames] == [f"{f}.jpg" for f in range(1, 11)]


def test_multi_target_folder_in_generic_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "Pair"
    write_frames(folder / "img", range(1, 4))
    (folder / "groundtruth_rect.1.txt").write_text(format_rows(gt_row(f, 1) for f in range(1, 4)))
    (folder / "groundtruth_rect.2.txt").write_text(format_rows(gt_row(f, 2) for f in range(1, 4)))
    lone = tmp_path / "Lone"  # Human4-style: an empty .1 file next to the real .2 one
    write_frames(lone / "img", range(1, 3))
    (lone / "groundtruth_rect.1.txt").write_text("")
    (lone / "groundtruth_rect.2.txt").write_text(format_rows(gt_row(f, 2) for f in range(1, 3)))
    ds = OTBFormatDataset(tmp_path)
    assert ds.names == ["Lone.2", "Pair.1", "Pair.2"]
    assert ds["Pair.1"].frames == ds["Pair.2"].frames
    assert ds["Pair.1"].gt[0, 2] == 11 and ds["Pair.2"].gt[0, 2] == 12


def test_ground_truth_length_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    folder = make_sequence(tmp_path, "Short", 3)
    (folder / "groundtruth_rect.txt").write_text(format_rows([gt_row(1), gt_row(2)]))
    ds = OTBFormatDataset(tmp_path)
    with pytest.raises(
        GroundTruthError, match=r"sequence Short: .*groundtruth_rect\.txt has 2 rows but .* 3 frames"
    ):
        ds["Short"]


def test_unknown_attribute_code_is_an_error(tmp_path: Path) -> None:
    make_sequence(tmp_path, "Odd", 2, attributes="IV,ARC")
    with pytest.raises(
        DatasetError, match=r"sequence Odd: .*attributes\.txt has unknown attribute codes \['ARC'\]"
    ):
        OTBFormatDataset(tmp_path)["Odd"]


def test_missing_or_empty_root(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match="does not exist"):
        OTBFormatDataset(tmp_path / "nowhere")
    with pytest.raises(MissingDataError, match="no OTB-format sequences"):
        OTBFormatDataset(tmp_path)


# ---------------------------------------------------------------------------------------------
# The OTB benchmark lists


def test_otb_lists() -> None:
    assert len(otb_meta.OTB2013) == 51 and len(set(otb_meta.OTB2013)) == 51
    assert len(otb_meta.OTB2015) == 100 and len(set(otb_meta.OTB2015)) == 100
    assert len(otb_meta.TB50) == 50
    assert set(otb_meta.OTB2013) < set(otb_meta.OTB2015)
    assert set(otb_meta.TB50) < set(otb_meta.OTB2015)
    # Jogging is two sequences in OTB-2013; Skating2 and Human4.2 came with TB-100.
    assert {"Jogging.1", "Jogging.2"} <= set(otb_meta.OTB2013) and "Jogging" not in otb_meta.OTB2013
    assert {"Skating2.1", "Skating2.2", "Human4.2"} <= set(otb_meta.OTB2015) - set(otb_meta.OTB2013)
    assert "Human4" not in otb_meta.OTB2015 and "Twinnings" in otb_meta.OTB2015
    # 51 targets in 50 folders (= 50 zips); 100 targets in 98 folders.
    assert len(otb_meta.folders(otb_meta.OTB2013)) == 50
    assert len(otb_meta.folders(otb_meta.OTB2015)) == 98
    for name, info in otb_meta.SEQUENCES.items():
        assert info.attributes and set(info.attributes) <= set(ATTRIBUTES), name
        assert info.first <= info.last
    # The TB-100 total number of annotated frames, as published.
    assert sum(otb_meta.SEQUENCES[n].n_annotated for n in otb_meta.OTB2015) == 59040


def test_otb_attribute_spot_checks() -> None:
    seqs = otb_meta.SEQUENCES
    assert seqs["David"].attributes == ("IV", "SV", "OCC", "DEF", "MB", "IPR", "OPR")
    assert seqs["Fish"].attributes == ("IV",)
    assert seqs["FaceOcc1"].attributes == ("OCC",)
    assert seqs["Basketball"].attributes == ("IV", "OCC", "DEF", "OPR", "BC")
    assert seqs["Jogging.1"].attributes == seqs["Jogging.2"].attributes == ("OCC", "DEF", "OPR")
    assert seqs["Human4.2"].attributes == ("IV", "SV", "OCC", "DEF")
    assert "LR" in seqs["Freeman3"].attributes and "LR" in seqs["Panda"].attributes
    assert "OV" in seqs["Tiger2"].attributes and "OV" not in seqs["Tiger1"].attributes
    assert (seqs["Tiger1"].first, seqs["Tiger1"].last, seqs["Tiger1"].init_omit) == (1, 354, 5)
    assert (seqs["David"].first, seqs["David"].last) == (300, 770)
    assert (seqs["BlurCar1"].first, seqs["BlurCar1"].last) == (247, 988)
    assert seqs["Board"].digits == 5
    assert seqs["Skating2.2"].folder == "Skating2" and seqs["Skating2.2"].gt_file == "groundtruth_rect.2.txt"
    assert seqs["Human4.2"].folder == "Human4" and seqs["Basketball"].gt_file == "groundtruth_rect.txt"


# Number of sequences per attribute, as printed in the attribute plots of the papers.
PAPER_COUNTS = {
    2013: dict(IV=25, SV=28, OCC=29, DEF=19, MB=12, FM=17, IPR=31, OPR=39, OV=6, BC=21, LR=4),
    2015: dict(IV=38, SV=64, OCC=49, DEF=44, MB=29, FM=39, IPR=51, OPR=63, OV=14, BC=31, LR=9),
}


@pytest.fixture(scope="module")
def full_otb_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All 98 OTB folders with their ground-truth files, no frames."""
    return make_otb_tree(tmp_path_factory.mktemp("otb_full"), otb_meta.OTB2015, frames=False)


@pytest.mark.parametrize("version", [2013, 2015])
def test_otb_versions_and_attribute_counts(full_otb_root: Path, version: int) -> None:
    ds = OTB(full_otb_root, version=version)
    assert ds.name == f"OTB{version}"
    assert len(ds) == {2013: 51, 2015: 100}[version]
    assert ds.names == sorted(ds.names)
    counts = {a: len(ds.by_attribute(a)) for a in ATTRIBUTES}
    assert counts == PAPER_COUNTS[version]
    if version == 2013:
        assert ds.by_attribute("LR") == ["Freeman3", "Freeman4", "Skiing", "Walking"]
        assert ds.by_attribute("OV") == ["Dudek", "Ironman", "Lemming", "Liquor", "Suv", "Tiger2"]


def test_otb_tb50(full_otb_root: Path) -> None:
    ds = OTB(full_otb_root, version="tb50")
    assert ds.name == "TB50" and len(ds) == 50 and "Human4.2" in ds.names


# ---------------------------------------------------------------------------------------------
# The OTB benchmark's quirks, on a tree of the quirky sequences with all their frames

QUIRKY = [
    "David",
    "Tiger1",
    "Football1",
    "Freeman3",
    "Freeman4",
    "Diving",
    "BlurCar1",
    "BlurCar3",
    "BlurCar4",
    "Board",
    "Jogging.1",
    "Jogging.2",
    "Skating2.1",
    "Skating2.2",
    "Human4.2",
    "Car4",
]


@pytest.fixture(scope="module")
def otb_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # BlurCar1's ground truth is tab-separated except one line with spaces (its 496th), as on the
    # OTB site; David's is tab-separated; Board's mixes commas and tabs.
    seps = {"BlurCar1": {-1: "\t", 495: " "}, "David": "\t", "Board": {-1: ",", 3: "\t", 4: ", "}}
    return make_otb_tree(tmp_path_factory.mktemp("otb"), QUIRKY, gray=["Car4"], sep=seps)


@pytest.fixture(scope="module")
def otb(otb_root: Path) -> OTB:
    return OTB(otb_root, version=2015, names=QUIRKY)


@pytest.mark.parametrize(
    ("name", "length", "first", "last", "first_number"),
    [
        ("David", 471, "0300.jpg", "0770.jpg", 300),
        ("Tiger1", 349, "0006.jpg", "0354.jpg", 6),
        ("Football1", 74, "0001.jpg", "0074.jpg", 1),
        ("Freeman3", 460, "0001.jpg", "0460.jpg", 1),
        ("Freeman4", 283, "0001.jpg", "0283.jpg", 1),
        ("Diving", 215, "0001.jpg", "0215.jpg", 1),
        ("BlurCar1", 742, "0247.jpg", "0988.jpg", 247),
        ("BlurCar3", 357, "0003.jpg", "0359.jpg", 3),
        ("BlurCar4", 380, "0018.jpg", "0397.jpg", 18),
        ("Board", 698, "00001.jpg", "00698.jpg", 1),
    ],
)
def test_otb_frame_ranges(otb: OTB, name: str, length: int, first: str, last: str, first_number: int) -> None:
    seq = otb[name]
    assert len(seq) == length == len(seq.gt)
    assert seq.frames[0].name == first and seq.frames[-1].name == last
    assert seq.frames[0].parent == otb.root / name / "img"
    # Row k belongs to frame k: the fixture writes x = frame number.
    np.testing.assert_array_equal(seq.gt[0], gt_row(first_number))
    np.testing.assert_array_equal(seq.gt[:, 0], [int(f.stem) for f in seq.frames])
    assert seq.attributes == otb_meta.SEQUENCES[name].attributes


def test_tiger1_without_init_omit(otb_root: Path) -> None:
    seq = OTB(otb_root, names=["Tiger1"], init_omit=False)["Tiger1"]
    assert len(seq) == 354 and seq.frames[0].name == "0001.jpg"
    np.testing.assert_array_equal(seq.gt[0], gt_row(1))


def test_two_targets_in_one_folder(otb: OTB) -> None:
    j1, j2 = otb["Jogging.1"], otb["Jogging.2"]
    assert len(j1) == len(j2) == 307
    assert j1.frames == j2.frames and j1.frames[0] == otb.root / "Jogging" / "img" / "0001.jpg"
    assert j1.gt[0, 2] == 11 and j2.gt[0, 2] == 12  # from groundtruth_rect.1.txt / .2.txt
    s1, s2 = otb["Skating2.1"], otb["Skating2.2"]
    assert len(s1) == len(s2) == 473 and s1.gt[0, 2] == 11 and s2.gt[0, 2] == 12


def test_human4_is_its_second_target(otb: OTB) -> None:
    assert (otb.root / "Human4" / "groundtruth_rect.1.txt").stat().st_size == 0
    seq = otb["Human4.2"]
    assert seq.name == "Human4.2" and len(seq) == 667 and seq.gt[0, 2] == 12
    # Other toolkits' spellings find the same sequence.
    assert otb["Human4"].name == otb["Human4_2"].name == otb["human4-2"].name == "Human4.2"
    assert otb["Jogging-1"].name == "Jogging.1" and otb["jogging_2"].name == "Jogging.2"
    assert canonical_otb_name("Skating2-2") == "Skating2.2"
    with pytest.raises(KeyError):
        canonical_otb_name("Jogging")


def test_mixed_separators_in_real_layout(otb: OTB) -> None:
    text = (otb.root / "BlurCar1" / "groundtruth_rect.txt").read_text().splitlines()
    assert "\t" in text[0] and " " in text[495] and "\t" not in text[495]
    np.testing.assert_array_equal(otb["BlurCar1"].gt[495], gt_row(247 + 495))
    np.testing.assert_array_equal(otb["Board"].gt[3:5], [gt_row(4), gt_row(5)])


def test_otb_grayscale_sequence(otb: OTB) -> None:
    img = otb["Car4"].image(0)
    assert img.shape == (16, 16, 3) and img.dtype == np.uint8
    assert (img[..., 0] == img[..., 2]).all()


def test_otb_iteration_and_attribute_queries(otb: OTB) -> None:
    assert otb.names == QUIRKY and len(otb) == len(QUIRKY)  # the order asked for
    assert otb.by_attribute("LR") == ["Freeman3", "Freeman4"]
    assert otb.attributes_of("Jogging-1") == ("OCC", "DEF", "OPR")
    assert otb.info("Board").digits == 5
    assert [s.name for s in otb] == otb.names


def test_missing_sequences_list_names_and_download_command(otb_root: Path) -> None:
    with pytest.raises(MissingDataError) as info:
        OTB(otb_root, version=2013)
    msg = str(info.value)
    assert "OTB2013: 43 of 51 sequences are missing" in msg
    listed = msg.split("): ")[1].split(".\n")[0].split(", ")
    assert listed[:3] == ["Basketball", "Bolt", "Boy"] and "David" not in listed
    assert listed[-1] == "... and 23 more" and len(listed) == 21
    assert "rankatt download --dataset otb2013" in msg
    with pytest.raises(
        MissingDataError, match=r"(?s)1 of 2 sequences are missing.*Basketball.*--sequences Basketball"
    ):
        OTB(otb_root, version=2015, names=["David", "Basketball"])
    with pytest.raises(MissingDataError, match=r"(?s)does not exist.*rankatt download --dataset otb2015"):
        OTB(otb_root / "nowhere")
    with pytest.raises(KeyError, match="OTB2013 does not contain Board"):
        OTB(otb_root, version=2013, names=["Board"])
    with pytest.raises(ValueError, match="unknown OTB version"):
        OTB(otb_root, version=2020)


@pytest.fixture
def otb_copy(otb_root: Path, tmp_path: Path) -> Path:
    for folder in ("Football1", "Board"):
        shutil.copytree(otb_root / folder, tmp_path / folder)
    return tmp_path


def test_otb_missing_frame(otb_copy: Path) -> None:
    (otb_copy / "Football1" / "img" / "0050.jpg").unlink()
    ds = OTB(otb_copy, names=["Football1", "Board"])
    with pytest.raises(
        MissingDataError, match=r"sequence Football1: 1 of 74 frames are missing: .*0050\.jpg"
    ):
        ds["Football1"]
    assert len(ds["Board"]) == 698
    (otb_copy / "Board" / "img" / "00001.jpg").unlink()
    with pytest.raises(MissingDataError, match=r"sequence Board: first frame .*00001\.jpg does not exist"):
        ds["Board"]


def test_otb_ground_truth_length_and_malformed_line(otb_copy: Path) -> None:
    gt = otb_copy / "Football1" / "groundtruth_rect.txt"
    lines = gt.read_text().splitlines()
    gt.write_text("\n".join(lines[:-1]) + "\n")
    ds = OTB(otb_copy, names=["Football1"])
    with pytest.raises(
        GroundTruthError, match=r"sequence Football1: .*groundtruth_rect\.txt has 73 rows, expected 74"
    ):
        ds["Football1"]
    lines[9] = "1,2,3"
    gt.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        GroundTruthError, match=r"sequence Football1: .*groundtruth_rect\.txt line 10: expected 4"
    ):
        ds["Football1"]


def test_otb_png_frames_are_found(tmp_path: Path) -> None:
    make_otb_tree(tmp_path, ["Deer"], frames=False)
    write_frames(tmp_path / "Deer" / "img", range(1, 72), ext="png")
    seq = OTB(tmp_path, names=["Deer"])["Deer"]
    assert len(seq) == 71 and seq.frames[0].name == "0001.png"
    assert seq.image(0).shape == (16, 16, 3)


def test_fixture_images_decode() -> None:
    assert image_bytes("jpg")[:2] == b"\xff\xd8" and image_bytes("png")[:4] == b"\x89PNG"


# ---------------------------------------------------------------------------------------------
# Damaged frames, gaps in the numbering, frames of another size (issue 18)


def _jpeg(h: int = 32, w: int = 40, seed: int = 0) -> bytes:
    img = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def test_a_truncated_jpeg_is_an_error_naming_the_file(tmp_path: Path) -> None:
    make_sequence(tmp_path, "Seq", 4)
    frame = tmp_path / "Seq" / "img" / "0003.jpg"
    data = _jpeg()
    frame.write_bytes(data[: len(data) // 2])
    # OpenCV itself accepts it: grey where the data is missing, a warning on stderr only
    assert cv2.imread(str(frame)) is not None
    seq = OTBFormatDataset(tmp_path)["Seq"]
    seq.image(1)
    with pytest.raises(ImageReadError, match=r"sequence Seq: damaged frame .*0003\.jpg: truncated JPEG"):
        seq.image(2)
    # cut just before the end-of-image marker: still caught
    frame.write_bytes(data[:-2])
    with pytest.raises(ImageReadError, match="0003.jpg"):
        seq.image(2)
    png = tmp_path / "x.png"
    ok, buf = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    png.write_bytes(buf.tobytes()[:-20])
    with pytest.raises(ImageReadError, match=r"x\.png: truncated PNG"):
        read_image(png)


def test_read_image_gives_exactly_what_imread_gives(tmp_path: Path) -> None:
    """The damage check must not change a single pixel of an intact frame."""
    jpg = tmp_path / "a.jpg"
    jpg.write_bytes(_jpeg(48, 64, seed=3))
    png = tmp_path / "b.png"
    cv2.imwrite(str(png), np.random.default_rng(4).integers(0, 255, (20, 30, 3), dtype=np.uint8))
    gray = tmp_path / "c.jpg"
    gray.write_bytes(image_bytes("jpg", gray=True))
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    for f in (jpg, png, gray):
        expected = cv2.cvtColor(cv2.imread(str(f), flags), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(read_image(f), expected)
    # bytes after the end-of-image marker (some cameras append data) are not damage
    (tmp_path / "tail.jpg").write_bytes(_jpeg() + b"\x00" * 100)
    assert image_damage((tmp_path / "tail.jpg").read_bytes()) is None


def test_a_gap_in_the_frame_numbers_is_an_error(tmp_path: Path) -> None:
    """Frame 0003 missing plus a stray 0007: the count matches the 6 rows, the pairing does not."""
    make_sequence(tmp_path, "Seq", 6)
    (tmp_path / "Seq" / "img" / "0003.jpg").unlink()
    write_frames(tmp_path / "Seq" / "img", [7])
    msg = r"sequence Seq: .*Seq/img skips frame number\(s\) 3 between 0001.jpg and 0007.jpg"
    with pytest.raises(GroundTruthError, match=msg):
        OTBFormatDataset(tmp_path)["Seq"]


def test_two_files_for_one_frame_number_is_an_error(tmp_path: Path) -> None:
    make_sequence(tmp_path, "Seq", 3)
    write_frames(tmp_path / "Seq" / "img", [2], digits=1)  # 2.jpg beside 0002.jpg
    (tmp_path / "Seq" / "groundtruth_rect.txt").write_text(format_rows(gt_row(f) for f in range(1, 5)))
    with pytest.raises(GroundTruthError, match=r"two files for frame 2: (0002\.jpg and 2\.jpg|2\.jpg and 0002\.jpg)"):
        OTBFormatDataset(tmp_path)["Seq"]


def test_frames_of_another_size_are_an_error_naming_the_file(tmp_path: Path) -> None:
    make_sequence(tmp_path, "Seq", 4)
    ok, buf = cv2.imencode(".jpg", np.zeros((20, 24, 3), np.uint8))
    (tmp_path / "Seq" / "img" / "0004.jpg").write_bytes(buf.tobytes())
    seq = OTBFormatDataset(tmp_path)["Seq"]
    for i in range(3):
        assert seq.image(i).shape == (16, 16, 3)
    with pytest.raises(ImageReadError, match=r"frame .*0004\.jpg is 24x20 but frame .*0001\.jpg is 16x16"):
        seq.image(3)


def test_list_frames_orders_numbers_in_names_as_numbers(tmp_path: Path) -> None:
    for name in ("img10.png", "img2.png", "img1.png", "1.jpg", "12.jpg", "2.jpg", ".hidden.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [f.name for f in list_frames(tmp_path)] == ["1.jpg", "2.jpg", "12.jpg", "img1.png", "img2.png", "img10.png"]
