"""Users' bags of words over their training-period posts: the ``words`` user content (MF_S, PMF_S).

Segmented exactly like the text features (``prepare_posts``); words, hashtags and emoji are kept,
URLs, mentions, numbers and punctuation dropped **[choice]**; the vocabulary is the ``max_vocab``
(20k) most frequent tokens, ties broken by the token itself so it is repeatable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from amae.content.kinds import UserContent, register_content
from amae.features.text.config import TextFeatureConfig
from amae.features.text.prepare import prepare_posts
from amae.features.text.tokenize import EMOJI, HASHTAG, WORD, token_kind
from amae.protocol.split import in_training_period

KEPT_KINDS = frozenset({WORD, HASHTAG, EMOJI})


@register_content
@dataclass
class BagOfWords(UserContent):
    """The ``words`` kind (MF_S, PMF_S): ``counts`` (n_users, V) float32 CSR of token counts over
    each user's training-period posts; ``vocabulary`` the V tokens."""

    kind: ClassVar[str] = "words"
    counts: sp.csr_matrix
    vocabulary: list[str]

    @classmethod
    def build(cls, workspace: Path, dataset: Any, split: Any, *, max_vocab: int = 20_000) -> BagOfWords:
        """Bag of words of each user over their posts in their own training period (no test-period text)."""
        posts = dataset.posts
        users = posts["user_idx"].to_numpy(np.int64)
        mask = in_training_period(users, posts["timestamp"].to_numpy(np.int64), split.train_end)
        return user_bag_of_words(users[mask], posts["text"].to_numpy(object)[mask].tolist(), dataset.n_users,
                                 max_vocab=max_vocab)


def user_bag_of_words(post_user: np.ndarray, texts: Sequence[object], n_users: int, max_vocab: int = 20_000,
                      config: TextFeatureConfig | None = None) -> BagOfWords:
    """Count each user's tokens over the given posts; keep the ``max_vocab`` most frequent tokens."""
    post_user = np.asarray(post_user, dtype=np.int64)
    if post_user.shape[0] != len(texts):
        raise ValueError(f"bag of words: {post_user.shape[0]} post users but {len(texts)} texts")
    prep = prepare_posts(list(texts), config or TextFeatureConfig())
    lengths = np.fromiter((len(t) for t in prep.tokens), dtype=np.int64, count=len(prep.tokens))
    flat = pd.Series([tok for toks in prep.tokens for tok in toks], dtype=object)
    owner = np.repeat(post_user, lengths)
    if flat.empty:
        return BagOfWords(sp.csr_matrix((n_users, 0), dtype=np.float32), [])
    codes, uniques = pd.factorize(flat)
    kinds = np.array([token_kind(t) in KEPT_KINDS for t in uniques], dtype=bool)  # once per distinct token
    keep = kinds[codes]
    codes, owner = codes[keep], owner[keep]
    totals = np.bincount(codes, minlength=len(uniques))
    tokens = np.asarray(uniques, dtype=object)
    # most frequent first, ties by token text (repeatable whatever the post order)
    candidates = np.flatnonzero(totals > 0)
    order = np.lexsort((tokens[candidates].astype(str), -totals[candidates]))
    chosen = candidates[order[:max_vocab]]
    remap = np.full(len(uniques), -1, dtype=np.int64)
    remap[chosen] = np.arange(chosen.shape[0])
    col = remap[codes]
    ok = col >= 0
    counts = sp.csr_matrix((np.ones(int(ok.sum()), np.float32), (owner[ok], col[ok])),
                           shape=(n_users, chosen.shape[0]))
    counts.sum_duplicates()
    return BagOfWords(counts, [str(t) for t in tokens[chosen]])
