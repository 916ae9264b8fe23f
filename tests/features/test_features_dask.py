"""The Dask engine (a LocalCluster on 127.0.0.1) gives exactly the local engine's features, and its
workers are bound to the amae process like the pool's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from amae.data.synthetic import WorldConfig, generate_world
from amae.data.workspace import ingest
from amae.features.pipeline import extract_features


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dask") / "world"
    generate_world(folder, WorldConfig(n_users=20, n_items=100, n_days=6, image_share=0.0, n_videos=0, seed=1))
    return folder


def test_dask_engine_matches_local_engine(world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from amae.compute import dask_lifeline

    bound: list[int] = []
    real = dask_lifeline.register_dask_lifeline
    monkeypatch.setattr(dask_lifeline, "register_dask_lifeline",
                        lambda client, pid: (bound.append(pid), real(client, pid)))
    outputs = {}
    for engine in ("local", "dask"):
        ws = tmp_path / engine
        ingest(world, ws)
        report = extract_features(ws, "text", {}, n_jobs=1, batch_size=100, engine=engine, progress=False)
        assert report.shards_reused == 0 and report.n_shards > 1
        outputs[engine] = {g: np.load(ws / "features" / "text" / f"{g}.npy") for g in ("text_h", "text_d")}
    for g in ("text_h", "text_d"):
        np.testing.assert_array_equal(outputs["dask"][g], outputs["local"][g])
    assert len(bound) == 1  # the LocalCluster's nannies and workers were bound to this process
