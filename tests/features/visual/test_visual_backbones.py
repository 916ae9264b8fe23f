"""Backbones: shipped EfficientNet-Lite0 weights classify real photos; ResNet-50 weights are never random."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch

from amae.features.visual.backbones import (
    BackboneWeightsMissing,
    _PooledEfficientNet,
    get_backbone_spec,
    load_backbone,
    load_efficientnet_lite0_classifier,
    preprocess,
    resolve_device,
)
from amae.features.visual.config import VisualFeatureConfig
from amae.features.visual.extractor import VisualBatchExtractor

CONFIG = VisualFeatureConfig(device="cpu", batch_size=4)


def bgr(name: str) -> np.ndarray:
    return np.ascontiguousarray(getattr(skimage.data, name)()[:, :, ::-1])


@pytest.fixture(scope="module")
def lite0():
    return load_backbone(CONFIG)


def test_shipped_weights_classify_cat_and_espresso() -> None:
    spec = get_backbone_spec("efficientnet-lite0")
    net = load_efficientnet_lite0_classifier()
    x = torch.from_numpy(np.stack([preprocess(bgr("chelsea"), spec), preprocess(bgr("coffee"), spec)]))
    with torch.inference_mode():
        top = net(x).argmax(dim=1).tolist()
    assert 281 <= top[0] <= 285  # tabby / tiger cat / Persian / Siamese / Egyptian cat
    assert top[1] == 967  # espresso


def test_pooled_features_are_1280_d_deterministic_and_match_unfused(lite0) -> None:
    images = np.stack([lite0.preprocess(bgr(n)) for n in ["chelsea", "coffee", "astronaut"]])
    a, b = lite0.embed(images), lite0.embed(images)
    assert a.shape == (3, 1280) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert np.all(np.isfinite(a)) and not np.allclose(a[0], a[1])
    # batch-norm folding must not change the features beyond float rounding
    ref = _PooledEfficientNet(load_efficientnet_lite0_classifier())
    with torch.inference_mode():
        np.testing.assert_allclose(ref(torch.from_numpy(images)).numpy(), a, rtol=1e-4, atol=1e-4)


def test_backbone_is_loaded_once_per_process(lite0) -> None:
    assert load_backbone(CONFIG) is lite0


def test_preprocess_crops_any_shape() -> None:
    spec = get_backbone_spec("efficientnet-lite0")
    for shape in [(10, 500, 3), (700, 20, 3), (224, 224, 3), (1, 1, 3)]:
        out = preprocess(np.zeros(shape, np.uint8), spec)
        assert out.shape == (3, 224, 224) and out.dtype == np.float32


def test_a_thin_image_is_cut_before_it_is_scaled_up() -> None:
    """Cutting the centre first gives the pixels the scale-then-crop path gave, without its memory."""
    import cv2

    from amae.features.visual.backbones import CROP_FRACTION

    spec = get_backbone_spec("efficientnet-lite0")
    thin = np.random.default_rng(0).integers(0, 255, (3, 1500, 3), dtype=np.uint8)  # scaled long side 128k
    size, short = spec.input_size, round(spec.input_size / CROP_FRACTION)
    scale = short / 3
    full = cv2.resize(thin, (round(1500 * scale), short), interpolation=cv2.INTER_LINEAR)
    top, left = (short - size) // 2, (full.shape[1] - size) // 2
    old = (full[top : top + size, left : left + size, ::-1].astype(np.float32) - np.float32(spec.mean[0])) / np.float32(
        spec.std[0])
    new = preprocess(thin, spec).transpose(1, 2, 0)
    inner = slice(2 * int(scale), size - 2 * int(scale))  # the borders interpolate towards cut-off pixels
    assert np.allclose(new[:, inner], old[:, inner], atol=1e-4)


def _peak_rss_kb(shape: tuple[int, int]) -> int:
    """Peak RSS of a fresh process that imports the backbones and preprocesses one image of ``shape``."""
    import subprocess
    import sys

    code = ("import resource, numpy as np; from amae.features.visual.backbones import preprocess, get_backbone_spec;"
            f"out = preprocess(np.full({shape + (3,)}, 7, np.uint8), get_backbone_spec('efficientnet-lite0'));"
            "assert out.shape == (3, 224, 224); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              timeout=300).stdout.split()[-1])


def test_a_60000_by_1_image_stays_small_in_memory() -> None:
    # 60000 x 1 scaled by its short side would be 15.4M x 256 pixels: 12.9 GB at its peak before the cut
    extra_kb = _peak_rss_kb((1, 60000)) - _peak_rss_kb((224, 224))
    assert extra_kb < 100_000, f"{extra_kb / 1e3:.0f} MB more than a 224 x 224 image"


def test_unknown_backbone() -> None:
    with pytest.raises(ValueError, match="unknown backbone 'vgg'"):
        VisualBatchExtractor(".", VisualFeatureConfig(backbone="vgg"))


def test_resnet50_without_weights_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    with pytest.raises(BackboneWeightsMissing, match="IMAGENET1K_V2") as err:
        VisualBatchExtractor(tmp_path, VisualFeatureConfig(backbone="resnet50"))
    assert "resnet_weights" in str(err.value) and "never used" in str(err.value)
    with pytest.raises(BackboneWeightsMissing, match="not found"):
        missing = VisualFeatureConfig(backbone="resnet50", resnet_weights=str(tmp_path / "x"))
        VisualBatchExtractor(tmp_path, missing)


def test_resnet50_from_local_file_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision

    # Stand-in weights for the mechanics only (the real ones need a download): a seeded init.
    torch.manual_seed(0)
    state = torchvision.models.resnet50(weights=None).state_dict()
    path = tmp_path / "r50.pth"
    torch.save(state, path)
    cfg = VisualFeatureConfig(backbone="resnet50", resnet_weights=str(path), device="cpu")
    ex = VisualBatchExtractor(tmp_path, cfg)
    assert ex.metadata["backbone_dim"] == 2048 and ex.metadata["backbone_weights"] == str(path)
    net = load_backbone(cfg)
    feats = net.embed(np.stack([net.preprocess(bgr("coffee"))] * 2))
    assert feats.shape == (2, 2048) and np.all(np.isfinite(feats))
    # torchvision's cache is found without a path
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / "resnet50-11ad3fa6.pth").symlink_to(path)
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    assert (
        get_backbone_spec("resnet50")
        .weights_source(VisualFeatureConfig(backbone="resnet50"))
        .endswith("resnet50-11ad3fa6.pth")
    )


def test_resnet50_rejects_a_foreign_state_dict(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="not a torchvision resnet50 state dict"):
        cfg = VisualFeatureConfig(backbone="resnet50", resnet_weights=str(path))
        get_backbone_spec("resnet50").build(cfg)


def test_device_resolution() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
    else:
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="device must be"):
        VisualFeatureConfig(device="tpu")
