"""Per-post text features: ``text_h`` (lexicons, linguistic categories, macro statistics) and
``text_d`` (Word2Vec + SIF). See docs/design.md sections 4.1 and 4.2."""

from .config import TextFeatureConfig
from .deep import TextModel, fit_text_model
from .extractor import TextBatchExtractor

__all__ = ["TextBatchExtractor", "TextFeatureConfig", "TextModel", "fit_text_model"]
