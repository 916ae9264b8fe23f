"""The HTTP API through FastAPI's TestClient: success, validation (422), 404, 413, health, metadata."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():  # starlette's note about httpx vs httpx2: not ours to fix
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from amae.serving.api import create_app
from amae.serving.bundle import load_bundle


@pytest.fixture(scope="module")
def client(serving_workspace: Path) -> TestClient:
    return TestClient(create_app(load_bundle(serving_workspace, "mf+amae", 0)))


def test_recommend_ok(client: TestClient) -> None:
    body = {"user_id": "u0003", "k": 5, "time": "2024-03-01T10:00:00Z",
            "posts": [{"timestamp": 1_709_283_600, "text": "so sad and lonely, I cry"}, {"text": "heartbroken"}]}
    r = client.post("/recommend", json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["user_id"] == "u0003" and data["model"] == "mf+amae" and data["time"] == 1_709_287_200
    assert len(data["items"]) == 5 and [it["rank"] for it in data["items"]] == [1, 2, 3, 4, 5]
    att = data["items"][0]["attention"]["text"]
    assert set(att) == {"global", "contextual"} and att["global"] + att["contextual"] == pytest.approx(1, abs=1e-5)
    assert data["explanation"]["kind"] == "attention"
    assert data["explanation"]["context"]["text"]["request_posts_in_window"] == 2


def test_integer_user_id_and_defaults(client: TestClient) -> None:
    r = client.post("/recommend", json={"user_id": "u0001"})
    assert r.status_code == 200 and len(r.json()["items"]) == 10
    r = client.post("/recommend", json={"user_id": 7})  # ints are ids too; this one is not in the data
    assert r.status_code == 404 and "'7'" in r.json()["detail"]


@pytest.mark.parametrize("body, field", [
    ({"user_id": "u0003", "k": 0}, "k"),
    ({"user_id": "u0003", "k": 101}, "k"),
    ({"user_id": "u0003", "time": "not a time"}, "time"),
    ({"user_id": "u0003", "posts": [{"text": "x", "colour": "red"}]}, "colour"),
    ({"user_id": "u0003", "posts": [{"text": "x" * 10_001}]}, "text"),
    ({"user_id": "u0003", "posts": [{"text": "x"}] * 51}, "posts"),
    ({"k": 3}, "user_id"),
])
def test_validation_422_names_the_field(client: TestClient, body: dict, field: str) -> None:
    r = client.post("/recommend", json=body)
    assert r.status_code == 422, r.text
    locs = [str(part) for err in r.json()["detail"] for part in err["loc"]]
    assert field in locs


def test_unknown_user_404(client: TestClient) -> None:
    r = client.post("/recommend", json={"user_id": "nobody"})
    assert r.status_code == 404 and "unknown user" in r.json()["detail"]


def test_oversized_body_413(client: TestClient) -> None:
    big = {"user_id": "u0003", "posts": [{"text": "y" * 9_000}] * 50, "pad": "z" * 700_000}
    r = client.post("/recommend", json=big)
    assert r.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold for a streamed body too
        yield b'{"user_id": "u0003", "pad": "'
        for _ in range(20):
            yield b"z" * 60_000
        yield b'"}'

    r = client.post("/recommend", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_health_metadata_openapi(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "model": "mf+amae", "in_flight": 0}
    meta = client.get("/metadata").json()
    assert meta["model"] == "mf+amae" and meta["content"] is True
    assert meta["dataset"]["n_users"] == 30 and meta["feature_groups"] == {"text": ["text_h", "text_d"]}
    assert meta["params"]["epochs"] == 2 and meta["limits"]["max_k"] == 100
    assert "HR@10" in meta["metrics"]["sampled"]
    schema = client.get("/openapi.json").json()
    assert "/recommend" in schema["paths"] and "RecommendIn" in schema["components"]["schemas"]
