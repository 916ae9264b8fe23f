"""No test-period text in any fitted text statistic: Word2Vec, SIF frequencies and component, SDAE vocabulary.

Each user's posts after *their own* training cutoff carry a planted word; before the fix the cutoff
was the latest training time of any user, which took in nearly all of those posts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amae.content.words import BagOfWords
from amae.data.synthetic import WorldConfig, generate_world
from amae.data.workspace import ingest
from amae.features.extract import load_group
from amae.features.pipeline import extract_features, training_posts_mask
from amae.features.text import TextModel
from amae.protocol.split import split_interactions

LEAK, KEPT = "zzleakword", "zzkeptword"


def _planted_world(root: Path) -> Path:
    """A text-only world where every post after its author's cutoff says LEAK, every earlier one KEPT."""
    generate_world(root / "world", WorldConfig(n_users=30, n_days=14, image_share=0.0, n_videos=0, seed=3))
    probe = ingest(root / "world", root / "probe")
    sp = split_interactions(probe.interactions, probe.n_items, seed=0)
    posts = probe.posts
    after = ~training_posts_mask_from(sp.train_end, posts["user_idx"].to_numpy(), posts["timestamp"].to_numpy())
    raw = pd.read_parquet(root / "world" / "posts.parquet")
    leak_ids = set(posts["post_id"][after].astype(str))
    word = np.where(raw["post_id"].astype(str).isin(leak_ids), LEAK, KEPT)
    raw["text"] = raw["text"].fillna("") + " " + word
    raw.to_parquet(root / "world" / "posts.parquet")
    # Both kinds must be frequent enough for Word2Vec's min count, and the old global cutoff
    # (the latest training time of anyone) must have let most leak posts in.
    assert after.sum() >= 20 and (~after).sum() >= 20
    old_cutoff = sp.train_end.max()
    assert (posts["timestamp"].to_numpy()[after] <= old_cutoff).mean() > 0.5
    return root / "world"


def training_posts_mask_from(train_end: np.ndarray, users: np.ndarray, times: np.ndarray) -> np.ndarray:
    return np.asarray(times, np.int64) <= train_end[np.asarray(users, np.int64)]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("leak")
    ws = root / "ws"
    dataset = ingest(_planted_world(root), ws)
    extract_features(ws, "text", {}, n_jobs=1, progress=False)  # before any split: fitted on all posts
    before = TextModel.load(ws / "features" / "text" / "model")
    assert LEAK in before.index  # without a split every post is training text
    (ws / "before_text_d.npy").write_bytes(np.ascontiguousarray(load_group(ws / "features", "text_d")[0]).tobytes())
    split_interactions(dataset.interactions, dataset.n_items, seed=0).save(ws / "split")
    extract_features(ws, "text", {}, n_jobs=1, progress=False)  # the split changed: refit, re-extract
    return ws


def test_test_period_words_are_not_in_word2vec_or_sif(workspace: Path) -> None:
    model = TextModel.load(workspace / "features" / "text" / "model")
    assert LEAK not in model.index and KEPT in model.index
    assert len(model.word_prob) == len(model.vocab)  # SIF's p(w) covers exactly the training vocabulary
    corpus = json.loads((workspace / "features" / "text" / "model" / "corpus.json").read_text())
    posts = pd.read_parquet(workspace / "data" / "posts.parquet")
    mask, _ = training_posts_mask(workspace, posts["user_idx"].to_numpy(), posts["timestamp"].to_numpy())
    assert corpus["n_posts"] == int(mask.sum())  # the SIF component was fitted on these posts only
    assert not posts["text"][mask].str.contains(LEAK).any()


def test_features_made_before_the_split_are_refitted(workspace: Path) -> None:
    before = np.frombuffer((workspace / "before_text_d.npy").read_bytes(), dtype=np.float32)
    after = np.ascontiguousarray(load_group(workspace / "features", "text_d")[0]).ravel()
    assert before.shape == after.shape and not np.allclose(before, after)


def test_sdae_vocabulary_has_no_test_period_word(workspace: Path) -> None:
    from amae.data.workspace import load_workspace
    from amae.experiments.runs import load_split

    bag = BagOfWords.build(workspace, load_workspace(workspace), load_split(workspace), max_vocab=20_000)
    assert LEAK not in bag.vocabulary and KEPT in bag.vocabulary
