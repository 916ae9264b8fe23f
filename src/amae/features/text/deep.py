"""Deep text features ``text_d`` (docs/design.md section 4.2): Word2Vec + SIF.

``fit_text_model`` trains gensim Word2Vec on the segmented posts of a dataset, estimates word
probabilities on the same corpus and fits the first singular vector of the SIF embeddings of
the training posts. :class:`TextModel` keeps exactly what is needed to embed any later post the
same way, and stores it as ``.npy`` + JSON (no pickle: safe to load, stable across versions).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .config import TextFeatureConfig
from .prepare import prepare_posts
from .tokenize import PUNCT, token_kind

FORMAT_VERSION = 1


def w2v_tokens(tokens: list[str]) -> list[str]:
    """Tokens that enter Word2Vec and SIF: everything but punctuation."""
    return [t for t in tokens if token_kind(t) != PUNCT]


@dataclass
class TextModel:
    """Word vectors, word probabilities and the SIF component fitted on a training corpus."""

    vocab: list[str]
    vectors: np.ndarray  # float32 (V, dim)
    word_prob: np.ndarray  # float64 (V,)
    component: np.ndarray  # float64 (dim,), unit norm
    params: dict

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.vocab)}
        a = float(self.params["sif_a"])
        self.weights = a / (a + self.word_prob)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def sif_raw(self, token_lists: Sequence[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Weighted mean of in-vocabulary word vectors (before component removal) and the
        boolean mask of posts with no known word."""
        n = len(token_lists)
        rows, cols = [], []
        for i, toks in enumerate(token_lists):
            for t in toks:
                j = self.index.get(t)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
        rows_a = np.asarray(rows, dtype=np.int64)
        cols_a = np.asarray(cols, dtype=np.int64)
        known = np.bincount(rows_a, minlength=n).astype(np.float64)
        vals = self.weights[cols_a] / np.maximum(known[rows_a], 1.0)
        mat = sp.csr_matrix((vals, (rows_a, cols_a)), shape=(n, len(self.vocab)))
        emb = np.asarray(mat @ self.vectors.astype(np.float64))
        return emb, known == 0

    def embed_tokens(self, token_lists: Sequence[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """SIF embeddings (float32, (n, dim)) with the saved component removed, and the
        no-known-word flags (those rows are zeros)."""
        emb, none_known = self.sif_raw([w2v_tokens(t) for t in token_lists])
        emb = emb - np.outer(emb @ self.component, self.component)
        emb[none_known] = 0.0
        return emb.astype(np.float32), none_known

    def embed(self, texts: Sequence[object], config: TextFeatureConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Embed raw posts (cleaned and segmented exactly as at training time)."""
        cfg = config or TextFeatureConfig(**self.params["config"])
        return self.embed_tokens(prepare_posts(texts, cfg).tokens)

    def save(self, directory: str | Path) -> Path:
        """Write ``vectors.npy``, ``word_prob.npy``, ``component.npy``, ``vocab.json``,
        ``model.json``; files are written to temporary names and renamed (atomic per file)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        for name, arr in (
            ("vectors", self.vectors),
            ("word_prob", self.word_prob),
            ("component", self.component),
        ):
            tmp = d / f".{name}.tmp.npy"
            np.save(tmp, arr, allow_pickle=False)
            tmp.replace(d / f"{name}.npy")
        for name, obj in (
            ("vocab", self.vocab),
            ("model", {"format_version": FORMAT_VERSION, **self.params}),
        ):
            tmp = d / f".{name}.json.tmp"
            tmp.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
            tmp.replace(d / f"{name}.json")
        return d

    @classmethod
    def load(cls, directory: str | Path) -> TextModel:
        """Read a model written by :meth:`save`."""
        d = Path(directory)
        params = json.loads((d / "model.json").read_text(encoding="utf-8"))
        if params.pop("format_version", None) != FORMAT_VERSION:
            raise ValueError(f"{d}/model.json: unsupported text model format")
        vocab = json.loads((d / "vocab.json").read_text(encoding="utf-8"))
        vectors = np.load(d / "vectors.npy", allow_pickle=False)
        if vectors.shape[0] != len(vocab):
            raise ValueError(f"{d}: vectors.npy has {vectors.shape[0]} rows for {len(vocab)} words")
        return cls(
            vocab,
            vectors,
            np.load(d / "word_prob.npy", allow_pickle=False),
            np.load(d / "component.npy", allow_pickle=False),
            params,
        )


def first_singular_vector(emb: np.ndarray) -> np.ndarray:
    """Top right singular vector of ``emb`` (uncentred), via the small dim x dim Gram matrix so
    memory stays O(dim^2) whatever the corpus size; sign fixed so it is deterministic."""
    gram = emb.T @ emb
    _, vecs = np.linalg.eigh(gram)
    u = vecs[:, -1]
    if u[np.argmax(np.abs(u))] < 0:
        u = -u
    return u / np.linalg.norm(u)


def fit_text_model(texts: Sequence[object], config: TextFeatureConfig | None = None) -> TextModel:
    """Train Word2Vec on the segmented ``texts``, estimate p(w) and fit the SIF component.

    Deterministic for a given ``config.seed`` when ``config.workers == 1``.
    """
    from gensim.models import Word2Vec

    cfg = config or TextFeatureConfig()
    corpus = [w2v_tokens(t) for t in prepare_posts(texts, cfg).tokens]
    sentences = [t for t in corpus if t]
    if not sentences:
        raise ValueError("fit_text_model: no tokens in any post; cannot train Word2Vec")
    model = Word2Vec(
        vector_size=cfg.w2v_dim,
        sg=int(cfg.w2v_sg),
        window=cfg.w2v_window,
        min_count=cfg.w2v_min_count,
        epochs=cfg.w2v_epochs,
        seed=cfg.seed,
        workers=cfg.workers,
    )
    model.build_vocab(sentences)
    vocab = list(model.wv.index_to_key)
    if not vocab:
        raise ValueError(f"fit_text_model: no word reaches min_count={cfg.w2v_min_count}")
    model.train(sentences, total_examples=model.corpus_count, epochs=model.epochs)
    counts = Counter(t for toks in sentences for t in toks)
    total = float(sum(counts.values()))
    word_prob = np.array([counts[w] / total for w in vocab], dtype=np.float64)
    params = {
        "config": cfg.to_dict(),
        "sif_a": cfg.sif_a,
        "dim": cfg.w2v_dim,
        "sg": bool(cfg.w2v_sg),
        "window": cfg.w2v_window,
        "min_count": cfg.w2v_min_count,
        "epochs": cfg.w2v_epochs,
        "seed": cfg.seed,
        "workers": cfg.workers,
        "n_posts": len(texts),
        "n_tokens": int(total),
        "vocab_size": len(vocab),
    }
    vectors = np.ascontiguousarray(model.wv.vectors, dtype=np.float32)
    tm = TextModel(vocab, vectors, word_prob, np.zeros(cfg.w2v_dim), params)
    raw, none_known = tm.sif_raw(corpus)
    tm.component = first_singular_vector(raw[~none_known])
    return tm
