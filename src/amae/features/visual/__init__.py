"""Per-post visual features: handcrafted (colour, texture, lines, faces) and deep (CNN backbones).

Names are imported lazily so that light users (decoding, colour) do not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "IMAGE_EXTENSIONS": "amae.features.visual.config",
    "VIDEO_EXTENSIONS": "amae.features.visual.config",
    "VisualFeatureConfig": "amae.features.visual.config",
    "VisualBatchExtractor": "amae.features.visual.extractor",
    "HANDCRAFTED_FEATURE_NAMES": "amae.features.visual.handcrafted",
    "handcrafted_features": "amae.features.visual.handcrafted",
    "BACKBONES": "amae.features.visual.backbones",
    "BackboneWeightsMissing": "amae.features.visual.backbones",
    "register_backbone": "amae.features.visual.backbones",
    "MediaError": "amae.features.visual.decode",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'amae.features.visual' has no attribute {name!r}")
