"""UserPop: the user's own tracks by play count first, then the catalogue by popularity."""

from __future__ import annotations

import numpy as np

from amae.models import REGISTRY, TrainData


def test_own_tracks_by_plays_then_popularity() -> None:
    # user 0 played track 3 twice and track 1 once; track 2 is the most popular overall
    users = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    items = np.array([3, 3, 1, 2, 2, 0, 2, 0])
    model = REGISTRY["userpop"]().fit(TrainData(3, 5, users, items, np.arange(8)))
    order = np.argsort(-model.score(np.array([0]), np.arange(5)[None, :])[0], kind="stable")
    assert order.tolist() == [3, 1, 2, 0, 4]
    # tracks a user never played score their popularity (user 1 never played 3 or 4)
    fresh = model.score(np.array([1, 2]), np.array([[4, 3], [4, 3]]))
    assert fresh[0, 1] == model.popularity[3] and fresh[0, 0] == model.popularity[4]
