"""``amae serve``: the recommend operation over HTTP (FastAPI), with validation and size limits.

Endpoints: ``POST /recommend``, ``GET /health``, ``GET /metadata``; the OpenAPI schema is at
``/openapi.json`` and the interactive docs at ``/docs``. Invalid fields are 422 with the field's
location, an unknown user (without posts to fall back on) is 404, a body over ``max_body_bytes``
is 413 before any of it is parsed. The model is loaded once by :func:`create_app` and shared
read-only; scoring is serialised by a lock in :mod:`amae.serving.recommender`.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from amae.data.io import DataError
from amae.serving.bundle import ModelBundle
from amae.serving.posts import MAX_MEDIA_PER_POST, MAX_POSTS, MAX_TEXT_CHARS, RecentPost, parse_time
from amae.serving.recommender import UnknownUserError, recommend

MAX_BODY_BYTES = 1_000_000
MAX_K = 100

TimeValue = int | float | str | None


class PostIn(BaseModel):
    """A recent post: unix seconds or ISO-8601 time (default: just before the request), text, media."""

    model_config = ConfigDict(extra="forbid")
    timestamp: TimeValue = None
    text: str | None = Field(None, max_length=MAX_TEXT_CHARS)
    media: list[str] = Field(default_factory=list, max_length=MAX_MEDIA_PER_POST)

    @field_validator("timestamp")
    @classmethod
    def _time(cls, v: TimeValue) -> int | None:
        return None if v is None else _parse(v)

    @field_validator("media")
    @classmethod
    def _media(cls, v: list[str]) -> list[str]:
        if any(len(p) > 1024 or not p for p in v):
            raise ValueError("media paths must be 1-1024 characters")
        return v


class RecommendIn(BaseModel):
    """Body of ``POST /recommend``."""

    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(..., min_length=1, max_length=256, description="the user's id as in the dataset")
    k: int = Field(10, ge=1, le=MAX_K, description="number of tracks")
    time: TimeValue = Field(None, description="unix seconds or ISO-8601; default: after the latest post")
    posts: list[PostIn] = Field(default_factory=list, max_length=MAX_POSTS,
                                description="recent posts; the last 24 h before `time` form the context")
    include_played: bool = Field(False, description="also rank tracks the user played in training")

    @field_validator("user_id", mode="before")
    @classmethod
    def _user(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("time")
    @classmethod
    def _time(cls, v: TimeValue) -> int | None:
        return None if v is None else _parse(v)


class Attention(BaseModel):
    global_: float = Field(..., alias="global")
    contextual: float

    model_config = ConfigDict(populate_by_name=True)


class ItemOut(BaseModel):
    rank: int
    item_id: str
    title: str
    artist: str
    score: float
    attention: dict[str, Attention] | None = Field(None, description="per modality (AMAE models only)")


class ExplanationOut(BaseModel):
    kind: str = Field(..., description="attention, collaborative or popularity")
    recent_posts: int
    context: dict[str, dict[str, Any]]
    notes: list[str]


class RecommendOut(BaseModel):
    user_id: str
    model: str
    time: int | None
    time_iso: str | None
    items: list[ItemOut]
    explanation: ExplanationOut


def _parse(v: int | float | str) -> int:
    try:
        return parse_time(v)
    except DataError as exc:
        raise ValueError(str(exc)) from None


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``limit`` bytes (declared or streamed)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(send)
            return
        # Read the body up to the limit before the app sees it, so chunked uploads are bounded too.
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._reject(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send) -> None:
        payload = json.dumps({"detail": f"request body over {self.limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


def create_app(bundle: ModelBundle, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The FastAPI app serving ``bundle`` (see the module docstring for the endpoints)."""
    app = FastAPI(title="amae", version="1", description="Music recommendation from social media content: "
                  f"model '{bundle.name}' ({bundle.label}).")
    meta = bundle.metadata()

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Liveness: the model is loaded and answering."""
        return {"status": "ok", "model": bundle.name}

    @app.get("/metadata")
    def metadata() -> dict[str, Any]:
        """Model name, parameters, dataset statistics, feature groups, limits and saved metrics."""
        return {**meta, "limits": {"max_k": MAX_K, "max_posts": MAX_POSTS, "max_text_chars": MAX_TEXT_CHARS,
                                   "max_media_per_post": MAX_MEDIA_PER_POST, "max_body_bytes": max_body_bytes}}

    @app.post("/recommend", response_model=RecommendOut, response_model_by_alias=True,
              responses={404: {"description": "unknown user"}, 413: {"description": "body too large"}})
    def recommend_endpoint(req: RecommendIn) -> dict[str, Any]:
        """Top-k tracks for a user, with attention weights (global vs contextual) per modality."""
        posts = [RecentPost(p.timestamp, p.text, list(p.media)) for p in req.posts]  # type: ignore[arg-type]
        try:
            return recommend(bundle, req.user_id, req.k, req.time, posts, req.include_played)  # type: ignore[arg-type]
        except UnknownUserError as exc:
            raise HTTPException(404, str(exc)) from None
        except DataError as exc:
            raise HTTPException(422, str(exc)) from None

    app.add_middleware(BodyLimit, limit=max_body_bytes)
    return app
