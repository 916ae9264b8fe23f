"""amae: music recommendation that learns from what people post on social media.

Implements the Attentive Multimodal Autoencoder of Shen et al. with its baselines, protocol and
feature extraction. See ``docs/design.md`` for the specification.
"""

__version__ = "0.1.0"
