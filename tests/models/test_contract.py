"""Every registered model against the behavioural contract (tests/models/contract.py), on every device.

Generic on purpose: a newly registered model is picked up from ``REGISTRY`` without edits here;
CUDA is in the device list only where torch sees it, so a CPU machine skips nothing. The planted
workspace (tests/models/planted.py) and every fit are built once for the module.
"""

from __future__ import annotations

import pytest
from contract import DEVICES, MODELS, Planted, RecommenderContract, build_planted

from amae.models import REGISTRY


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    return build_planted(tmp_path_factory.mktemp("planted"))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", MODELS)
class TestEveryModel(RecommenderContract):
    """The whole contract for each (model, device)."""


AMAE_MODELS = [name for name in MODELS if "amae" in name and REGISTRY[name].needs_content]


@pytest.mark.parametrize("name", AMAE_MODELS)
def test_a_modality_without_data_is_left_out(name: str, planted: Planted) -> None:
    """The planted world's posts have no media: the visual branch is absent, not trained on zeros."""
    model = planted.fit(name, "cpu")
    assert model.module.modalities == ["text"]
    assert "usable media" in model.source["absent_modalities"]["visual"]
