"""Training: the shared loops (``trainer``), the sampler, and ``fit(model, data)`` for every model."""

from amae.training.fitting import fit

__all__ = ["fit"]
