"""Word2Vec + SIF: component removal, save/load identity, repeatability, unknown-word posts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amae.features.text import TextBatchExtractor, TextFeatureConfig, TextModel, fit_text_model
from amae.features.text.deep import first_singular_vector

CORPUS = [
    "我今天很开心，和朋友一起去听音乐会",
    "今天下雨了，我很难过",
    "朋友送我一张专辑，太开心了",
    "工作好累，老板又让加班",
    "I love this song so much",
    "this song makes me sad today",
    "my friend and I went to a concert today",
    "work is so tiring today",
] * 6
CFG = TextFeatureConfig(w2v_dim=16, w2v_min_count=2, w2v_epochs=3, workers=1, seed=7)


@pytest.fixture(scope="module")
def model() -> TextModel:
    return fit_text_model(CORPUS, CFG)


def test_sif_component_is_removed_and_saved_unit_vector(model: TextModel) -> None:
    emb, none_known = model.embed(CORPUS)
    assert emb.shape == (len(CORPUS), 16) and emb.dtype == np.float32 and not none_known.any()
    assert np.linalg.norm(model.component) == pytest.approx(1.0)
    assert np.abs(emb @ model.component).max() < 1e-5
    assert np.abs(emb).max() > 1e-3  # not trivially zero
    raw, _ = model.sif_raw([["开心"]])
    assert abs(float(raw[0] @ model.component)) > 0  # the raw embedding did have the component


def test_sif_weights_and_probabilities(model: TextModel) -> None:
    assert model.word_prob.sum() <= 1.0 + 1e-9 and (model.word_prob > 0).all()
    a = CFG.sif_a
    np.testing.assert_allclose(model.weights, a / (a + model.word_prob))
    i = model.index["开心"]
    raw, _ = model.sif_raw([["开心", "not-in-vocab"]])
    np.testing.assert_allclose(raw[0], model.weights[i] * model.vectors[i].astype(np.float64), rtol=1e-6)


def test_same_post_identical_in_training_and_after_save_load(model: TextModel, tmp_path: Path) -> None:
    before, _ = model.embed(CORPUS[:8])
    model.save(tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["component.npy", "model.json", "vectors.npy", "vocab.json", "word_prob.npy"]
    assert json.loads((tmp_path / "m" / "vocab.json").read_text(encoding="utf-8")) == model.vocab
    loaded = TextModel.load(tmp_path / "m")
    after, _ = loaded.embed(CORPUS[:8])
    np.testing.assert_array_equal(before, after)
    ext = TextBatchExtractor(tmp_path / "m", CFG)
    res = ext(pd.DataFrame({"text": CORPUS[:8]}))
    np.testing.assert_array_equal(res.blocks["text_d"], before)
    assert ext.feature_names["text_d"][:2] == ["w2v_000", "w2v_001"] and len(ext.feature_names["text_d"]) == 16
    assert ext.metadata["w2v"]["dim"] == 16 and ext.metadata["w2v"]["sif_a"] == CFG.sif_a


def test_training_is_repeatable_with_one_worker(model: TextModel) -> None:
    again = fit_text_model(CORPUS, CFG)
    assert again.vocab == model.vocab
    np.testing.assert_array_equal(again.vectors, model.vectors)
    np.testing.assert_array_equal(again.component, model.component)


def test_post_without_known_word_gets_zeros_and_flag(model: TextModel, tmp_path: Path) -> None:
    model.save(tmp_path / "m")
    res = TextBatchExtractor(tmp_path / "m", CFG)(
        pd.DataFrame({"text": ["完全陌生的词汇组合", None, "", "🙃", "I love this song"]})
    )
    assert res.flags["text_d_no_known_word"].tolist() == [True, True, True, True, False]
    assert (res.blocks["text_d"][:4] == 0).all() and np.abs(res.blocks["text_d"][4]).sum() > 0


def test_fit_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="no tokens"):
        fit_text_model([None, "", "!!!"], CFG)
    with pytest.raises(ValueError, match="min_count"):
        fit_text_model(["独一无二"], CFG)


def test_first_singular_vector_matches_svd() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 6)) + 2.0
    u = first_singular_vector(x)
    vt = np.linalg.svd(x, full_matrices=False)[2][0]
    assert abs(abs(float(u @ vt)) - 1.0) < 1e-9
