"""``amae serve``: the recommend operation over HTTP (FastAPI), with validation and size limits.

Endpoints: ``POST /recommend``, ``GET /health``, ``GET /metadata``; the OpenAPI schema is at
``/openapi.json`` and the interactive docs at ``/docs``. Types are strict (a boolean is never a
number), times are range-checked, text must be valid Unicode. Invalid fields are 422 with the
field's location (the input is never echoed); a post without ``timestamp`` takes one second before
the request's ``time``, and is 422 (``posts[i].timestamp``) when the request gives no time either.
The body must be a JSON object sent as ``application/json`` (or ``application/*+json``; a UTF-8 BOM
is accepted): an empty body, a body that is not JSON or JSON that is not an object is 400, another
(or no) Content-Type 415. An unknown user (without posts to fall back on) is 404, a body over the
limit is 413 before any of it is parsed; media past the request's budget are skipped before
anything is decoded, and texts past its time budget are not read (newest posts first); the answer
says so. The work runs off the event loop in bounded pools (:class:`amae.serving.limits.ServeLimits`):
light requests in ``workers`` threads, heavy ones (media, long texts) in a lane of their own; past
``workers + queue`` requests in flight the answer is 503 with ``Retry-After``. Every one of these
answers is in the OpenAPI schema.
"""

from __future__ import annotations

import json
import math
import time as clock
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, field_validator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from amae.data.contract import MAX_TIME, MIN_TIME
from amae.data.io import DataError
from amae.serving.bundle import ModelBundle
from amae.serving.limits import ServeLimits, apply_media_budget
from amae.serving.posts import MAX_MEDIA_PER_POST, MAX_POSTS, MAX_TEXT_CHARS, RecentPost, parse_time
from amae.serving.recommender import UnknownUserError, recommend

MAX_BODY_BYTES = 1_000_000
MAX_K = 100
#: seconds of a request's time budget kept for scoring and answering after its texts and media
ANSWER_RESERVE_S = 0.25

#: An ISO-8601 time the API accepts as text: a real calendar date from 1971 to 2098 (so no offset can
#: push it out of the accepted range), optionally with hh:mm:ss[.ffffff] and Z or an offset. Stated
#: in the schema, so that every schema-valid request is an accepted one (unix seconds go as numbers).
ISO_TIME = (
    r"^((197[1-9]|19[89][0-9]|20[0-8][0-9]|209[0-8])-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11"
    r")-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))|(19(7[26]|8[048]|9[26])|20([02468][048]|[13579][2"
    r"6]))-02-29)(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5]["
    r"0-9])?)?$"
)
#: strict: a JSON boolean is never read as a number (``true`` is not 1970-01-01T00:00:01Z); the
#: schema states the accepted range, so a schema-valid time is an accepted one
TimeValue = (Annotated[StrictInt, Field(ge=MIN_TIME, lt=MAX_TIME)] | Annotated[StrictFloat, Field(ge=MIN_TIME,
                                                                                                  lt=MAX_TIME)]
             | Annotated[StrictStr, Field(pattern=ISO_TIME, max_length=40)] | None)
MediaPath = Annotated[StrictStr, Field(min_length=1, max_length=1024)]


def _valid_unicode(v: str | None, field: str) -> str | None:
    """Lone surrogates (``"\\ud800"``) cannot be encoded or echoed: refuse them with the field's name."""
    if v is None:
        return v
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{field}: not valid Unicode text (lone surrogate)") from None
    return v


class PostIn(BaseModel):
    """A recent post: unix seconds or ISO-8601 time (default: one second before the request's ``time``;
    required when the request gives no time), text, media."""

    model_config = ConfigDict(extra="forbid")
    timestamp: TimeValue = Field(None, description="unix seconds or ISO-8601, 1970-01-01 to 2100-01-01; "
                                                   "default: one second before the request's `time` (so the post "
                                                   "is in its 24 h window); required when the request gives no time")
    text: StrictStr | None = Field(None, max_length=MAX_TEXT_CHARS,
                                   description="read newest post first while the request's time budget lasts")
    media: list[MediaPath] = Field(default_factory=list, max_length=MAX_MEDIA_PER_POST,
                                   description="paths relative to the server's media root")

    @field_validator("timestamp")
    @classmethod
    def _time(cls, v: TimeValue) -> int | None:
        return None if v is None else _parse(v, "timestamp")

    @field_validator("text")
    @classmethod
    def _text(cls, v: str | None) -> str | None:
        return _valid_unicode(v, "text")

    @field_validator("media")
    @classmethod
    def _media(cls, v: list[str]) -> list[str]:
        if any(len(p) > 1024 or not p for p in v):
            raise ValueError("media paths must be 1-1024 characters")
        for p in v:
            _valid_unicode(p, "media")
        return v


class RecommendIn(BaseModel):
    """Body of ``POST /recommend``."""

    model_config = ConfigDict(extra="forbid")
    user_id: Annotated[Annotated[StrictStr, Field(min_length=1, max_length=256)] | StrictInt,
                       Field(description="the user's id as in the dataset (a number is read as its decimal text)")]
    k: StrictInt = Field(10, ge=1, le=MAX_K, description="number of tracks")
    time: TimeValue = Field(None, description="unix seconds or ISO-8601 (1970-01-01 to 2100-01-01); default: "
                                              "one second after the latest post (every post then needs a "
                                              "timestamp), else after the user's latest stored post")
    posts: list[PostIn] = Field(default_factory=list, max_length=MAX_POSTS,
                                description="recent posts; the last 24 h before `time` form the context")
    include_played: StrictBool = Field(False, description="also rank tracks the user played in training")

    @field_validator("k", "user_id", mode="before")
    @classmethod
    def _integral(cls, v: Any) -> Any:
        """JSON Schema counts 69.0 as an integer: accept it as 69 (booleans and 69.5 stay errors)."""
        if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
            return int(v)
        return v

    @field_validator("user_id")
    @classmethod
    def _user(cls, v: str | int) -> str:
        text = str(v)
        if not 1 <= len(text) <= 256:
            raise ValueError("user_id must be 1-256 characters")
        return _valid_unicode(text, "user_id")  # type: ignore[return-value]

    @field_validator("time")
    @classmethod
    def _time(cls, v: TimeValue) -> int | None:
        return None if v is None else _parse(v, "time")


class Attention(BaseModel):
    global_: float = Field(..., alias="global")
    contextual: float

    model_config = ConfigDict(populate_by_name=True)


class ItemOut(BaseModel):
    rank: int
    item_id: str
    title: str
    artist: str
    score: float = Field(..., description="predicted probability of a play (logit models; see score_kind)")
    logit: float | None = Field(None, description="the raw logit behind score (logit models only)")
    attention: dict[str, Attention] | None = Field(None, description="per modality (AMAE models only)")
    rank_without_posts: int | None = Field(None, description="the track's rank in the same request without its "
                                                             "posts (content models given posts; for a user "
                                                             "without history, its popularity rank)")
    logit_change: float | None = Field(None, description="what the request's posts added to the track's logit")
    moved_most_by: str | None = Field(None, description="the modality whose posts alone moved the track most")


class PostsEffectOut(BaseModel):
    entered: list[str] = Field(..., description="tracks in the list only because of the request's posts")
    left: list[str] = Field(..., description="tracks the list would hold without the request's posts")
    moved: int = Field(..., description="tracks in both lists at another rank")
    mean_contextual_attention: float | None


class ExplanationOut(BaseModel):
    kind: str = Field(..., description="attention, content (a user without history ranked from the posts "
                                       "sent alone), collaborative or popularity")
    recent_posts: int
    context: dict[str, dict[str, Any]]
    posts_changed: PostsEffectOut | None = Field(None, description="the list against the same request without its "
                                                              "posts (content models given posts)")
    notes: list[str]


class RecommendOut(BaseModel):
    user_id: str
    model: str
    time: int | None
    time_iso: str | None
    score_kind: str = Field(..., description="probability (sigmoid of the model's logit), popularity or score")
    items: list[ItemOut]
    explanation: ExplanationOut


class ErrorOut(BaseModel):
    """Every error answer: ``detail`` is a message, or a list of ``{loc, msg, type}`` for invalid fields."""

    detail: str | list[dict[str, Any]]


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "body is empty, not JSON (invalid UTF-8, syntax, nesting too deep) "
                                            "or not a JSON object"},
    404: {"model": ErrorOut, "description": "unknown user (and no posts to fall back on)"},
    413: {"model": ErrorOut, "description": "body over the size limit"},
    415: {"model": ErrorOut, "description": "Content-Type is not application/json (or application/*+json)"},
    422: {"model": ErrorOut, "description": "invalid field (named in loc)"},
    503: {"model": ErrorOut, "description": "server saturated or time budget spent; retry after Retry-After "
                                            "seconds", "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
}


def _parse(v: int | float | str, field: str) -> int:
    try:
        return parse_time(v, field)
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


def _safe(value: Any) -> Any:
    """Text that JSON can always carry: lone surrogates escaped, NaN/inf as text."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    return value


def _error(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": _safe(detail)}, status_code=status, headers=headers)


#: validation errors about the body as a whole (not one of its fields): empty, or not an object
_WHOLE_BODY = {"missing", "model_attributes_type", "model_type", "dict_type"}


def _is_json_type(content_type: str) -> bool:
    """``application/json`` or ``application/<anything>+json``, parameters (charset) aside."""
    main = content_type.split(";", 1)[0].strip().lower()
    return main == "application/json" or (main.startswith("application/") and main.endswith("+json"))


def _json_kind(value: Any) -> str:
    kinds = ((bool, "a boolean"), (int | float, "a number"), (str, "a string"), (list, "an array"))
    return next((name for t, name in kinds if isinstance(value, t)), "null" if value is None else "not an object")


def _body_error(request: Request, error: Any) -> JSONResponse:
    """400 for an empty body or JSON that is not an object, 415 for a body sent as another type."""
    if error.get("type") == "missing":
        return _error(400, "request body is empty: expected a JSON object")
    if not _is_json_type(request.headers.get("content-type", "")):
        return _error(415, "unsupported Content-Type: send the body as application/json")
    return _error(400, f"request body must be a JSON object, got {_json_kind(error.get('input'))}")


def _install_error_handlers(app: FastAPI) -> None:
    """Validation and HTTP errors answer ``{"detail": ...}`` with the statuses the schema documents
    (400 for a body that is not JSON, 422 for an invalid field), never echoing the input."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        whole = [e for e in exc.errors() if list(e.get("loc", ())) == ["body"] and e.get("type") in _WHOLE_BODY]
        if whole:  # the body as a whole: empty, another content type, or JSON that is not an object
            return _body_error(request, whole[0])
        # The input is never echoed: it may be NaN, a lone surrogate or megabytes of text.
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in exc.errors()]
        return _error(400 if any(e["type"] == "json_invalid" for e in errors) else 422, errors)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, exc.detail, dict(exc.headers or {}))


def _add_info_routes(app: FastAPI, bundle: ModelBundle, limits: ServeLimits, in_flight: dict[str, int]) -> None:
    """``GET /health`` and ``GET /metadata``; the metadata is computed once, when the app is made."""
    meta = bundle.metadata()

    @app.get("/health", responses={503: ERRORS[503]})
    def health() -> dict[str, Any]:
        """Liveness: the model is loaded and answering."""
        return {"status": "ok", "model": bundle.name, "in_flight": in_flight["n"]}

    @app.get("/metadata")
    def metadata() -> dict[str, Any]:
        """Model name, parameters, dataset statistics, feature groups, limits and saved metrics."""
        return {**meta, "limits": limits.to_dict()}


def _recommend_work(bundle: ModelBundle, limits: ServeLimits) -> Callable[[RecommendIn, float], dict[str, Any]]:
    """The blocking part of one request (media budget, featurising, ranking): run in the worker pool,
    off the event loop, so a slow request never stalls ``/health``."""

    def work(req: RecommendIn, deadline: float) -> dict[str, Any]:
        root = bundle.featurizer.media_root if bundle.featurizer is not None else None
        media, note = apply_media_budget(limits, root, [list(p.media) for p in req.posts])
        posts = [RecentPost(p.timestamp, p.text, m) for p, m in zip(req.posts, media, strict=True)]  # type: ignore[arg-type]
        result = recommend(bundle, req.user_id, req.k, req.time, posts, req.include_played,  # type: ignore[arg-type]
                           deadline=deadline)
        if note:
            result["explanation"]["notes"].append(note)
        return result

    return work


def _untimed_posts(req: RecommendIn) -> JSONResponse | None:
    """422 naming every post without a timestamp when the request gives no time either (else None)."""
    missing = [i for i, p in enumerate(req.posts) if p.timestamp is None] if req.time is None else []
    if not missing:
        return None
    return _error(422, [{"loc": ["body", "posts", i, "timestamp"], "type": "missing",
                         "msg": f"posts[{i}].timestamp: required when the request gives no time"} for i in missing])


def _is_heavy(req: RecommendIn, limits: ServeLimits, reads_media: bool) -> bool:
    """Media to read, or more text than a light request carries: such requests run in the heavy lane."""
    return (reads_media and any(p.media for p in req.posts)) or \
        sum(len(p.text or "") for p in req.posts) > limits.light_text_chars


def _add_recommend_route(app: FastAPI, bundle: ModelBundle, limits: ServeLimits, in_flight: dict[str, int]) -> None:
    """``POST /recommend``: limits checked first (k, post times, saturation: 503 with Retry-After), then
    the work under the request's time budget, counted from its arrival: light requests in a pool of
    ``limits.workers`` threads, heavy ones in a lane of ``limits.heavy_workers`` (they wait for each
    other, never the light ones for them)."""
    limiter, heavy = anyio.CapacityLimiter(limits.workers), anyio.CapacityLimiter(limits.heavy_workers)
    work = _recommend_work(bundle, limits)
    reads_media = bundle.featurizer is not None and bundle.featurizer.media_root is not None

    @app.post("/recommend", response_model=RecommendOut, response_model_by_alias=True, responses=ERRORS)
    async def recommend_endpoint(req: RecommendIn) -> Any:
        """Top-k tracks for a user, with attention weights (global vs contextual) per modality."""
        if req.k > limits.max_k:
            return _error(422, [{"loc": ["body", "k"], "msg": f"k must be at most {limits.max_k}", "type": "limit"}])
        untimed = _untimed_posts(req)
        if untimed is not None:
            return untimed
        if in_flight["n"] >= limits.workers + limits.queue:
            return _error(503, f"server saturated ({in_flight['n']} requests in flight); retry shortly",
                          {"Retry-After": str(limits.retry_after_s)})
        in_flight["n"] += 1
        try:
            # texts and media stop a little before the budget: the scoring and the answer fit in what is left
            deadline = clock.monotonic() + limits.time_budget_s - min(ANSWER_RESERVE_S, limits.time_budget_s / 10)
            lane = heavy if _is_heavy(req, limits, reads_media) else limiter
            return await anyio.to_thread.run_sync(work, req, deadline, limiter=lane)
        except UnknownUserError as exc:
            return _error(404, str(exc))
        except DataError as exc:
            return _error(422, str(exc))
        finally:
            in_flight["n"] -= 1


def create_app(bundle: ModelBundle, max_body_bytes: int | None = None, limits: ServeLimits | None = None,
               media_pool: bool = False) -> FastAPI:
    """The FastAPI app serving ``bundle`` (see the module docstring for the endpoints and limits).

    ``media_pool``: decode request media and featurise long request texts in low-priority worker
    processes (``amae serve`` does); a text still being read at its request's deadline is killed there.
    """
    limits = limits or ServeLimits(**({"max_body_bytes": max_body_bytes} if max_body_bytes else {}))
    app = FastAPI(title="amae", version="1", description="Music recommendation from social media content: "
                  f"model '{bundle.name}' ({bundle.label}). Every error answer is documented per endpoint.")
    in_flight = {"n": 0}  # requests being answered (queued or running), shared by /health and /recommend
    _install_error_handlers(app)
    _add_info_routes(app, bundle, limits, in_flight)
    if bundle.featurizer is not None:
        bundle.featurizer.light_text_chars = limits.light_text_chars
        if media_pool:
            bundle.featurizer.start_pools()
    _add_recommend_route(app, bundle, limits, in_flight)
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)
    return app
