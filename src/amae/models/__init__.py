"""Recommenders behind one interface; importing this package fills the registry."""

from amae.models import dmf, itempop, mf  # noqa: F401  (registration side effects)
from amae.models.base import REGISTRY, Recommender, TrainData

__all__ = ["REGISTRY", "Recommender", "TrainData"]
