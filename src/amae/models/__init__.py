"""Recommenders behind one interface; importing this package fills the registry."""

# Imported for their registration side effects: itempop, userpop, mf, dmf, ucfe, mf_s, pmf_s, mf+amae,
# dmf+amae.
from amae.models import amae as _amae  # noqa: F401
from amae.models import dmf, itempop, mf, social_mf, ucfe, userpop  # noqa: F401
from amae.models.base import REGISTRY, Recommender, TrainData

__all__ = ["REGISTRY", "Recommender", "TrainData"]
