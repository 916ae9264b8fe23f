"""recommend(): top-k over all tracks, history exclusion, agreement with the model, recent posts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from amae.cli import app
from amae.data.io import DataError
from amae.features.extract import load_group
from amae.serving.bundle import ModelBundle, load_bundle
from amae.serving.posts import RecentPost, parse_time, read_posts_jsonl
from amae.serving.recommender import UnknownUserError, recommend

SAD = "so sad lonely cry heartbroken miserable grief sad sad 😢"
HAPPY = "happy joy delighted wonderful cheerful glad happy 😄"


@pytest.fixture(scope="module", params=["mf", "mf+amae"])
def bundle(request: pytest.FixtureRequest, serving_workspace: Path) -> ModelBundle:
    return load_bundle(serving_workspace, request.param, 0)


def _user(bundle: ModelBundle, i: int = 3) -> tuple[str, int]:
    return str(bundle.dataset.users.ids[i]), i


def test_top_k_unplayed_sorted_and_equal_to_model_scores(bundle: ModelBundle) -> None:
    uid, u = _user(bundle)
    res = recommend(bundle, uid, k=10)
    ids = [it["item_id"] for it in res["items"]]
    assert len(ids) == 10 and len(set(ids)) == 10
    idx = bundle.dataset.items.encode(ids)
    played = set(bundle.played(u).tolist())
    assert played and not played & set(idx.tolist())
    scores = np.asarray([it["logit"] for it in res["items"]])
    assert np.all(np.diff(scores) <= 0)
    times = None if res["time"] is None else np.asarray([res["time"]])
    own = bundle.model.score(np.asarray([u]), idx[None, :], times)[0]
    np.testing.assert_allclose(scores, own, rtol=1e-5, atol=1e-6)
    # what is shown as the score is the probability the model predicts: sigmoid of its logit
    assert res["score_kind"] == "probability"
    np.testing.assert_allclose([it["score"] for it in res["items"]], 1 / (1 + np.exp(-own)), rtol=1e-5)
    # Nothing unplayed outside the list scores higher than the last entry.
    everything = bundle.model.score(np.asarray([u]), np.arange(bundle.n_items)[None, :], times)[0]
    everything[list(played)] = -np.inf
    assert np.sort(everything)[-10] == pytest.approx(scores[-1], rel=1e-5, abs=1e-6)
    assert {it["title"] for it in res["items"]} and all(it["title"].startswith("Track") for it in res["items"])


def test_include_played_ranks_history_too(bundle: ModelBundle) -> None:
    uid, u = _user(bundle)
    k = bundle.n_items
    res = recommend(bundle, uid, k=k, include_played=True)
    assert len(res["items"]) == k
    excl = recommend(bundle, uid, k=k)
    assert len(excl["items"]) == k - len(bundle.played(u))
    assert any("already played" in n for n in excl["explanation"]["notes"])
    # The re-listening term (on by default) puts the tracks the user played more than once first.
    module = bundle.model.module
    term = getattr(module, "repeat", None) or module.backbone.repeat
    plays = term.counts(torch.full((k,), u), torch.arange(k)).numpy()
    assert (plays > 1).any()
    rank = {bundle.dataset.items.encode([it["item_id"]])[0]: r for r, it in enumerate(res["items"])}
    assert max(rank[i] for i in np.flatnonzero(plays > 1)) < min(rank[i] for i in np.flatnonzero(plays == 0))


def test_explanation_kind(bundle: ModelBundle) -> None:
    res = recommend(bundle, _user(bundle)[0], k=3)
    if bundle.name == "mf":
        assert res["explanation"]["kind"] == "collaborative"
        assert all(it["attention"] is None for it in res["items"])
    else:
        assert res["explanation"]["kind"] == "attention"
        for it in res["items"]:
            w = it["attention"]["text"]
            assert w["global"] + w["contextual"] == pytest.approx(1.0, abs=1e-5)
        assert res["explanation"]["context"]["text"]["posts_in_window"] >= 0


def test_recent_posts_change_context_and_scores(serving_workspace: Path) -> None:
    b = load_bundle(serving_workspace, "mf+amae", 0)
    uid, u = _user(b)
    t = int(b.dataset.interactions["timestamp"].max()) + 30 * 86_400  # no stored post in the window
    base = recommend(b, uid, k=b.n_items - len(b.played(u)), time=t)
    assert base["explanation"]["context"]["text"]["fallback_to_global"]
    posts = [RecentPost(t - 3600, SAD), RecentPost(t - 7200, SAD), RecentPost(t - 40 * 3600, HAPPY)]
    moved = recommend(b, uid, k=b.n_items - len(b.played(u)), time=t, recent_posts=posts)
    ctx = moved["explanation"]["context"]["text"]
    assert ctx == {"posts_in_window": 2, "request_posts_in_window": 2, "fallback_to_global": False}
    s0 = {it["item_id"]: it["score"] for it in base["items"]}
    s1 = {it["item_id"]: it["score"] for it in moved["items"]}
    assert s0.keys() == s1.keys()
    assert max(abs(s0[i] - s1[i]) for i in s0) > 1e-4
    a0 = {it["item_id"]: it["attention"]["text"]["contextual"] for it in base["items"]}
    a1 = {it["item_id"]: it["attention"]["text"]["contextual"] for it in moved["items"]}
    assert max(abs(a0[i] - a1[i]) for i in a0) > 1e-5
    # The loaded model is untouched: the same request without posts gives the same answer again
    # (the attention of 5 tracks is computed in a batch of 5, so it may differ in the last float32 bit).
    again = recommend(b, uid, k=5, time=t)["items"]
    assert [(it["item_id"], it["score"]) for it in again] == [(it["item_id"], it["score"]) for it in base["items"][:5]]
    for it, ref in zip(again, base["items"][:5], strict=True):
        assert it["attention"]["text"]["contextual"] == pytest.approx(ref["attention"]["text"]["contextual"], abs=1e-6)
    # What the posts changed is stated against that same request without them.
    assert base["explanation"]["posts_changed"] is None
    top = recommend(b, uid, k=10, time=t, recent_posts=posts)
    effect = top["explanation"]["posts_changed"]
    without = [it["item_id"] for it in recommend(b, uid, k=10, time=t)["items"]]
    with_posts = [it["item_id"] for it in top["items"]]
    assert effect["entered"] == [i for i in with_posts if i not in without]
    assert effect["left"] == [i for i in without if i not in with_posts]
    assert effect["moved"] == sum(1 for r, i in enumerate(with_posts) if i in without and without.index(i) != r)
    said = [n for n in top["explanation"]["notes"] if n.startswith("the recent posts")]
    assert len(said) == 1 and ("did not change" in said[0]) == (with_posts == without)
    # Per track: its rank in the same request without the posts, and what moved it.
    full_without = [it["item_id"] for it in recommend(b, uid, k=b.n_items - len(b.played(u)), time=t)["items"]]
    for it in top["items"]:
        assert it["rank_without_posts"] == full_without.index(it["item_id"]) + 1
        assert it["moved_most_by"] == "text" and it["logit_change"] == pytest.approx(
            it["logit"] - next(x["logit"] for x in base["items"] if x["item_id"] == it["item_id"]), abs=1e-5)
    assert all(it["rank_without_posts"] is None for it in base["items"])


def test_new_posts_featurised_as_in_training(serving_workspace: Path) -> None:
    b = load_bundle(serving_workspace, "mf+amae", 0)
    posts = b.dataset.posts.iloc[:6]
    got = b.featurizer([RecentPost(int(r.timestamp), r.text) for r in posts.itertuples()], 0)
    idx = posts["post_idx"].to_numpy()
    stored = np.concatenate([load_group(serving_workspace / "features", g)[0][idx]
                             for g in b.featurizer.groups["text"]], axis=1)
    assert got.features["text"].shape == stored.shape
    np.testing.assert_allclose(got.features["text"], stored, rtol=1e-5, atol=1e-5)


def test_unknown_user(serving_workspace: Path) -> None:
    b = load_bundle(serving_workspace, "mf+amae", 0)
    with pytest.raises(UnknownUserError, match="unknown user 'nobody'"):
        recommend(b, "nobody")
    cold = recommend(b, "nobody", k=5, time=1_709_283_600, recent_posts=[RecentPost(None, SAD)])
    # ranked from the posts alone (tests/serving/test_serving_cold_start.py checks what they change)
    assert cold["explanation"]["kind"] == "content" and cold["score_kind"] == "probability"
    assert np.all(np.diff([it["score"] for it in cold["items"]]) <= 0)


def test_posts_file_and_time_parsing(tmp_path: Path) -> None:
    assert parse_time("2024-01-01T00:00:00Z") == parse_time(1_704_067_200) == parse_time("1704067200")
    with pytest.raises(DataError, match="is not unix seconds or ISO-8601"):
        parse_time("yesterday-ish")
    good = tmp_path / "p.jsonl"
    good.write_text('{"timestamp": "2024-01-01T10:00:00Z", "text": "hi"}\n\n{"text": null, "media": []}\n')
    posts = read_posts_jsonl(good)
    assert [p.timestamp for p in posts] == [1_704_103_200, None]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"txt": "typo"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl, line 2: unknown field"):
        read_posts_jsonl(bad)


def test_cli_recommend(serving_workspace: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    posts = tmp_path / "recent.jsonl"
    posts.write_text(json.dumps({"timestamp": "2024-03-01T09:00:00Z", "text": SAD}) + "\n")
    args = ["recommend", "--workspace", str(serving_workspace), "--model", "mf+amae", "--user", "u0003", "-k", "4"]
    res = runner.invoke(app, [*args, "--posts", str(posts), "--time", "2024-03-01T10:00:00Z", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data["items"]) == 4 and data["time"] == parse_time("2024-03-01T10:00:00Z")
    assert data["explanation"]["context"]["text"]["request_posts_in_window"] == 1
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and "text global / ctx" in table.stdout
    unknown = runner.invoke(app, [*args[:-4], "--user", "nobody"])
    assert unknown.exit_code == 2 and "unknown user" in unknown.output
    missing = runner.invoke(app, ["recommend", "--workspace", str(serving_workspace), "--model", "dmf", "--user", "u0"])
    assert missing.exit_code == 2 and "no trained model" in missing.output
