"""Shared first step of both text groups: clean, pick the language, segment.

``text_h`` and ``text_d`` use the same tokens, and ``fit_text_model`` uses this very function,
so a post is segmented identically at training time and at extraction time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .config import TextFeatureConfig
from .normalize import clean_text
from .tokenize import cjk_share, tokenize


@dataclass
class PreparedPosts:
    """Normalised texts, their tokens, language and repair flags (all row-aligned)."""

    texts: list[str]
    tokens: list[list[str]]
    cjk: np.ndarray
    is_zh: np.ndarray
    empty: np.ndarray
    truncated: np.ndarray
    invalid_utf8: np.ndarray


def prepare_posts(values: Sequence[object], config: TextFeatureConfig) -> PreparedPosts:
    """Clean every cell (never raises on bad input), choose zh/en by CJK share, tokenize."""
    cleaned = [clean_text(v, config.max_chars) for v in values]
    texts = [c.text for c in cleaned]
    cjk = np.fromiter((cjk_share(t) for t in texts), dtype=np.float64, count=len(texts))
    is_zh = cjk >= config.cjk_threshold
    tokens = [tokenize(t, bool(z)) if t else [] for t, z in zip(texts, is_zh, strict=True)]
    return PreparedPosts(
        texts=texts,
        tokens=tokens,
        cjk=cjk,
        is_zh=is_zh,
        empty=np.array([c.empty for c in cleaned], dtype=bool),
        truncated=np.array([c.truncated for c in cleaned], dtype=bool),
        invalid_utf8=np.array([c.invalid_utf8 for c in cleaned], dtype=bool),
    )
