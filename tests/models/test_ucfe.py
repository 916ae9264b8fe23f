"""UCFE on hand-made worlds where the right ranking is known, and against a brute-force reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from amae.content.emotion import EmotionContent, emotion_columns
from amae.data.io import DataError
from amae.models import ucfe
from amae.models.base import TrainData
from amae.models.ucfe import UCFE

DAY = 86_400
HAPPY, SAD = [1.0, 0.0], [0.0, 1.0]


def two_neighbour_world() -> tuple[TrainData, int, int]:
    """u0 shares tracks 0 and 1 with v1 and v2 alike; v1 played track 2 happy, v2 played track 3 sad.

    u0 posts something happy on day 10 and something sad on day 20.
    """
    # (user, item, time)
    plays = [(0, 0, 100), (0, 1, 100), (1, 0, 100), (1, 1, 100), (2, 0, 100), (2, 1, 100),
             (1, 2, 2000), (2, 3, 2000)]
    users, items, times = (np.array(c, dtype=np.int64) for c in zip(*plays, strict=True))
    posts = [(1, 1000, HAPPY), (2, 1000, SAD), (0, 10 * DAY, HAPPY), (0, 20 * DAY, SAD)]
    pu, pt, pe = zip(*posts, strict=True)
    content = EmotionContent(np.array(pu, np.int64), np.array(pt, np.int64), np.array(pe, np.float32),
                             np.full(3, 3000, np.int64), ["emo7_a", "emo7_b"])
    return TrainData(3, 5, users, items, times, content=content), 10 * DAY + 60, 20 * DAY + 60


def test_neighbour_with_matching_emotion_outweighs_one_without() -> None:
    data, happy_t, sad_t = two_neighbour_world()
    model = UCFE(k=2, emotion_floor=0.0).fit(data)
    scores = model.score(np.array([0, 0]), np.array([[2, 3], [2, 3]]), np.array([happy_t, sad_t]))
    assert scores[0, 0] > scores[0, 1]  # happy now: the track v1 played happy wins
    assert scores[1, 1] > scores[1, 0]  # sad now: the track v2 played sad wins


def test_floor_one_is_plain_user_based_cf() -> None:
    data, happy_t, _ = two_neighbour_world()
    scores = UCFE(k=2, emotion_floor=1.0).fit(data).score(np.array([0]), np.array([[2, 3, 4]]), np.array([happy_t]))
    assert scores[0, 0] == pytest.approx(scores[0, 1])
    assert scores[0, 2] == 0.0  # nobody played track 4


def test_only_k_neighbours_vote() -> None:
    # u0 overlaps v1 on two tracks, v2 on one: with k=1 only v1's track counts
    plays = [(0, 0, 1), (0, 1, 1), (1, 0, 1), (1, 1, 1), (1, 2, 1), (2, 0, 1), (2, 3, 1)]
    users, items, times = (np.array(c, dtype=np.int64) for c in zip(*plays, strict=True))
    content = EmotionContent(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 2), np.float32),
                             np.full(3, 10, np.int64), ["emo7_a", "emo7_b"])
    model = UCFE(k=1).fit(TrainData(3, 4, users, items, times, content=content))
    scores = model.score(np.array([0]), np.array([[2, 3]]), np.array([5]))
    assert scores[0, 0] > 0 and scores[0, 1] == 0


def brute_force(data: TrainData, k: int, floor: float, users: np.ndarray, items: np.ndarray,
                times: np.ndarray, window: int) -> np.ndarray:
    """The formula of the module docstring, one case, neighbour and track at a time."""
    c = data.content
    R = np.zeros((data.n_users, data.n_items))
    R[data.users, data.items] = 1

    def emotion(u: int, t: int) -> np.ndarray:
        m = (c.post_user == u) & (c.post_time >= t - window) & (c.post_time < t)
        if not m.any():
            m = (c.post_user == u) & (c.post_time < c.global_until[u])
        return c.post_emotion[m].mean(0) if m.any() else np.zeros(c.post_emotion.shape[1])

    def unit(x: np.ndarray) -> np.ndarray:
        n = np.linalg.norm(x)
        return x / n if n > 0 else x * 0

    norms = np.linalg.norm(R, axis=1)
    sim = (R @ R.T) / np.maximum(np.outer(norms, norms), 1e-12)
    out = np.zeros(items.shape)
    for a, (u, t) in enumerate(zip(users, times, strict=True)):
        s = sim[u].copy()
        s[u] = -np.inf
        order = sorted(range(data.n_users), key=lambda v: (-s[v], v))[:k]
        eu = unit(emotion(u, t))
        for b, m in enumerate(items[a]):
            for v in order:
                if s[v] <= 0 or not R[v, m]:
                    continue
                rows = np.flatnonzero((data.users == v) & (data.items == m))
                evm = unit(np.mean([unit(emotion(v, data.times[r])) for r in rows], axis=0))
                out[a, b] += s[v] * (floor + (1 - floor) * eu @ evm)
    return out


@pytest.mark.parametrize("lookup_cost", [0, 10**9])  # always the candidate look-ups; always the dense rows
def test_vectorised_scores_match_brute_force(monkeypatch: pytest.MonkeyPatch, lookup_cost: int) -> None:
    monkeypatch.setattr(ucfe, "LOOKUP_COST", lookup_cost)
    rng = np.random.default_rng(3)
    n_users, n_items, n_posts, window = 12, 15, 80, 50
    users = rng.integers(0, n_users, 90)
    items = rng.integers(0, n_items, 90)
    times = rng.integers(0, 400, 90)
    content = EmotionContent(rng.integers(0, n_users, n_posts), rng.integers(0, 500, n_posts),
                             (rng.random((n_posts, 3)) * (rng.random((n_posts, 3)) < 0.5)).astype(np.float32),
                             rng.integers(100, 500, n_users), ["emo7_a", "emo7_b", "emo7_c"])
    data = TrainData(n_users, n_items, users, items, times, content=content)
    model = UCFE(k=4, emotion_floor=0.2, window=window, score_budget_mb=0).fit(data)  # 1 case per chunk
    cu, ci, ct = rng.integers(0, n_users, 9), rng.integers(0, n_items, (9, 6)), rng.integers(0, 600, 9)
    np.testing.assert_allclose(model.score(cu, ci, ct), brute_force(data, 4, 0.2, cu, ci, ct, window),
                               rtol=1e-5, atol=1e-6)


def test_save_load_round_trip(tmp_path: Path) -> None:
    data, happy_t, sad_t = two_neighbour_world()
    model = UCFE(k=2).fit(data)
    args = (np.array([0, 0]), np.array([[2, 3, 0], [2, 3, 1]]), np.array([happy_t, sad_t]))
    model.save(tmp_path)
    np.testing.assert_array_equal(model.score(*args), UCFE.load(tmp_path).score(*args))


def test_emotion_columns_prefer_minor_classes_when_present() -> None:
    names = ["emo7_joy", "emo21_a", "emo21_b", "x"]
    cols, picked = emotion_columns(names, {"metadata": {"emo21_present": True}})
    assert picked == ["emo21_a", "emo21_b"] and cols.tolist() == [1, 2]
    assert emotion_columns(names, {"metadata": {"emo21_present": False}})[1] == ["emo7_joy"]
    with pytest.raises(DataError, match="emo21"):
        emotion_columns(["x"], {})


def test_bad_inputs_are_clear_errors() -> None:
    data, happy_t, _ = two_neighbour_world()
    with pytest.raises(ValueError, match="emotion_floor"):
        UCFE(emotion_floor=2.0)
    model = UCFE().fit(data)
    with pytest.raises(ValueError, match="times"):
        model.score(np.array([0]), np.array([[1]]))
    data.content = None
    with pytest.raises(DataError, match="EmotionContent"):
        UCFE().fit(data)


def dense_reference_score(model: UCFE, users: np.ndarray, items: np.ndarray, times: np.ndarray) -> np.ndarray:
    """UCFE.score as it was before candidate-only scoring: every track's channels, then a gather."""
    from amae.models.base import as_2d
    from amae.models.ucfe import unit_rows

    users, items = as_2d(users, items)
    floor, n = float(model.params["emotion_floor"]), users.shape[0]
    n_ch = model.pair_emotion.shape[1] + 1
    values = np.concatenate([np.ones((len(model.pair_user), 1), np.float32), model.pair_emotion], axis=1)
    cols = model.pair_item[:, None] * n_ch + np.arange(n_ch)[None, :]
    votes = sp.csr_matrix((values.ravel(), (np.repeat(model.pair_user, n_ch), cols.ravel())),
                          shape=(model.n_users, model.n_items * n_ch))
    votes.eliminate_zeros()
    target = unit_rows(model.content.at(users, np.asarray(times, np.int64), int(model.params["window"])))
    weights = np.concatenate([np.full((n, 1), floor, np.float32), (1.0 - floor) * target], axis=1)
    uniq, inv = np.unique(users, return_inverse=True)
    channels = np.asarray((model.neighbours[uniq] @ votes).todense(), dtype=np.float32)
    channels = channels.reshape(len(uniq), model.n_items, n_ch)[inv]
    picked = np.take_along_axis(channels, items[:, :, None], axis=1)
    return np.einsum("ckd,cd->ck", picked, weights)


def random_model(seed: int = 5, n_users: int = 60, n_items: int = 40, n_emotions: int = 4, n_plays: int = 900,
                 **params: object) -> tuple[UCFE, np.random.Generator]:
    """Random plays and posts; the last user never plays (no neighbours), tracks by a skewed popularity."""
    rng = np.random.default_rng(seed)
    n_posts = 400
    users, items = rng.integers(0, n_users - 1, n_plays), rng.zipf(1.5, n_plays) % n_items
    times = rng.integers(0, 1_000, n_plays)
    emo = rng.random((n_posts, n_emotions)) * (rng.random((n_posts, n_emotions)) < 0.4)
    content = EmotionContent(rng.integers(0, n_users, n_posts), rng.integers(0, 1_200, n_posts),
                             emo.astype(np.float32), rng.integers(200, 1_000, n_users),
                             [f"emo7_{c}" for c in range(n_emotions)])
    data = TrainData(n_users, n_items, users, items, times, content=content)
    return UCFE(**{"k": 7, "emotion_floor": 0.3, "window": 100, **params}).fit(data), rng


def only_path(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """Make the other scoring path fail, so a test knows which one it checked."""
    other = "_score_dense" if path == "candidates" else "_score_candidates"

    def fail(*args: object) -> None:
        raise AssertionError(f"{other} used")

    monkeypatch.setattr(UCFE, other, fail)


@pytest.mark.parametrize("budget_mb", [256, 0])  # one chunk; one case per chunk
def test_candidate_scores_match_the_dense_scores(monkeypatch: pytest.MonkeyPatch, budget_mb: int) -> None:
    model, rng = random_model(n_items=400, n_plays=3_000, score_budget_mb=budget_mb)
    only_path(monkeypatch, "candidates")
    users = np.r_[rng.integers(0, 60, 30), [3, 3, 3, 8, 8, 59]]  # repeated users; 59 has no neighbours
    times = rng.integers(0, 1_300, len(users))
    items = rng.choice(model.pair_item, (len(users), 9))
    items[0] = items[0, 0]  # the same candidate several times in a row
    got = model.score(users, items, times)
    assert got.shape == items.shape and got.dtype == np.float32 and (got > 0).mean() > 0.2
    assert (got[-1] == 0).all()
    np.testing.assert_allclose(got, dense_reference_score(model, users, items, times), rtol=1e-6, atol=1e-7)
    flat = model.score(users, items[:, 0], times)  # (n,) items: one candidate per case
    assert flat.shape == (len(users), 1)
    np.testing.assert_allclose(flat, dense_reference_score(model, users, items[:, 0], times), rtol=1e-6,
                               atol=1e-7)
    none = model.score(users[:0], items[:0], times[:0])
    assert none.shape == (0, 9)


def test_full_catalogue_rows_match_the_dense_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    model, rng = random_model(seed=6)
    only_path(monkeypatch, "dense")
    users = np.r_[rng.integers(0, 60, 12), [59]]
    times = rng.integers(0, 1_300, len(users))
    everything = np.broadcast_to(np.arange(40), (len(users), 40))  # how full ranking calls it (read-only)
    got = model.score(users, everything, times)
    assert (got > 0).mean() > 0.2
    np.testing.assert_allclose(got, dense_reference_score(model, users, everything, times), rtol=1e-6, atol=1e-7)
