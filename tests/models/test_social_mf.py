"""MF_S and PMF_S on a hand-made world: two tastes, each with its own vocabulary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from amae.content.words import user_bag_of_words
from amae.data.io import DataError
from amae.models.base import TrainData
from amae.models.social_mf import MFS, PMFS
from amae.training import fit

ROCK = "rock guitar loud stage drums"
JAZZ = "jazz piano smooth saxophone club"
N_PER_GROUP = 12
# users 0..11 rock fans (tracks 0-4), 12..23 jazz fans (tracks 5-9);
# 24 and 25: rock text, one play each of different tracks (no overlap); 26: rock text, no plays
X, Y, COLD = 24, 25, 26
N_USERS, N_ITEMS = 27, 10
FAST = {"dim": 8, "epochs": 25, "lr": 0.02, "progress": False, "sdae_sizes": [16, 4], "sdae_epochs": 80,
        "sdae_lr": 0.01, "sdae_batch_size": 32}


def world() -> TrainData:
    rng = np.random.default_rng(0)
    users, items = [], []
    for u in range(2 * N_PER_GROUP):
        lo = 0 if u < N_PER_GROUP else 5
        for m in rng.choice(np.arange(lo, lo + 5), 4, replace=False):
            users.append(u)
            items.append(int(m))
    users += [X, Y]
    items += [0, 1]
    text = {u: (ROCK if u < N_PER_GROUP or u >= X else JAZZ) for u in range(N_USERS)}
    bow = user_bag_of_words(np.arange(N_USERS), [text[u] for u in range(N_USERS)], N_USERS)
    users_a = np.array(users, np.int64)
    return TrainData(N_USERS, N_ITEMS, users_a, np.array(items, np.int64), np.arange(len(users_a)),
                     content=bow, seed=0)


def all_scores(model: MFS | PMFS, who: list[int]) -> np.ndarray:
    items = np.tile(np.arange(N_ITEMS), (len(who), 1))
    return model.score(np.array(who), items, np.zeros(len(who), np.int64))


@pytest.fixture(scope="module")
def mf_s() -> MFS:
    return fit(MFS(**FAST), world())


def test_mf_s_users_with_identical_text_and_no_overlap_score_alike(mf_s: MFS) -> None:
    x, y = all_scores(mf_s, [X, Y])
    assert np.corrcoef(x, y)[0, 1] > 0.8
    for s in (x, y):  # both lean to the rock tracks that neither of them played
        assert s[2:5].mean() > s[5:].mean()


def test_mf_s_cold_user_is_ranked_by_text(mf_s: MFS) -> None:
    (cold,) = all_scores(mf_s, [COLD])
    assert cold[:5].min() > cold[5:].max()


def test_pmf_s_cold_user_gets_the_text_prior() -> None:
    model = fit(PMFS(**FAST, lambda_u=1.0), world())
    (cold,) = all_scores(model, [COLD])
    assert cold[:5].mean() > cold[5:].mean()
    m = model.module
    # the prior pulls a trained user's factors towards the mapped text code
    idx = np.arange(2 * N_PER_GROUP)
    import torch

    with torch.no_grad():
        p, w = m.user.weight[idx], m.text(torch.as_tensor(idx))
    assert float(torch.nn.functional.cosine_similarity(p, w).mean()) > 0.5


def test_save_load_keeps_codes_and_scores(mf_s: MFS, tmp_path: Path) -> None:
    mf_s.save(tmp_path)
    loaded = MFS.load(tmp_path)
    np.testing.assert_array_equal(all_scores(mf_s, [X, Y, COLD]), all_scores(loaded, [X, Y, COLD]))
    assert loaded.sdae_losses == mf_s.sdae_losses and len(loaded.sdae_losses) == FAST["sdae_epochs"]


def test_wrong_content_is_a_clear_error() -> None:
    data = world()
    data.content = None
    with pytest.raises(DataError, match="BagOfWords"):
        fit(MFS(**FAST), data)
