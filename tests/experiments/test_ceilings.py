"""Bayes ceilings of a synthetic world: ordered as knowledge is, above any collaborative model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from amae.data.synthetic import WorldConfig, WorldTruth, generate_world
from amae.data.workspace import ingest
from amae.experiments.ceilings import (
    CEILINGS,
    TruthScorer,
    _readable_posts,
    captured_shares,
    mood_listen_counts,
    smoothed_item_effects,
    world_ceilings,
    world_folder,
    world_index,
)
from amae.experiments.runs import run_cell
from amae.protocol.split import split_workspace

SMALL = {"n_users": 60, "n_items": 80, "n_days": 20, "image_share": 0.0, "n_videos": 0, "image_size": 16}


def _world(root: Path, **cfg: float) -> tuple[Path, Path]:
    world, ws = root / "world", root / "ws"
    generate_world(world, WorldConfig(**{**SMALL, **cfg}))
    return world, ws


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    world, ws = _world(tmp_path_factory.mktemp("planted"), seed=3)
    ds = ingest(world, ws)
    split, _ = split_workspace(ws, ds, seed=0, n_negatives=20)
    return world, ws, ds, split, world_ceilings(world, ds, split)


def test_ceilings_are_ordered_by_what_they_know(planted: tuple) -> None:
    *_, c = planted
    for view in ("full", "full_new_pairs", "sampled"):
        col, obs, omni = (c[k][view]["NDCG@10"] for k in CEILINGS)
        assert col < obs <= omni + 1e-12, (view, col, obs, omni)
    # the planted mood is worth a lot on new pairs (e^2.5 on a quarter of the catalogue)
    assert c["observable"]["full_new_pairs"]["NDCG@10"] - c["collaborative"]["full_new_pairs"]["NDCG@10"] > 0.05


def test_itempop_is_below_the_collaborative_ceiling(planted: tuple) -> None:
    _, ws, ds, split, c = planted
    pop = run_cell(ws, ds, split, "itempop", 0)
    for view in ("full", "full_new_pairs", "sampled"):
        assert pop[view]["NDCG@10"] < c["collaborative"][view]["NDCG@10"], view


def test_a_null_world_makes_the_posts_worth_nothing(tmp_path: Path) -> None:
    world, ws = _world(tmp_path, mood_strength=0.0, seed=4)
    ds = ingest(world, ws)
    split, _ = split_workspace(ws, ds, seed=0, n_negatives=20)
    c = world_ceilings(world, ds, split)
    for view in ("full", "full_new_pairs"):
        assert c["observable"][view]["NDCG@10"] == pytest.approx(c["collaborative"][view]["NDCG@10"], abs=1e-12)


def test_the_scorer_ranks_by_the_generators_own_probability(planted: tuple) -> None:
    world, _, ds, split, _ = planted
    truth = WorldTruth.load(world)
    users = np.array([int(u[1:]) for u in ds.users.ids])
    items = np.array([int(i[1:]) for i in ds.items.ids])
    scorer = TruthScorer(truth, users, items, "omniscient")
    case = split.test.subset(np.arange(len(split.test)) < 5)
    cand = np.arange(ds.n_items)[None, :]
    got = scorer(case.users, cand, case.times)
    wu = users[case.users]
    logits = truth.logits(wu, truth.mood[wu, truth.day_of(case.times)])[:, items]
    logp = logits - np.log(np.exp(truth.logits(wu, truth.mood[wu, truth.day_of(case.times)])).sum(1, keepdims=True))
    assert np.allclose(got, logp)


def test_only_world_folders_have_ceilings(planted: tuple, tmp_path: Path) -> None:
    world, ws, *_ = planted
    assert world_folder("contract", world, ws) == world
    assert world_folder("workspace", Path("elsewhere"), ws) == world.resolve()
    assert world_folder("contract", tmp_path, ws) is None and world_folder("ncf", world, ws) is None


def test_captured_share_is_the_gain_over_the_available_gain() -> None:
    ceilings = {"observable": {"full": {"NDCG@10": 0.5}}, "collaborative": {"full": {"NDCG@10": 0.4}}}
    out = captured_shares({"full": {"NDCG@10": [0.38, 0.01]}}, {"full": {"NDCG@10": [0.30, 0.02]}}, ceilings)
    assert out["full"]["share"] == pytest.approx(0.8) and out["full"]["available"] == pytest.approx(0.1)
    assert out["full"]["gained"] == pytest.approx(0.08) and "full_new_pairs" not in out


def test_estimated_track_moods_come_from_the_fitting_listens(planted: tuple, tmp_path: Path) -> None:
    """On the planted world the fitting listens reveal most tracks' moods, and the reader that must
    estimate them sits between the collaborative and the observable ceiling; on a world of three days
    there is too little to go on, and the estimate is no better than chance."""
    world, _, ds, split, _ = planted
    c = world_ceilings(world, ds, split, estimated=True)
    assert c["estimated_moods_right"] > 0.6
    for view in ("full_new_pairs", "sampled"):
        col, est, obs = (c[k][view]["NDCG@10"] for k in ("collaborative", "estimated", "observable"))
        assert col < est <= obs + 1e-12, (view, col, est, obs)
    tiny, tiny_ws = _world(tmp_path, seed=3, n_days=3, n_users=8)
    tds = ingest(tiny, tiny_ws)
    tsplit, _ = split_workspace(tiny_ws, tds, seed=0, n_negatives=20)
    tiny_right = world_ceilings(tiny, tds, tsplit, estimated=True)["estimated_moods_right"]
    assert tiny_right < c["estimated_moods_right"] - 0.2, (tiny_right, c["estimated_moods_right"])


def test_the_smoothed_reader_estimates_every_track_mood_cell(planted: tuple) -> None:
    """The reader who does not know that a track has one mood: its effects are smoothed log lifts of
    the fitting listens, largest in each track's own mood for most tracks, shrunk where a cell has
    few listens; it gains over the collaborative ceiling but not more than the reader who knows the
    world's form (one argmax per track) and is no better than the observable ceiling."""
    world, _, ds, split, _ = planted
    truth = WorldTruth.load(world)
    users = world_index(ds.users, "u", truth.user_taste.shape[0])
    items = world_index(ds.items, "t", len(truth.item_mood))
    posts = _readable_posts(ds, users)
    observed, expected = mood_listen_counts(truth, ds, split, users, items, posts)
    assert observed.shape == expected.shape == (int(truth.item_mood.max()) + 1, len(truth.item_mood))
    assert observed.sum() == pytest.approx(expected.sum())  # the same listens, with and without the mood
    effects = smoothed_item_effects(truth, ds, split, users, items, posts)
    assert np.allclose(effects.mean(axis=0), 0.0)
    heard = observed.sum(axis=0) >= 10
    assert (effects.argmax(axis=0) == truth.item_mood)[heard].mean() > 0.8
    # more smoothing shrinks every effect towards none
    assert np.abs(smoothed_item_effects(truth, ds, split, users, items, posts, smoothing=50.0)).mean() < (
        np.abs(effects).mean())
    c = world_ceilings(world, ds, split, estimated=True)
    col, smooth, est, obs = (c[k]["full_new_pairs"]["NDCG@10"]
                             for k in ("collaborative", "smoothed", "estimated", "observable"))
    assert col < smooth <= obs + 1e-12 and smooth <= est + 0.01, (col, smooth, est, obs)
