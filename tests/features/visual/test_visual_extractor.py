"""VisualBatchExtractor: per-post means over images and frames, failures, flags, pickling."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from amae.features.base import BatchResult
from amae.features.video import read_key_frames
from amae.features.visual.backbones import load_backbone
from amae.features.visual.config import VisualFeatureConfig
from amae.features.visual.decode import load_image
from amae.features.visual.extractor import VisualBatchExtractor
from amae.features.visual.handcrafted import HANDCRAFTED_FEATURE_NAMES, handcrafted_features

H_ONLY = VisualFeatureConfig(deep=False)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ds")
    (root / "m").mkdir()
    Image.new("RGB", (120, 80), (255, 0, 0)).save(root / "m" / "red.png")
    Image.new("RGB", (90, 90), (0, 0, 255)).save(root / "m" / "blue.jpg", quality=95)
    (root / "m" / "empty.jpg").write_bytes(b"")
    (root / "m" / "text.jpg").write_text("hello")
    writer = cv2.VideoWriter(str(root / "m" / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for i in range(9):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    (root.parent / "outside.png").write_bytes((root / "m" / "red.png").read_bytes())
    return root


def posts(media: list) -> pd.DataFrame:
    n = len(media)
    return pd.DataFrame(
        {"post_idx": np.arange(100, 100 + n), "user_idx": 0, "timestamp": 0, "text": None, "media": media}
    )


def names_of(ex: VisualBatchExtractor) -> list[str]:
    return ex.feature_names["visual_h"]


def test_means_over_images_and_frames(dataset: Path) -> None:
    ex = VisualBatchExtractor(dataset, H_ONLY)
    res = ex(posts([["m/red.png"], ["m/red.png", "m/blue.jpg"], ["m/clip.mp4", "m/blue.jpg"], []]))
    assert isinstance(res, BatchResult) and set(res.blocks) == {"visual_h"}
    h = res.blocks["visual_h"]
    assert h.shape == (4, len(HANDCRAFTED_FEATURE_NAMES)) and h.dtype == np.float32
    cold = names_of(ex).index("color_cold_area")
    warm = names_of(ex).index("color_warm_area")
    assert h[0, warm] == 1.0 and h[1, warm] == pytest.approx(0.5) and h[1, cold] == pytest.approx(0.5)

    def one(img: np.ndarray) -> np.ndarray:
        return handcrafted_features(img)

    frames = read_key_frames(dataset / "m" / "clip.mp4")
    assert len(frames) == 3
    expected = np.mean([one(f) for f in frames] + [one(load_image(dataset / "m" / "blue.jpg", 10**8))], axis=0)
    np.testing.assert_allclose(h[2], expected, rtol=1e-5, atol=1e-6)
    assert h[3].tolist() == [0.0] * h.shape[1]
    assert res.flags["visual_none"].tolist() == [False, False, False, True]
    assert res.failures == []


def test_bad_media_are_listed_and_never_stop_the_batch(dataset: Path) -> None:
    ex = VisualBatchExtractor(dataset, H_ONLY)
    batch = posts(
        [
            ["m/empty.jpg", "m/red.png"],
            ["m/text.jpg", "../outside.png", "/etc/hosts", "m/none.png", "m/red.bmp"],
            None,
            "m/red.png;m/blue.jpg",  # CSV-style cell
        ]
    )
    res = ex(batch)
    assert res.flags["visual_none"].tolist() == [False, True, True, False]
    by_path = {f["path"]: f for f in res.failures}
    assert set(by_path) == {"m/empty.jpg", "m/text.jpg", "../outside.png", "/etc/hosts", "m/none.png", "m/red.bmp"}
    assert all(set(f) >= {"post_idx", "path", "reason"} and f["reason"] for f in res.failures)
    assert by_path["m/empty.jpg"]["post_idx"] == 100 and by_path["m/text.jpg"]["post_idx"] == 101
    assert "empty" in by_path["m/empty.jpg"]["reason"] and "'..'" in by_path["../outside.png"]["reason"]
    # the good image of post 0 still counts alone
    warm = names_of(ex).index("color_warm_area")
    assert res.blocks["visual_h"][0, warm] == 1.0 and res.blocks["visual_h"][3, warm] == pytest.approx(0.5)


def test_feature_names_and_metadata(dataset: Path) -> None:
    ex = VisualBatchExtractor(dataset)
    h = ex.feature_names["visual_h"]
    assert {"color_cold_area", "face_count", "face_count_log1p", "face_biggest_area", "texture_clarity"} <= set(h)
    assert len(h) == len(set(h)) == 25
    assert ex.feature_names["visual_d"][:2] == ["efficientnet-lite0_0000", "efficientnet-lite0_0001"]
    assert len(ex.feature_names["visual_d"]) == 1280
    md = ex.metadata
    assert md["backbone"] == "efficientnet-lite0" and md["backbone_dim"] == 1280
    assert md["face_detector"].startswith("libfacedetection") and md["face_threshold"] == 0.7


def test_pickles_small_and_without_a_model(dataset: Path) -> None:
    ex = VisualBatchExtractor(dataset)
    blob = pickle.dumps(ex)
    assert len(blob) < 100_000
    again = pickle.loads(blob)
    assert again.feature_names == ex.feature_names and again.config == ex.config


def test_deep_block_is_the_mean_of_frame_embeddings(dataset: Path) -> None:
    cfg = VisualFeatureConfig(device="cpu", batch_size=2)
    ex = VisualBatchExtractor(dataset, cfg)
    res = ex(posts([["m/red.png", "m/blue.jpg"], ["m/text.jpg"], ["m/blue.jpg"]]))
    d = res.blocks["visual_d"]
    assert d.shape == (3, 1280) and d.dtype == np.float32
    net = load_backbone(cfg)
    imgs = [load_image(dataset / "m" / p, 10**8) for p in ("red.png", "blue.jpg")]
    single = net.embed(np.stack([net.preprocess(i) for i in imgs]))
    np.testing.assert_allclose(d[0], single.mean(axis=0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(d[2], single[1], rtol=1e-4, atol=1e-4)
    assert d[1].tolist() == [0.0] * 1280 and res.flags["visual_none"].tolist() == [False, True, False]
    assert res.blocks["visual_h"].shape == (3, 25)


def test_decode_threads_give_the_same_result(dataset: Path) -> None:
    batch = posts([["m/red.png"], ["m/clip.mp4"], ["m/blue.jpg", "m/text.jpg"], []] * 3)
    inline = VisualBatchExtractor(dataset, H_ONLY)(batch)
    threaded = VisualBatchExtractor(dataset, VisualFeatureConfig(deep=False, decode_threads=2))(batch)
    np.testing.assert_array_equal(inline.blocks["visual_h"], threaded.blocks["visual_h"])
    assert inline.failures == threaded.failures


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="face_threshold"):
        VisualFeatureConfig(face_threshold=70)
    with pytest.raises(ValueError, match="at least one"):
        VisualFeatureConfig(handcrafted=False, deep=False)


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (1, 3000), (3000, 1)])
def test_degenerate_image_shapes_give_finite_features(shape: tuple[int, int]) -> None:
    f = handcrafted_features(np.full((*shape, 3), 100, np.uint8))
    assert f.shape == (len(HANDCRAFTED_FEATURE_NAMES),) and np.all(np.isfinite(f))


def test_handcrafted_only_does_not_import_torch(dataset: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys, pandas as pd\n"
        "from amae.features.visual import VisualBatchExtractor, VisualFeatureConfig\n"
        f"ex = VisualBatchExtractor({str(dataset)!r}, VisualFeatureConfig(deep=False))\n"
        "ex(pd.DataFrame({'post_idx': [0], 'media': [['m/red.png']]}))\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_groups_do_not_depend_on_each_other(tmp_path: Path) -> None:
    """A large JPEG (decoded at reduced scale) gives the same numbers in single-group and combined runs."""
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 255, (1500, 2000, 3), dtype=np.uint8)).save(tmp_path / "big.jpg")
    batch = posts([["big.jpg"]])
    both = VisualBatchExtractor(tmp_path, VisualFeatureConfig(device="cpu"))(batch)
    h_only = VisualBatchExtractor(tmp_path, H_ONLY)(batch)
    d_only = VisualBatchExtractor(tmp_path, VisualFeatureConfig(device="cpu", handcrafted=False))(batch)
    np.testing.assert_array_equal(both.blocks["visual_h"], h_only.blocks["visual_h"])
    np.testing.assert_allclose(both.blocks["visual_d"], d_only.blocks["visual_d"], rtol=1e-6, atol=1e-6)
