"""Request media decoded in the low-priority worker process give exactly the in-process features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from amae.serving.media_pool import MediaPool
from amae.serving.posts import PostFeaturizer, RecentPost


def test_media_pool_features_equal_in_process(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(tmp_path / f"i{i}.png")
    posts = [RecentPost(100, "x", ["i0.png"]), RecentPost(200, None, []), RecentPost(300, "y", ["i1.png"])]
    groups, dims = {"visual": ["visual_h", "visual_d"]}, {"visual": 25 + 1280}
    local = PostFeaturizer(tmp_path, groups, dims, media_root=tmp_path)(posts, 1000)
    pooled_featurizer = PostFeaturizer(tmp_path, groups, dims, media_root=tmp_path)
    pooled_featurizer.pool = MediaPool()
    try:
        pooled = pooled_featurizer(posts, 1000)
    finally:
        pooled_featurizer.pool.close()
    np.testing.assert_array_equal(pooled.times["visual"], local.times["visual"])
    np.testing.assert_allclose(pooled.features["visual"], local.features["visual"], rtol=1e-5, atol=1e-6)
    assert local.features["visual"].shape == (2, 1305)  # the post without media is left out
