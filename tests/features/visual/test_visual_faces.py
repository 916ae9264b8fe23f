"""Face counts with libfacedetection on real photos (../shared/data/faces)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from amae.features.visual.config import VisualFeatureConfig
from amae.features.visual.decode import load_image
from amae.features.visual.extractor import VisualBatchExtractor
from amae.features.visual.faces import FACE_FEATURE_NAMES, detector_threads, face_features


def test_face_counts_on_real_photos(shared_data: Path) -> None:
    """Through the extractor, i.e. with the decoder's size hints the real runs use."""
    root = shared_data / "faces"
    rows = list(csv.DictReader((root / "faces.csv").open(encoding="utf-8")))
    assert len(rows) == 14
    ex = VisualBatchExtractor(root, VisualFeatureConfig(deep=False, face_threshold=0.7))
    res = ex(pd.DataFrame({"post_idx": range(len(rows)), "media": [[r["path"]] for r in rows]}))
    assert res.failures == []
    feats = pd.DataFrame(res.blocks["visual_h"], columns=ex.feature_names["visual_h"])
    counts = feats["face_count"].round().astype(int).to_numpy()
    truth = np.array([int(r["face_count"]) for r in rows])
    np.testing.assert_allclose(feats["face_count_log1p"], np.log1p(counts), rtol=1e-6)
    assert np.all((feats["face_biggest_area"] > 0) == (counts > 0)) and feats["face_biggest_area"].max() <= 1
    wrong = [(r["path"], t, c) for r, t, c in zip(rows, truth, counts, strict=True) if t != c]
    print(f"faces exact on {len(rows) - len(wrong)}/{len(rows)}; wrong: {wrong}")
    assert len(wrong) <= 2, wrong


def test_face_features_direct(shared_data: Path) -> None:
    img = load_image(shared_data / "faces" / "face_recognition" / "two_people.jpg", 40_000_000)
    f = face_features(img, threshold=0.7)
    assert f[FACE_FEATURE_NAMES.index("face_count")] == 2 and 0 < f[2] < 0.5
    assert face_features(img, threshold=0.99)[1] == 0  # the threshold is honoured


def test_blank_image_has_no_face() -> None:
    assert face_features(np.full((300, 400, 3), 127, np.uint8)).tolist() == [0.0, 0.0, 0.0]


def test_thread_cap_is_restored() -> None:
    import torch

    before = torch.get_num_threads()
    with detector_threads(1):
        pass
    assert torch.get_num_threads() == before
