"""Typed user content: what content-aware models read, built once per (workspace, split).

Why (the Cornac way): a model should not read the workspace itself. Each kind of user content is a
class with one ``build(workspace, dataset, split, **options)``; the experiment runner (through
``Recommender.prepare_content``) builds the kind a model declares (``content_kind``) and hands
it over in ``TrainData.content``. A new kind is a new subclass registered here with
:func:`register_content`; kinds that exist today:

* ``posts`` (:class:`amae.content.posts.PostContent`): the content store of post feature
  vectors, read per (user, time) as global and contextual means (AMAE);
* ``emotions`` (:class:`amae.content.emotion.EmotionContent`): per-post emotion vectors (UCFE);
* ``words`` (:class:`amae.content.words.BagOfWords`): each user's training-period bag of
  words (MF_S, PMF_S).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, TypeVar


class UserContent(ABC):
    """Content about users, built once per split and shared by every model that reads its kind."""

    kind: ClassVar[str] = ""

    @classmethod
    @abstractmethod
    def build(cls, workspace: Path, dataset: Any, split: Any, **options: Any) -> UserContent:
        """Read what this kind needs from the workspace, restricted to what the split allows."""


USER_CONTENT: dict[str, type[UserContent]] = {}
C = TypeVar("C", bound=type[UserContent])


def register_content(cls: C) -> C:
    """Register a :class:`UserContent` kind under its ``kind`` name."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    USER_CONTENT[cls.kind] = cls
    return cls


def content_class(kind: str) -> type[UserContent]:
    """The registered class of a content kind.

    A kind registers when its module is imported, and a model's module imports the kind it reads
    (AMAE ``posts``, UCFE ``emotions``, MF_S/PMF_S ``words``), so every registered model's kind is
    here; this module imports none of them (no import cycle).
    """
    if kind not in USER_CONTENT:
        raise KeyError(f"unknown user content kind '{kind}' (known: {sorted(USER_CONTENT)}; a kind registers when "
                       "its module is imported)")
    return USER_CONTENT[kind]
