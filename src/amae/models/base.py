"""The one model interface every recommender implements, and the data it is fitted on.

``score(users, items, times)`` takes an (n, k) item matrix so that evaluation and serving score
whole candidate blocks at once; ``times`` lets content models look at the posts before each case.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from amae.content.kinds import UserContent, content_class
from amae.models.stages import STOP_VIEWS
from amae.protocol.split import EvalCases


@dataclass
class TrainData:
    """What a model may see when fitting: the fit rows, the validation cases, optional content.

    ``rows`` are positions of the fit records in the dataset's interaction table. ``content`` is
    the typed user content of the kind the model declares (``Recommender.content_kind``, built by
    ``prepare_content``); collaborative models get None.
    """

    n_users: int
    n_items: int
    users: np.ndarray
    items: np.ndarray
    times: np.ndarray
    valid: EvalCases | None = None
    rows: np.ndarray | None = None
    content: UserContent | None = None
    seed: int = 0
    device: str = "cpu"
    extras: dict = field(default_factory=dict)


class Recommender(ABC):
    """Base class: ``fit``, ``score``, ``save``, ``load``. Subclasses register by ``name``."""

    name: ClassVar[str] = ""
    #: the kind of user content the model reads (``amae.content.kinds``: "posts",
    #: "emotions", "words"), or None for a purely collaborative model
    content_kind: ClassVar[str | None] = None
    #: True when the model reads content; such models are "not applicable" on content-free data
    needs_content: ClassVar[bool] = False
    #: What ``amae experiment --tune N`` searches, declared once per model: parameter ->
    #: ``("float", low, high, log)``, ``("int", low, high, log)`` or ``("categorical", [choices])``.
    #: Empty: nothing to tune (the model is then run on its defaults and the report says so).
    search_space: ClassVar[dict[str, tuple]] = {}
    #: True when ``score`` returns logits (so ``sigmoid(score)`` is the predicted probability of a play)
    score_is_logit: ClassVar[bool] = False
    #: The model's training and format version: bumped when the same data, parameters and seed
    #: would give other numbers, or the saved weights change layout. It is part of every cell's
    #: and tuning record's manifest, so a result of another version is recomputed, never reused,
    #: and a saved model of another version is refused on load (retrain it).
    version: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.needs_content = cls.content_kind is not None

    def __init__(self, **params: Any) -> None:
        unknown = [msg for msg in check_params(type(self), params) if msg.startswith("unknown parameter")]
        if unknown:  # a mistyped switch must not be silently ignored (e.g. control= on a model without one)
            raise ValueError("; ".join(unknown))
        self.params = params
        self.history: list[dict] = []
        #: how training ended (best epoch, epochs run, stop reason; see amae.training.trainer.FitOutcome)
        self.fit_outcome: dict[str, Any] | None = None

    @classmethod
    def content_options(cls, params: dict[str, Any]) -> dict[str, Any]:
        """The options of this model's content kind taken from its parameters (defaults merged in)."""
        return {}

    @classmethod
    def prepare_content(cls, workspace: Path, dataset: Any, split: Any, params: dict[str, Any]) -> UserContent | None:
        """Build the user content this model reads (None for collaborative models).

        The model never reads the workspace itself: the content kind does, once per split, and the
        result is handed over in ``TrainData.content``.
        """
        if cls.content_kind is None:
            return None
        return content_class(cls.content_kind).build(Path(workspace), dataset, split, **cls.content_options(params))

    @abstractmethod
    def fit(self, data: TrainData) -> Recommender: ...

    @abstractmethod
    def score(self, users: np.ndarray, items: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        """Scores of shape ``items.shape`` (n, k): higher means more likely to be played."""

    @abstractmethod
    def save(self, folder: Path) -> None: ...

    @classmethod
    @abstractmethod
    def load(cls, folder: Path) -> Recommender: ...


#: The search space every factorisation model shares (learning rate, L2, latent size); models add theirs.
LEARNING_SPACE: dict[str, tuple] = {"lr": ("float", 1e-4, 3e-2, True), "l2": ("float", 1e-8, 1e-3, True),
                                    "dim": ("categorical", [8, 16, 32, 64])}

REGISTRY: dict[str, type[Recommender]] = {}


def register(cls: type[Recommender]) -> type[Recommender]:
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    REGISTRY[cls.name] = cls
    return cls


def as_2d(users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accept (n,) items too: returns int64 users (n,) and items (n, k)."""
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    if items.ndim == 1:
        items = items[:, None]
    if items.shape[0] != users.shape[0]:
        raise ValueError(f"score: {users.shape[0]} users but {items.shape[0]} item rows")
    return users, items


def did_you_mean(name: str, choices: list[str]) -> str:
    """``"did you mean 'x'? "`` for the closest of ``choices`` to a mistyped ``name``, or ``""``."""
    import difflib

    close = difflib.get_close_matches(name, choices, n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def known_params(cls: type[Recommender]) -> dict[str, Any]:
    """Every parameter a model takes, with its default: the one declaration its values are checked against."""
    out: dict[str, Any] = {"progress": True}
    out.update(getattr(cls, "train_defaults", {}))
    out.update(getattr(cls, "default_params", {}))
    return out


#: parameters whose type is not their default's: name -> (accepted types, how to say it)
PARAM_TYPES: dict[str, tuple[tuple[type, ...], str]] = {"sparse": ((bool, str), 'true, false or "auto"')}
#: bounds of parameters whose legal range is narrower than "a number of the default's type, >= 0"
PARAM_RANGES: dict[str, tuple[float, float]] = {"code_dropout": (0.0, 0.999), "global_dropout": (0.0, 0.999),
                                                "sdae_noise": (0.0, 0.999),
                                                "emotion_floor": (0.0, 1.0)}
#: string parameters that name one of a few options
PARAM_CHOICES: dict[str, tuple[str, ...]] = {"stop_on": STOP_VIEWS}


def check_params(cls: type[Recommender], params: dict[str, Any]) -> list[str]:
    """Problems with ``params`` for model ``cls``: unknown names (with the closest known one) and values
    of the wrong type or out of range, each naming the parameter. Empty: all fine."""
    import math

    known = known_params(cls)
    problems = []
    for key, value in params.items():
        if key not in known:
            hint = did_you_mean(key, list(known))
            names = sorted(k for k in known if k != "progress")
            problems.append(f"unknown parameter '{key}' for model '{cls.name}' ({hint}"
                            + (f"known: {', '.join(names)})" if names else "it takes no parameters)"))
            continue
        default = known[key]
        if key in PARAM_TYPES:
            ok = isinstance(value, PARAM_TYPES[key][0])
            if not ok:
                problems.append(f"parameter '{key}' of model '{cls.name}': expected {PARAM_TYPES[key][1]}, "
                                f"got {value!r}")
            continue
        if isinstance(default, bool):
            ok = isinstance(value, bool)
            want = "true or false"
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
            want = "an integer"
        elif isinstance(default, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            want = "a number"
        elif isinstance(default, list):
            ok = isinstance(value, list)
            want = "a list such as [\"text\"]"
        elif isinstance(default, str):
            ok = isinstance(value, str) and value in PARAM_CHOICES.get(key, (value,))
            want = f"one of {', '.join(PARAM_CHOICES[key])}" if key in PARAM_CHOICES else "a string"
        else:
            ok, want = True, ""
        if not ok:
            problems.append(f"parameter '{key}' of model '{cls.name}': expected {want}, got {value!r}")
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            lo, hi = PARAM_RANGES.get(key, (1 if isinstance(default, int) and default > 0 else 0, math.inf))
            if not lo <= value <= hi:
                problems.append(f"parameter '{key}' of model '{cls.name}': {value!r} is out of range "
                                f"[{lo}, {hi if hi != math.inf else 'inf'}]")
    return problems
