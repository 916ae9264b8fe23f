"""Bad input never stops a run: None/NaN, invalid UTF-8, huge posts, emoji only, mixed scripts."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amae.features.text import TextBatchExtractor, TextFeatureConfig
from amae.features.text.normalize import clean_text
from tests_helpers import as_counts


@pytest.fixture(scope="module")
def extractor(shared_data: Path) -> TextBatchExtractor:
    csv = shared_data / "dutir" / "dutir_emotion_ontology.csv"
    return TextBatchExtractor(None, TextFeatureConfig(dutir_path=str(csv), max_chars=1000))


def run(extractor: TextBatchExtractor, posts: list) -> tuple[pd.DataFrame, dict]:
    res = extractor(pd.DataFrame({"text": pd.Series(posts, dtype=object)}))
    x = res.blocks["text_h"]
    assert x.dtype == np.float32 and x.shape == (len(posts), len(extractor.feature_names["text_h"]))
    assert np.isfinite(x).all()
    return as_counts(pd.DataFrame(x, columns=extractor.feature_names["text_h"])), res.flags


def test_empty_and_missing(extractor: TextBatchExtractor) -> None:
    df, flags = run(extractor, [None, math.nan, "", "   ", pd.NA, np.float64("nan")])
    assert flags["text_empty"].all()
    assert (df.drop(columns=["macro_chars"]).to_numpy() == 0).all()


def test_invalid_utf8_bytes_and_surrogates(extractor: TextBatchExtractor) -> None:
    surrogate = b"caf\xe9 \xff great".decode("utf-8", "surrogateescape")
    lone = "ok \ud800 fine"
    df, flags = run(extractor, [b"\xff\xfe\xfa broken \xe5\xbc", surrogate, lone, "开心".encode(), "fine"])
    assert flags["text_invalid_utf8"].tolist() == [True, True, True, False, False]
    assert df.loc[3, "emo7_happiness"] > 0  # valid bytes are decoded, not dropped
    assert df.loc[1, "macro_tokens"] >= 2


def test_clean_text_cases() -> None:
    assert clean_text(None, 10).empty and clean_text(float("nan"), 10).empty
    c = clean_text("x" * 50, 10)
    assert c.truncated and c.text == "x" * 10
    c = clean_text(("é" * 100).encode(), 10)  # multi-byte chars cut at the byte level
    assert c.text == "é" * 10 and c.truncated and not c.invalid_utf8
    assert clean_text("a\x00b", 10).text == "a b"
    assert clean_text(123, 10).text == "123"


def test_one_megabyte_post_is_truncated_and_flagged(extractor: TextBatchExtractor) -> None:
    huge = ("我今天很开心！" * 150_000)[:1_000_000]
    assert len(huge.encode()) > 1_000_000
    df, flags = run(extractor, [huge, huge.encode(), "short"])
    assert flags["text_truncated"].tolist() == [True, True, False]
    assert df.loc[0, "macro_chars"] == 1000 and df.loc[1, "macro_chars"] == 1000
    assert df.loc[0, "emo7_happiness"] > 0


def test_emoji_only_and_mixed_scripts(extractor: TextBatchExtractor) -> None:
    posts = ["😀😀😭", "今天听了Taylor Swift的新歌 so good!!! 😍 #音乐# @小王 http://t.cn/xyz",
             "Привет мир 123", "I ❤️ 北京 and music"]  # fmt: skip
    df, flags = run(extractor, posts)
    assert df.loc[0, "macro_emoji"] == 3 and df.loc[0, "emo7_sadness"] == pytest.approx(1 / 3)
    assert flags["text_lang_zh"].tolist() == [False, True, False, False]
    assert df.loc[1, ["macro_hashtags", "macro_mentions", "macro_urls", "macro_emoji"]].tolist() == [1, 1, 1, 1]
    assert df.loc[1, "topic_music"] > 0 and df.loc[3, "topic_music"] > 0
    assert df.loc[2, "macro_tokens"] == 3


def test_missing_text_column_and_pickle(extractor: TextBatchExtractor) -> None:
    res = extractor(pd.DataFrame({"post_idx": [0, 1]}))
    assert res.flags["text_empty"].all()
    blob = pickle.dumps(extractor)
    assert len(blob) < 5000  # heavy state is not shipped
    clone = pickle.loads(blob)
    a = clone(pd.DataFrame({"text": ["开心的一天"]})).blocks["text_h"]
    b = extractor(pd.DataFrame({"text": ["开心的一天"]})).blocks["text_h"]
    np.testing.assert_array_equal(a, b)
