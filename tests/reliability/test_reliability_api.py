"""The hostile matrix, HTTP API: every bad request is a documented 4xx (or 503) with valid JSON that
names the field; never a 500, never a dropped connection, never a boolean read as a number."""

from __future__ import annotations

import json
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from amae.serving import api as api_module
from amae.serving.api import create_app
from amae.serving.bundle import load_bundle
from amae.serving.limits import ServeLimits

OK_POST = {"timestamp": 1_709_283_600, "text": "so sad today"}


@pytest.fixture(scope="module")
def client(serving_workspace: Path) -> TestClient:
    return TestClient(create_app(load_bundle(serving_workspace, "mf+amae", 0)))


def _body(**fields: Any) -> dict[str, Any]:
    return {"user_id": "u0003", **fields}


# (request body or raw bytes, status, words the error must contain)
HOSTILE: dict[str, tuple[Any, int, tuple[str, ...]]] = {
    "time 1e20": (_body(time=1e20), 422, ("time", "less than 4102444800")),
    "time -1e15": (_body(time=-1e15), 422, ("time",)),
    "time 1e300": (_body(time=1e300), 422, ("time",)),
    "time Infinity": (b'{"user_id": "u0003", "time": Infinity}', 422, ("time",)),
    "time NaN": (b'{"user_id": "u0003", "time": NaN}', 422, ("time",)),
    "time year 9999": (_body(time="9999-12-31T23:59:59Z"), 422, ("time",)),
    "post timestamp 1e20": (_body(posts=[{"timestamp": 1e20, "text": "x"}]), 422, ("timestamp",)),
    "time true": (_body(time=True), 422, ("time",)),
    "post timestamp false": (_body(posts=[{"timestamp": False, "text": "x"}]), 422, ("timestamp",)),
    "k true": (_body(k=True), 422, ("k",)),
    "include_played yes": (_body(include_played="yes"), 422, ("include_played",)),
    "user_id true": (_body(user_id=True), 422, ("user_id",)),
    "lone surrogate in text": (b'{"user_id": "u0003", "posts": [{"text": "\\ud800"}]}', 422, ("text", "unicode")),
    "lone surrogate in user_id": (b'{"user_id": "\\udfff"}', 422, ("user_id",)),
    "lone surrogate in a key": (b'{"user_id": "u0003", "\\ud800": 1}', 422, ("unicode",)),
    "invalid UTF-8 body": (b'{"user_id": "u\xff\xfe"}', 400, ()),
    "not JSON": (b"{user_id: 3", 400, ()),
    "deeply nested": (("[" * 100_000 + "]" * 100_000).encode(), 400, ()),
    "k too large": (_body(k=101), 422, ("k",)),
    "k 5.5": (_body(k=5.5), 422, ("k",)),
    "time as unparseable text": (_body(time="yesterday"), 422, ("time",)),
    "time 2024-02-30": (_body(time="2024-02-30"), 422, ("time",)),
    "unknown field": (_body(nosuch=1), 422, ("nosuch",)),
    "too many posts": (_body(posts=[OK_POST] * 51), 422, ("posts",)),
}


def _post(client: TestClient, body: Any) -> Any:
    if isinstance(body, bytes):
        return client.post("/recommend", content=body, headers={"content-type": "application/json"})
    return client.post("/recommend", json=body)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_request_gets_a_documented_4xx(case: str, serving_workspace: Path, tmp_path: Path) -> None:
    bundle = load_bundle(serving_workspace, "mf+amae", 0, media_root=tmp_path)  # media allowed: the budget applies
    client = TestClient(create_app(bundle))
    body, status, needles = HOSTILE[case]
    r = _post(client, body)
    assert r.status_code == status, r.text
    detail = json.loads(r.content.decode("utf-8"))["detail"]  # always valid JSON (no NaN, no surrogate)
    text = json.dumps(detail)
    for needle in needles:
        assert needle in text, (needle, text)
    assert "Traceback" not in text
    # the connection is still usable and the server still answers normally
    assert client.post("/recommend", json=_body()).status_code == 200


def test_every_error_answer_is_in_the_openapi_schema(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    responses = schema["paths"]["/recommend"]["post"]["responses"]
    assert {"200", "400", "404", "413", "422", "503"} <= set(responses)
    assert "Retry-After" in responses["503"]["headers"]
    props = schema["components"]["schemas"]["RecommendIn"]["properties"]
    assert props["include_played"]["type"] == "boolean" and props["k"]["type"] == "integer"


def test_media_past_the_budget_are_skipped_and_counted(serving_workspace: Path, tmp_path: Path) -> None:
    """50 posts x 10 media, all within the per-post limits: 20 are read, 480 skipped, and the answer says so."""
    client = TestClient(create_app(load_bundle(serving_workspace, "mf+amae", 0, media_root=tmp_path)))
    posts = [{**OK_POST, "media": [f"m{i}-{j}.jpg" for j in range(10)]} for i in range(50)]
    r = client.post("/recommend", json=_body(posts=posts))
    assert r.status_code == 200, r.text
    notes = " ".join(r.json()["explanation"]["notes"])
    assert "20 of 500 media decoded" in notes and "480 skipped" in notes


def test_pixel_budget_is_read_from_headers(serving_workspace: Path, tmp_path: Path) -> None:
    from amae.serving.limits import apply_media_budget
    from tests.features.visual.test_visual_decode import huge_png

    huge_png(tmp_path / "bomb.png", side=8_000)  # 64 Mpx declared in the header, a few KB on disk
    Image.new("RGB", (100, 100)).save(tmp_path / "small.png")
    kept, note = apply_media_budget(ServeLimits(), tmp_path, [["bomb.png", "small.png"], ["small.png"]])
    assert kept == [["small.png"], ["small.png"]]  # the bomb is never decoded; the rest still is
    assert note is not None and "1 skipped" in note and "40000000 pixels" in note


def test_saturated_server_answers_503_with_retry_after(serving_workspace: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = threading.Event(), threading.Event()
    real = api_module.recommend

    def slow(*args: Any, **kwargs: Any) -> dict:
        started.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(api_module, "recommend", slow)
    client = TestClient(create_app(load_bundle(serving_workspace, "mf+amae", 0),
                                   limits=ServeLimits(workers=1, queue=0, retry_after_s=3)))
    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(client.post("/recommend", json=_body()).status_code))
    first.start()
    assert started.wait(10)
    busy = client.post("/recommend", json=_body())
    assert busy.status_code == 503 and busy.headers["retry-after"] == "3"
    assert "saturated" in busy.json()["detail"]
    release.set()
    first.join(10)
    assert results == [200]
    assert client.post("/recommend", json=_body()).status_code == 200  # capacity is back


def test_time_budget_skips_remaining_media(serving_workspace: Path, tmp_path: Path) -> None:
    """With no time left, media are not decoded; the answer is still a 200 that says so."""
    for i in range(3):
        Image.new("RGB", (32, 32), (200, 10 * i, 10)).save(tmp_path / f"i{i}.png")
    bundle = load_bundle(serving_workspace, "mf+amae", 0, media_root=tmp_path)
    bundle.featurizer.groups["visual"] = ["visual_h"]  # make the text-only model read media, for the test
    bundle.featurizer.dims["visual"] = 25
    client = TestClient(create_app(bundle, limits=ServeLimits(time_budget_s=1e-9)))
    t0 = time.perf_counter()
    r = client.post("/recommend", json=_body(posts=[{**OK_POST, "media": [f"i{i}.png"]} for i in range(3)]))
    assert r.status_code == 200, r.text
    assert any("time budget spent" in n for n in r.json()["explanation"]["notes"])
    assert time.perf_counter() - t0 < 60


def test_integral_numbers_and_iso_times_that_the_schema_allows_are_accepted(client: TestClient) -> None:
    """What the OpenAPI schema calls valid is accepted (schemathesis' positive-data check)."""
    r = client.post("/recommend", json=_body(k=5.0, user_id="u0003", time="2024-02-29T10:00:00+01:00",
                                             posts=[{"timestamp": 1_709_283_600.5, "text": "x"}]))
    assert r.status_code == 200, r.text
    assert len(r.json()["items"]) == 5
