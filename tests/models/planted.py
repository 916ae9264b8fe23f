"""A planted world for the model contract: the answer is known, so "it learns" can be asserted.

Written in the data contract (interactions, posts, items) and put through the ordinary pipeline
(ingest, temporal split, text and visual features), exactly as the README builds a workspace.

What is planted, each with its own knob in :class:`PlantedConfig`:

* **popularity**: a log-normal item popularity (``pop_strength``) that every user shares: what
  ItemPop can learn, and all it can learn;
* **taste clusters**: every user belongs to one genre and prefers its tracks (``taste_strength``):
  what a collaborative model adds over popularity;
* **daily mood** (``mood_strength``): each day a user has one of four moods, written into that
  morning's posts as emotion words, and prefers tracks of that mood when listening that
  afternoon: a contextual signal only a model that reads the last day's posts can use;
* **taste words** (``taste_words``): each post names words of the user's genre (a stable,
  user-level content signal: what a model reading a user's bag of words can use, also for a user
  with no plays).

:func:`noise_twin` writes the same world with every post's text moved to a random other post
(times, users and listening unchanged), so content no longer says anything about listening:
the control for content models that have no ``control`` parameter of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from amae.data.io import write_parquet
from amae.data.synthetic import DAY, EMOTION_WORDS, FILLER, MOODS, START

#: topic words per genre: what a user's posts say about their taste
GENRE_WORDS = (
    ("guitar", "riff", "amplifier", "stage", "drums", "loud"),
    ("piano", "violin", "orchestra", "concerto", "quartet", "symphony"),
    ("beat", "club", "dancefloor", "bass", "remix", "techno"),
    ("banjo", "fiddle", "country", "porch", "harmonica", "prairie"),
    ("saxophone", "trumpet", "swing", "improvise", "lounge", "bebop"),
)


@dataclass(frozen=True)
class PlantedConfig:
    n_users: int = 72
    n_items: int = 200
    n_days: int = 16
    posts_per_day: float = 1.2
    listens_per_day: float = 2.5
    pop_strength: float = 1.0
    taste_strength: float = 2.5
    mood_strength: float = 3.0
    taste_words: int = 2
    seed: int = 0

    @property
    def n_genres(self) -> int:
        return len(GENRE_WORDS)


def _events(rng: np.random.Generator, cfg: PlantedConfig, rate: float, hours: tuple[int, int]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user, day, unix time) of Poisson(``rate``) events per user-day within ``hours``; every user
    gets at least one event on day 0 so nobody is missing from the tables."""
    counts = rng.poisson(rate, (cfg.n_users, cfg.n_days))
    counts[:, 0] = np.maximum(counts[:, 0], 1)
    users, days = np.nonzero(counts)
    reps = counts[users, days]
    user, day = np.repeat(users, reps), np.repeat(days, reps)
    return user, day, START + day * DAY + rng.integers(hours[0] * 3600, hours[1] * 3600, len(user))


def write_planted_world(folder: Path, cfg: PlantedConfig) -> dict[str, np.ndarray]:
    """Write the world's three tables to ``folder``; return the planted truth (for diagnostics)."""
    rng = np.random.default_rng(cfg.seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_moods = len(MOODS)
    item_genre = rng.integers(0, cfg.n_genres, cfg.n_items)
    item_mood = rng.integers(0, n_moods, cfg.n_items)
    item_pop = cfg.pop_strength * rng.normal(0.0, 1.0, cfg.n_items)
    user_genre = np.arange(cfg.n_users) % cfg.n_genres  # balanced clusters
    mood = rng.integers(0, n_moods, (cfg.n_users, cfg.n_days))  # no carry-over: only today's posts tell

    post_user, post_day, post_time = _events(rng, cfg, cfg.posts_per_day, (6, 12))
    texts = []
    for u, d in zip(post_user, post_day, strict=True):
        words = list(rng.choice(FILLER["en"], 3)) + list(rng.choice(EMOTION_WORDS["en"][MOODS[mood[u, d]]], 2))
        words += list(rng.choice(GENRE_WORDS[user_genre[u]], cfg.taste_words))
        texts.append(" ".join(rng.permutation(words)) + ".")

    inter_user, inter_day, inter_time = _events(rng, cfg, cfg.listens_per_day, (12, 24))
    logits = (cfg.taste_strength * (item_genre[None, :] == user_genre[inter_user][:, None])
              + cfg.mood_strength * (item_mood[None, :] == mood[inter_user, inter_day][:, None])
              + item_pop[None, :])
    inter_item = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)

    write_parquet(folder / "interactions.parquet", pd.DataFrame(
        {"user_id": [f"u{u:04d}" for u in inter_user], "item_id": [f"t{i:04d}" for i in inter_item],
         "timestamp": inter_time.astype(np.int64)}))
    write_parquet(folder / "posts.parquet", pd.DataFrame(
        {"post_id": [f"p{i:06d}" for i in range(len(post_user))], "user_id": [f"u{u:04d}" for u in post_user],
         "timestamp": post_time.astype(np.int64), "text": texts, "media": [[] for _ in texts]}))
    write_parquet(folder / "items.parquet", pd.DataFrame(
        {"item_id": [f"t{i:04d}" for i in range(cfg.n_items)], "title": [f"Track {i}" for i in range(cfg.n_items)],
         "artist": [f"Artist {g}" for g in item_genre]}))
    return {"item_genre": item_genre, "item_mood": item_mood, "item_pop": item_pop, "user_genre": user_genre}


def noise_twin(world: Path, twin: Path, seed: int = 0) -> None:
    """``world`` with the post texts permuted over all posts (the content control; see module doc)."""
    twin.mkdir(parents=True, exist_ok=True)
    for name in ("interactions", "items"):
        (twin / f"{name}.parquet").write_bytes((world / f"{name}.parquet").read_bytes())
    posts = pd.read_parquet(world / "posts.parquet")
    posts["text"] = posts["text"].to_numpy(object)[np.random.default_rng(seed).permutation(len(posts))]
    write_parquet(twin / "posts.parquet", posts)


def build_workspace(world: Path, ws: Path) -> Path:
    """Ingest, split (temporal, seed 0) and extract text and visual features, as the README does."""
    from amae.data.workspace import ingest
    from amae.features.pipeline import extract_features
    from amae.protocol.split import split_interactions

    dataset = ingest(world, ws)
    split_interactions(dataset.interactions, dataset.n_items, seed=0).save(ws / "split")
    extract_features(ws, "text", {}, n_jobs=1, progress=False)
    extract_features(ws, "visual", {}, n_jobs=1, progress=False)  # no media: the visual modality stays absent
    return ws
