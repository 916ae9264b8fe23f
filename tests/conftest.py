"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The public test data folder: ``$AMAE_SHARED_DATA`` or ``<repo>/../shared/data``; fails if missing."""
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    path = Path(os.environ.get("AMAE_SHARED_DATA", default))
    if not path.is_dir():
        pytest.fail(f"shared test data not found at {path}; set AMAE_SHARED_DATA")
    return path.resolve()
