"""Per-post visual features: handcrafted (colour, texture, lines, faces) and deep (CNN backbones)."""

from amae.features.visual.config import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, VisualFeatureConfig
from amae.features.visual.extractor import VisualBatchExtractor
from amae.features.visual.handcrafted import HANDCRAFTED_FEATURE_NAMES, handcrafted_features

__all__ = [
    "HANDCRAFTED_FEATURE_NAMES",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "VisualBatchExtractor",
    "VisualFeatureConfig",
    "handcrafted_features",
]
