"""Face counts with libfacedetection on real photos (../shared/data/faces)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from amae.features.visual.decode import load_image
from amae.features.visual.faces import FACE_FEATURE_NAMES, detector_threads, face_features


def test_face_counts_on_real_photos(shared_data: Path) -> None:
    root = shared_data / "faces"
    rows = list(csv.DictReader((root / "faces.csv").open(encoding="utf-8")))
    assert len(rows) == 14
    wrong = []
    for row in rows:
        f = face_features(load_image(root / row["path"], 40_000_000), threshold=0.7)
        count = int(f[FACE_FEATURE_NAMES.index("face_count")])
        assert f[0] == np.float32(np.log1p(count))
        assert (f[2] > 0) == (count > 0) and f[2] <= 1.0
        if count != int(row["face_count"]):
            wrong.append((row["path"], int(row["face_count"]), count))
    assert len(wrong) <= 2, wrong


def test_blank_image_has_no_face() -> None:
    assert face_features(np.full((300, 400, 3), 127, np.uint8)).tolist() == [0.0, 0.0, 0.0]


def test_thread_cap_is_restored() -> None:
    import torch

    before = torch.get_num_threads()
    with detector_threads(1):
        pass
    assert torch.get_num_threads() == before
