"""The linear-time VADER (``amae.features.text.vader_fast``) gives exactly the installed package's scores:
the same ``polarity_scores`` dict, float for float, on a varied corpus and on long posts, and the same
``text_h`` features when the featurizer uses it."""

from __future__ import annotations

import random

import numpy as np
import pytest
from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE, SPECIAL_CASES, SentimentIntensityAnalyzer

from amae.features.text import TextFeatureConfig
from amae.features.text.handcrafted import HandcraftedFeaturizer
from amae.features.text.prepare import prepare_posts
from amae.features.text.vader_fast import FastSentimentIntensityAnalyzer, _but_check_linear

SENTENCES = [
    "", " ", "   \n\t ", "!!!", "?", "a", "good", "GOOD", "not good", "Not good at all", "never so bad",
    "never this good!", "It has never been good.", "isn't great", "is NOT great", "wasn't bad", "no love",
    "no good or bad", "no, not at all", "nor happy", "without doubt excellent", "Without a doubt, excellent idea.",
    "The plot was good, but the characters are uncompelling and the dialog is not great.",
    "great good but bad", "bad but bad but good", "I love it BUT it broke", "but", "good but", "but good",
    "love love love but hate", "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
    "VADER is smart, handsome, and funny?!?!", "is this good???", "is this good??", "sort of good",
    "The book was only kind of good.", "kind of", "kind", "Today only kinda sux! But I'll get by, lol",
    "it is the shit", "the bomb", "that was bad ass", "VADER is such a badass!", "yeah right, great",
    "the kiss of death", "a cake to die for", "my beating heart", "next bus stop please", "cut the mustard",
    "At least it isn't a horrible book.", "one of the least compelling variations", "least good",
    "at least good", "very least good", "the least", "extremely happy", "barely happy", "hardly bad",
    "just enough good", "ABSOLUTELY HORRIBLE day", "so so so happy", "Make sure you :) or :D today!",
    ":( :-( </3 <3 ;)", "Catch utf-8 emoji such as 💘 and 💋 and 😁", "😀😂😍 😭😡👍", "a😀b", "😀 😀  😀",
    "I❤️NY", "🇺🇸 flags 🏳️‍🌈", "我很惊讶地看到VADER是如此有用!", "我 今天 很 开心 😀 但是 有点 难过",
    "Je suis surpris de voir comment VADER est incroyablement utile !", "Я удивлен, как полезно!",
    "İstanbul ΣΊΣΥΦΟΣ ß straße", "don't dont cant can't won't uh-uh nope", "DESPITE good reviews, bad",
    "rarely good, seldom bad", "I aint happy", "I'm not un-happy", "LOL!!! OMG :)))", "good!!!!!!!!",
]  # fmt: skip

_VOCAB = (
    ["good", "bad", "happy", "sad", "love", "hate", "great", "horrible", "but", "BUT", "no", "No", "or", "nor",
     "least", "at", "very", "kind", "of", "never", "so", "this", "without", "doubt", "the", "shit", "bomb",
     "right", "yeah", "die", "for", "to", "ass", "stop", "bus", "GREAT", "Bad", "!", "?", ":)", ":(", "<3",
     "lol", "😀", "😭", "💔", "music", "song", "a", "is", "it", "我", "开心", "word,", "(happy)", "...good"]
    + sorted(BOOSTER_DICT)[:40] + list(NEGATE)[:20] + [w for k in SPECIAL_CASES for w in k.split()]
)  # fmt: skip


@pytest.fixture(scope="module")
def analyzers() -> tuple[SentimentIntensityAnalyzer, FastSentimentIntensityAnalyzer]:
    return SentimentIntensityAnalyzer(), FastSentimentIntensityAnalyzer()


def _random_posts(n: int, max_words: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(_VOCAB) for _ in range(rng.randint(1, max_words))) for _ in range(n)]


def _assert_same(orig: SentimentIntensityAnalyzer, fast: FastSentimentIntensityAnalyzer, text: str) -> None:
    want, got = orig.polarity_scores(text), fast.polarity_scores(text)
    assert got == want, text[:200]
    assert [(k, repr(v)) for k, v in got.items()] == [(k, repr(v)) for k, v in want.items()], text[:200]


@pytest.mark.parametrize("text", SENTENCES)
def test_same_scores_on_sentences(analyzers, text: str) -> None:
    _assert_same(*analyzers, text)


def test_same_scores_on_random_short_posts(analyzers) -> None:
    for text in _random_posts(600, 25, seed=0):
        _assert_same(*analyzers, text)


def test_same_scores_on_long_posts(analyzers) -> None:
    rng = random.Random(1)
    long_posts = _random_posts(2, 2500, seed=2)
    long_posts.append(" ".join(rng.choice(SENTENCES) for _ in range(400)))
    long_posts.append("not happy! " * 600)
    long_posts.append("".join(rng.choice("😀😂😍😭😡👍💔🎵🔥✨") for _ in range(600)))
    long_posts.append("".join(rng.choice("我今天很开心但是也有点难过因为音乐太好听了。，！😀 ") for _ in range(3000)))
    for text in long_posts:
        _assert_same(*analyzers, text)


def test_but_check_keeps_first_equal_value_semantics() -> None:
    """The original rescales the first position holding an equal value, not always the current one."""
    words = ["x", "y", "but", "z", "w"]
    for sentiments in ([4, 2, 0, 1, 3], [4.0, 2.0, 0, 6.0, 4.0], [0, 0, 0, 0, 0], [1, 1, 0, 1.5, 1]):
        want = SentimentIntensityAnalyzer._but_check(words, list(sentiments))
        got = _but_check_linear(words, list(sentiments))
        assert [repr(v) for v in got] == [repr(v) for v in want], sentiments
    assert _but_check_linear(["x", "y", "but", "z", "w"], [4, 2, 0, 1, 3]) == [0.5, 2, 0, 1, 4.5]


def test_featurizer_uses_fast_vader_and_features_are_unchanged(tmp_path) -> None:
    path = tmp_path / "dutir.csv"
    path.write_text("词语,词性种类,词义数,词义序号,情感分类,强度,极性,辅助情感分类,强度,极性\n开心,adj,1,1,PA,5,1,,,\n")
    cfg = TextFeatureConfig(dutir_path=str(path))
    posts = SENTENCES[:40] + _random_posts(20, 60, seed=3) + ["not happy! " * 300]
    prep = prepare_posts(posts, cfg)
    fast_fz, orig_fz = HandcraftedFeaturizer(cfg), HandcraftedFeaturizer(cfg)
    orig_fz._vader = SentimentIntensityAnalyzer()
    got = fast_fz.transform(prep.texts, prep.tokens, prep.is_zh, prep.cjk)
    want = orig_fz.transform(prep.texts, prep.tokens, prep.is_zh, prep.cjk)
    assert isinstance(fast_fz._vader, FastSentimentIntensityAnalyzer)
    vader_cols = [fast_fz.col[c] for c in ("vader_neg", "vader_neu", "vader_pos", "vader_compound")]
    assert np.abs(want[:, vader_cols]).sum() > 0  # English posts were scored
    np.testing.assert_array_equal(got, want)
