"""Segmentation, language choice, parts of speech, categories and macro statistics."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from amae.features.text import TextFeatureConfig
from amae.features.text.handcrafted import HandcraftedFeaturizer
from amae.features.text.prepare import prepare_posts
from amae.features.text.tokenize import cjk_share, token_kind, tokenize
from tests_helpers import as_counts

CASE_STUDY_NAMES = ["emo7_happiness", "pron_first_singular", "topic_home", "macro_chars", "emo2_positive",
                    "emo21_PA", "cog_insight", "negation", "pos_noun", "macro_urls"]  # fmt: skip


@pytest.fixture(scope="module")
def fz(shared_data: Path) -> HandcraftedFeaturizer:
    return HandcraftedFeaturizer(
        TextFeatureConfig(dutir_path=str(shared_data / "dutir" / "dutir_emotion_ontology.csv"))
    )


def feats(fz: HandcraftedFeaturizer, posts: list[str]) -> pd.DataFrame:
    p = prepare_posts(posts, fz.config)
    return as_counts(pd.DataFrame(fz.transform(p.texts, p.tokens, p.is_zh, p.cjk), columns=fz.columns))


def test_special_tokens_stay_whole() -> None:
    toks = tokenize("看 http://t.cn/A6x 和 @李雷 #周末愉快# [哈哈] 😂", True)
    assert toks == ["看", "http://t.cn/A6x", "和", "@李雷", "#周末愉快#", "[哈哈]", "😂"]
    kinds = [token_kind(t) for t in toks]
    assert kinds == ["word", "url", "word", "mention", "hashtag", "emoji", "emoji"]
    en = tokenize("Don't STOP me now... #Queen :) www.x.com 👩‍👩‍👧", False)
    assert en == ["don't", "stop", "me", "now", "...", "#queen", ":)", "www.x.com", "👩‍👩‍👧"]


def test_language_by_cjk_share() -> None:
    assert cjk_share("今天天气好") == 1.0 and cjk_share("hello") == 0.0 and cjk_share("123 !!") == 0.0
    p = prepare_posts(["今天天气很好 ok", "ok ok ok ok ok ok ok ok 好", None], TextFeatureConfig())
    assert p.is_zh.tolist() == [True, False, False]


def test_case_study_names_exist(fz: HandcraftedFeaturizer) -> None:
    for name in CASE_STUDY_NAMES:
        assert name in fz.columns, name
    assert len(set(fz.columns)) == len(fz.columns)


def test_pronouns_topics_cognition_and_pos(fz: HandcraftedFeaturizer) -> None:
    df = feats(fz, ["我和妈妈在家", "我们因为考试可能去学校", "I think my mom is home", "他们 they"])
    assert df.loc[0, "pron_first_singular"] == pytest.approx(1 / 4)  # 我/和/妈妈/在家? see tokens
    assert df.loc[0, "topic_home"] > 0
    assert df.loc[1, "pron_first_plural"] > 0 and df.loc[1, "cog_causation"] > 0
    assert df.loc[1, "cog_tentative"] > 0 and df.loc[1, "topic_school"] > 0
    assert df.loc[2, "cog_insight"] == pytest.approx(1 / 6) and df.loc[2, "topic_home"] == pytest.approx(2 / 6)
    assert df.loc[3, "pron_third"] == 1.0
    assert df.loc[0, "pos_pronoun"] > 0 and df.loc[0, "pos_noun"] > 0
    pos_cols = [c for c in fz.columns if c.startswith("pos_")]
    assert df.loc[:, pos_cols].sum(axis=1).round(6).tolist() == [1.0, 1.0, 1.0, 1.0]


def test_punctuation_and_macro(fz: HandcraftedFeaturizer) -> None:
    text = "真的吗？？太好了！……我不信。Really?! See https://a.b/c @bob #wow"
    df = feats(fz, [text])
    row = df.iloc[0]
    assert row["macro_chars"] == len(text)
    assert row["punct_question"] == 3 and row["punct_exclamation"] == 2 and row["punct_ellipsis"] == 1
    assert row["macro_sentences"] == 5
    assert row[["macro_urls", "macro_mentions", "macro_hashtags"]].tolist() == [1, 1, 1]
    assert row["negation"] > 0
