"""Request media: featurised like stored images; missing or escaping paths are skipped and reported."""

from __future__ import annotations

import numpy as np
import pytest

from amae.data.synthetic import WorldConfig, generate_world
from amae.data.workspace import ingest, load_workspace
from amae.experiments.runs import load_split, run_cell
from amae.features.extract import load_group
from amae.features.pipeline import extract_features
from amae.protocol.split import split_interactions
from amae.serving.bundle import ModelBundle, load_bundle
from amae.serving.posts import RecentPost
from amae.serving.recommender import recommend


@pytest.fixture(scope="module")
def visual_bundle(tmp_path_factory: pytest.TempPathFactory) -> ModelBundle:
    root = tmp_path_factory.mktemp("serving_visual")
    generate_world(root / "world", WorldConfig(n_users=20, n_days=8, image_share=0.2, n_videos=0, image_size=32))
    ws = root / "ws"
    dataset = ingest(root / "world", ws)
    split_interactions(dataset.interactions, dataset.n_items, seed=0).save(ws / "split")
    for modality in ("text", "visual"):
        extract_features(ws, modality, {}, n_jobs=1, progress=False)
    run_cell(ws, load_workspace(ws), load_split(ws), "mf+amae", 0, {"epochs": 2, "stage1_epochs": 1, "progress": False})
    return load_bundle(ws, "mf+amae", 0, media_root=root / "world")


def test_request_image_matches_stored_features(visual_bundle: ModelBundle) -> None:
    b = visual_bundle
    posts = b.dataset.posts
    with_media = posts[posts["media"].map(len) > 0].iloc[:3]
    assert len(with_media) == 3
    got = b.featurizer([RecentPost(int(r.timestamp), r.text, list(r.media)) for r in with_media.itertuples()], 0)
    idx = with_media["post_idx"].to_numpy()
    stored = np.concatenate([load_group(b.workspace / "features", g)[0][idx] for g in b.featurizer.groups["visual"]],
                            axis=1)
    np.testing.assert_allclose(got.features["visual"], stored, rtol=1e-4, atol=1e-4)


def test_bad_media_skipped_and_reported(visual_bundle: ModelBundle) -> None:
    b = visual_bundle
    uid = str(b.dataset.users.ids[2])
    t = int(b.dataset.interactions["timestamp"].max()) + 30 * 86_400
    posts = [RecentPost(t - 60, "so sad", ["media/missing.jpg", "../../outside.jpg"])]
    res = recommend(b, uid, k=3, time=t, recent_posts=posts)
    ctx = res["explanation"]["context"]
    assert ctx["text"]["request_posts_in_window"] == 1
    assert ctx["visual"] == {"posts_in_window": 0, "request_posts_in_window": 0, "fallback_to_global": True}
    notes = " ".join(res["explanation"]["notes"])
    assert "2 medium/media unreadable" in notes and "visual: no post" in notes
    assert set(res["items"][0]["attention"]) == {"text", "visual"}


def test_media_ignored_without_media_root(visual_bundle: ModelBundle) -> None:
    b = load_bundle(visual_bundle.workspace, "mf+amae", 0)  # no media root: a server must not read client paths
    uid = str(b.dataset.users.ids[2])
    res = recommend(b, uid, k=3, time=1_709_283_600, recent_posts=[RecentPost(None, "sad", ["media/p000001.jpg"])])
    assert any("no media root" in n for n in res["explanation"]["notes"])
