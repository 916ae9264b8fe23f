"""The synthetic world's posts of realistic length (``amae world --long-posts``): a long tail of
everyday words around the same mood words, with the listening and moods of the short-post world."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from amae.data.synthetic import EMOTION_WORDS, WorldConfig, WorldTruth, generate_world
from tests_helpers import run_cli


def test_long_posts_keep_the_world_and_its_mood_words(tmp_path: Path) -> None:
    short, long = tmp_path / "short", tmp_path / "long"
    cfg = WorldConfig(n_users=20, n_days=8, image_share=0.0, n_videos=0, seed=3)
    generate_world(short, cfg)
    generate_world(long, replace(cfg, realistic_text=True))
    pd.testing.assert_frame_equal(pd.read_parquet(short / "interactions.parquet"),
                                  pd.read_parquet(long / "interactions.parquet"))
    a, b = WorldTruth.load(short), WorldTruth.load(long)
    assert a is not None and b is not None and np.array_equal(a.mood, b.mood)
    p_short, p_long = pd.read_parquet(short / "posts.parquet"), pd.read_parquet(long / "posts.parquet")
    assert p_short["timestamp"].equals(p_long["timestamp"]) and p_short["user_id"].equals(p_long["user_id"])
    lengths = p_long["text"].dropna().str.len()
    assert p_short["text"].dropna().str.len().max() < 80
    assert lengths.median() < 80 and lengths.max() > 280  # mostly a sentence, a tail of long posts
    # Each post still carries two words of its author's day mood, wherever they landed.
    words = {w for per_mood in EMOTION_WORDS.values() for ws in per_mood.values() for w in ws}
    for s, t in zip(p_short["text"], p_long["text"], strict=True):
        if not isinstance(s, str):  # a post without text stays without
            assert not isinstance(t, str)
            continue
        mood_in = [w for w in words if w in s]
        assert all(w in t for w in mood_in)


def test_world_command_writes_long_posts(tmp_path: Path) -> None:
    code, output = run_cli("world", tmp_path / "w", "--users", 12, "--days", 6, "--long-posts")
    assert code == 0, output
    assert pd.read_parquet(tmp_path / "w" / "posts.parquet")["text"].dropna().str.len().max() > 150
