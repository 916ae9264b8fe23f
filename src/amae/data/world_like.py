"""A synthetic world shaped like a workspace's data, with a planted effect of chosen size.

``amae world OUT --like WS --effect S`` answers "what could `amae experiment` see on data like
mine?": the world has the workspace's users, tracks, time span, listens per user, share of
listens with a post in the 24 h before them, share of posts with media and share of re-listens,
and listening driven by the mood the posts reveal with strength ``S`` (0: a null world of the
same shape). Running the experiment on it shows the power the user's own data give.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from amae.data.contract import Dataset
from amae.data.io import DataError
from amae.data.ranges import window_counts
from amae.data.synthetic import DAY, WorldConfig, simulate_listening

#: the context window whose coverage the world copies (the AMAE default)
WINDOW_SECONDS = 86_400
#: the highest coverage the generator is asked for (posts per day grow as -log(1 - share))
MAX_COVERAGE = 0.99


def relisten_share(users: np.ndarray, items: np.ndarray, times: np.ndarray) -> float:
    """Share of listens whose (user, track) was played by that user before."""
    if len(users) == 0:
        return 0.0
    order = np.lexsort((times, items, users))
    u, i = users[order], items[order]
    return float(((u[1:] == u[:-1]) & (i[1:] == i[:-1])).sum() / len(users))


def window_coverage(users: np.ndarray, times: np.ndarray, post_users: np.ndarray, post_times: np.ndarray,
                    window: int = WINDOW_SECONDS) -> float:
    """Share of listens with a post of the same user in the ``window`` seconds before it."""
    if len(users) == 0:
        return 0.0
    return float((window_counts(post_users, post_times, users, times, window) > 0).mean())


def measure_shape(dataset: Dataset) -> dict[str, Any]:
    """The shape of a dataset that a world can copy (what ``--like`` reads)."""
    if not dataset.has_content:
        raise DataError(f"{dataset.root}: the data have no posts, so there is no content effect to plant "
                        "(amae world --like needs a workspace with posts)")
    inter, posts = dataset.interactions, dataset.posts
    users, items = inter["user_idx"].to_numpy(np.int64), inter["item_idx"].to_numpy(np.int64)
    times = inter["timestamp"].to_numpy(np.int64)
    span = max(int(times.max() - times.min()), 1)
    days = max(2, math.ceil(span / DAY))
    return {"users": dataset.n_users, "tracks": dataset.n_items, "listens": len(inter), "days": days,
            "listens per user-day": len(inter) / (dataset.n_users * days),
            "listens with a post in the 24 h before": window_coverage(
                users, times, posts["user_idx"].to_numpy(np.int64), posts["timestamp"].to_numpy(np.int64)),
            "posts with media": float((posts["media"].map(lambda m: m is not None and len(m) > 0)).mean()),
            "re-listens": relisten_share(users, items, times)}


def like_config(shape: dict[str, Any], effect: float, seed: int = 0) -> WorldConfig:
    """A :class:`WorldConfig` with ``shape`` and a planted mood effect of ``effect``."""
    coverage = min(float(shape["listens with a post in the 24 h before"]), MAX_COVERAGE)
    cfg = replace(WorldConfig(), n_users=int(shape["users"]), n_items=int(shape["tracks"]), n_days=int(shape["days"]),
                  listens_per_day=float(shape["listens per user-day"]), posts_per_day=-math.log(1.0 - coverage),
                  image_share=float(shape["posts with media"]), n_videos=0, mood_strength=float(effect), seed=seed)
    return replace(cfg, relisten=_relisten_for(cfg, float(shape["re-listens"])))


def _relisten_for(cfg: WorldConfig, target: float, steps: int = 12) -> float:
    """The ``relisten`` chance whose world re-plays ``target`` of its listens, by bisection on the
    listening alone (the generator's fresh choices re-play some tracks too, fewer as copies grow)."""
    if relisten_share(*simulate_listening(cfg)) >= target:
        return 0.0
    lo, hi = 0.0, 0.99
    for _ in range(steps):
        mid = (lo + hi) / 2
        if relisten_share(*simulate_listening(replace(cfg, relisten=mid))) < target:
            lo = mid
        else:
            hi = mid
    return round((lo + hi) / 2, 4)


def describe(cfg: WorldConfig) -> dict[str, Any]:
    return {k: v for k, v in asdict(cfg).items()
            if k in ("n_users", "n_items", "n_days", "listens_per_day", "posts_per_day", "image_share", "relisten",
                     "mood_strength", "seed")}
