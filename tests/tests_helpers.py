"""Small shared builders for tests (kept tiny so the suite stays fast)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def toy_world_interactions(n_users: int = 60, n_items: int = 150, per_user: int = 25,
                           seed: int = 0) -> tuple[pd.DataFrame, int, int]:
    """Users in two taste groups so collaborative models have something to learn."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    group = users % 2
    items = np.where(rng.random(len(users)) < 0.8, group * (n_items // 2) + rng.integers(0, n_items // 2, len(users)),
                     rng.integers(0, n_items, len(users)))
    inter = pd.DataFrame({"user_idx": users, "item_idx": items, "timestamp": rng.integers(0, 10**6, len(users))})
    return inter, n_users, n_items
