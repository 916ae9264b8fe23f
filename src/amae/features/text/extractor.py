"""``TextBatchExtractor``: the picklable per-batch callable the extraction engine ships to workers.

Heavy state (lexicons, jieba, word vectors) loads lazily inside the worker on first call and is
dropped when pickled, so shipping the extractor costs a few hundred bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amae.features.base import BatchResult

from .config import TextFeatureConfig
from .deep import TextModel
from .handcrafted import HandcraftedFeaturizer
from .prepare import prepare_posts

FLAG_NAMES = ("text_empty", "text_truncated", "text_invalid_utf8", "text_lang_zh", "text_d_no_known_word")


#: text_h columns whose non-zero value means a lexicon read some affect in the post
AFFECT_PREFIXES = ("emo2_", "emo7_", "nrc_", "labmt_")


class TextBatchExtractor:
    """Turns a batch of posts (``text`` column) into ``text_h`` and, given a fitted model
    directory, ``text_d`` blocks plus flags. Never raises on bad text: it is repaired and flagged.
    """

    def __init__(self, model_dir: str | Path | None, config: TextFeatureConfig | None = None) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.config = config or TextFeatureConfig()
        self._featurizer: HandcraftedFeaturizer | None = None
        self._model: TextModel | None = None
        self._names: dict[str, list[str]] | None = None
        self._metadata: dict | None = None

    # pickling: ship config and path only; the worker reloads state on first use
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_featurizer"] = None
        state["_model"] = None
        return state

    def _load(self) -> None:
        if self._featurizer is None:
            self._featurizer = HandcraftedFeaturizer(self.config)
        if self.model_dir is not None and self._model is None:
            self._model = TextModel.load(self.model_dir)

    def _model_params(self) -> dict | None:
        if self.model_dir is None:
            return None
        if self._model is not None:
            return self._model.params
        return json.loads((self.model_dir / "model.json").read_text(encoding="utf-8"))

    @property
    def feature_names(self) -> dict[str, list[str]]:
        """Group -> column names (``text_d`` only with a model directory)."""
        if self._names is None:
            self._load()
            assert self._featurizer is not None
            names = {"text_h": list(self._featurizer.columns)}
            params = self._model_params()
            if params is not None:
                names["text_d"] = [f"w2v_{i:03d}" for i in range(int(params["dim"]))]
            self._names = names
        return self._names

    @property
    def metadata(self) -> dict:
        """Lexicons used, whether the 21-class level is present, Word2Vec/SIF parameters."""
        if self._metadata is None:
            self._load()
            assert self._featurizer is not None
            meta = {"modality": "text", "config": self.config.to_dict(), **self._featurizer.metadata()}
            params = self._model_params()
            if params is not None:
                meta["w2v"] = {k: v for k, v in params.items() if k != "config"}
                meta["model_dir"] = str(self.model_dir)
            meta["flags"] = list(FLAG_NAMES if params is not None else FLAG_NAMES[:-1])
            self._metadata = meta
        return self._metadata

    def summarise(self, blocks: dict[str, np.ndarray]) -> dict[str, Any]:
        """``{"languages": {code: {"posts", "affect_share"}}}`` of the consolidated ``text_h``.

        A post's language is its ``lang_*`` column ("none" for a post without letters); an affect hit
        is any non-zero emotion or polarity column (emo2/emo7, NRC, VADER positive/negative, labMT),
        so a reader sees which languages the lexicons could read at all.
        """
        if "text_h" not in blocks:
            return {}
        names = self.feature_names["text_h"]
        x = np.asarray(blocks["text_h"])
        langs = [i for i, n in enumerate(names) if n.startswith("lang_") and n != "lang_confidence"]
        affect = [i for i, n in enumerate(names) if n.startswith(AFFECT_PREFIXES) or n in ("vader_pos", "vader_neg")]
        if not langs or not len(x):
            return {}
        codes = np.array([names[i][len("lang_"):] for i in langs] + ["none"])
        pick = np.where(x[:, langs].max(axis=1) > 0, x[:, langs].argmax(axis=1), len(langs))
        hit = (x[:, affect] != 0).any(axis=1) if affect else np.zeros(len(x), dtype=bool)
        frame = pd.DataFrame({"lang": codes[pick], "hit": hit}).groupby("lang")["hit"].agg(["size", "mean"])
        frame = frame.sort_values("size", ascending=False)
        return {"languages": {str(code): {"posts": int(row["size"]), "affect_share": round(float(row["mean"]), 4)}
                              for code, row in frame.iterrows()}}

    def __call__(self, batch: pd.DataFrame) -> BatchResult:
        self._load()
        assert self._featurizer is not None
        values = batch["text"].tolist() if "text" in batch else [None] * len(batch)
        prep = prepare_posts(values, self.config)
        blocks = {"text_h": self._featurizer.transform(prep.texts, prep.tokens, prep.is_zh, prep.cjk)}
        flags = {
            "text_empty": prep.empty,
            "text_truncated": prep.truncated,
            # bytes repaired at ingest (the posts table's flag) or found while cleaning the text
            "text_invalid_utf8": np.asarray(prep.invalid_utf8, bool)
            | (batch["text_invalid_utf8"].to_numpy(bool) if "text_invalid_utf8" in batch else False),
            "text_lang_zh": prep.is_zh,
        }
        if self._model is not None:
            emb, none_known = self._model.embed_tokens(prep.tokens)
            blocks["text_d"] = emb
            flags["text_d_no_known_word"] = none_known
        for name, arr in blocks.items():
            if not np.isfinite(arr).all():  # defensive: a NaN would poison every later stage
                blocks[name] = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
        return BatchResult(blocks=blocks, flags=flags)
