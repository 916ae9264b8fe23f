"""The NCF given split: built by the protocol from what the data adapter read, written beside the data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from amae.data.adapters.ncf import load_ncf
from amae.data.provenance import read_manifest, unseal, upstream
from amae.protocol.given import given_split, ingest
from amae.protocol.split import split_workspace


def test_adapter_returns_plain_arrays_and_the_protocol_builds_the_split(shared_data: Path) -> None:
    data = load_ncf(shared_data / "deepcf" / "lastfm")
    assert not hasattr(data, "split")
    assert data.test_rows.tolist() == list(range(len(data.interactions) - 1741, len(data.interactions)))
    split = given_split(data)
    assert np.array_equal(split.test_rows, data.test_rows) and split.test.negatives is data.test_negatives
    assert split.info["method"] == "ncf-given" and split.info["source"] == str(shared_data / "deepcf" / "lastfm")
    assert np.array_equal(given_split(data).valid_rows, split.valid_rows)  # seeded
    assert not np.array_equal(given_split(data, valid_seed=1).valid_rows, split.valid_rows)


def test_ingest_writes_the_given_split_and_keeps_a_later_one(shared_data: Path, tmp_path: Path) -> None:
    ws, src = tmp_path / "ws", shared_data / "deepcf" / "lastfm"
    ds = ingest(src, ws, "ncf")
    manifest = read_manifest(ws / "split")
    assert manifest is not None and manifest.inputs == {"data": upstream(ws / "data")}
    assert manifest.config == {"method": "ncf-given"}
    # an ingest stopped between the data and the split: the next one (data reused) writes the split
    unseal(ws / "split")
    again = ingest(src, ws, "ncf")
    assert again.provenance["reused"] and read_manifest(ws / "split") == manifest
    # a split the user made later from the same data stays
    split_workspace(ws, ds, method="temporal", seed=3)
    ingest(src, ws, "ncf")
    assert json.loads((ws / "split" / "split.json").read_text())["method"] == "temporal"
    # a re-encode (forced) writes the given split again
    ingest(src, ws, "ncf", force=True)
    assert json.loads((ws / "split" / "split.json").read_text())["method"] == "ncf-given"
