"""Recommenders behind one interface; importing this package fills the registry."""

from amae.models import amae as _amae  # noqa: F401  (registers mf+amae, dmf+amae)
from amae.models import dmf, itempop, mf  # noqa: F401  (registration side effects)
from amae.models import social_mf, ucfe  # noqa: F401  (registers ucfe, mf_s, pmf_s)
from amae.models.base import REGISTRY, Recommender, TrainData

__all__ = ["REGISTRY", "Recommender", "TrainData"]
