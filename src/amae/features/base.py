"""Shared types for per-post feature extractors.

Every modality (text, visual) turns a batch of posts into named float32 blocks. Keeping the
result type in one place lets the extraction engine (batching, process pool / Dask, shards,
resume, atomic writes) stay ignorant of what a modality computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

#: Columns of the posts frame an extractor receives (see ``amae.data``):
#: ``post_idx`` (int64, dense), ``user_idx`` (int64), ``timestamp`` (int64 unix seconds),
#: ``text`` (str or None), ``media`` (list[str] of paths relative to the dataset folder).
POST_COLUMNS = ("post_idx", "user_idx", "timestamp", "text", "media")


@dataclass
class BatchResult:
    """Features of one batch of posts, row-aligned with the batch.

    ``blocks`` maps a group name (``text_h``, ``text_d``, ``visual_h``, ``visual_d``) to a
    float32 array of shape (n_posts_in_batch, dim). ``flags`` maps a flag name to a bool array
    of shape (n,), e.g. ``text_d_empty`` or ``visual_none``. ``failures`` lists media or rows
    that were skipped: dicts with at least ``post_idx``, ``path`` and ``reason``.
    """

    blocks: dict[str, np.ndarray]
    flags: dict[str, np.ndarray] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        sizes = {k: len(v) for k, v in {**self.blocks, **self.flags}.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"BatchResult blocks/flags have different lengths: {sizes}")


class BatchExtractor(Protocol):
    """A picklable callable shipped to worker processes (local pool or Dask).

    It must be cheap to pickle (load heavy state lazily inside the worker) and deterministic.
    """

    #: group name -> feature names, e.g. {"text_h": [...], "text_d": ["w2v_000", ...]}
    feature_names: dict[str, list[str]]
    #: what produced the numbers: lexicon files, backbones, versions; stored with the features
    metadata: dict

    def __call__(self, batch: pd.DataFrame) -> BatchResult: ...
