"""Post modalities: the one place that says what a kind of post content is.

A modality (text, visual; tomorrow audio or location) is registered here once: which feature
groups it has (handcrafted, deep), which flag marks a post that lacks it, and how to say that no
post carries it. The extraction pipeline, the content store, the experiment runner, coverage
tables and serving all read this registry instead of keeping their own lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: the group kinds a modality may have, in the order their columns are concatenated
GROUP_KINDS = ("handcrafted", "deep")


@dataclass(frozen=True)
class PostModality:
    """One kind of post content and its feature groups (``amae features`` outputs)."""

    name: str
    groups: dict[str, str] = field(default_factory=dict)  # group kind -> group file name
    missing_flag: str = ""  # flag column of ``features/<name>/flags.parquet`` for posts without it
    absent_reason: str = ""  # why a model leaves it out when no post carries it

    def group_files(self, kinds: list[str] | tuple[str, ...] = GROUP_KINDS) -> list[str]:
        """The group files of the given kinds, in :data:`GROUP_KINDS` order."""
        return [self.groups[k] for k in GROUP_KINDS if k in kinds and k in self.groups]


POST_MODALITIES: dict[str, PostModality] = {}


def register_post_modality(modality: PostModality) -> PostModality:
    """Add a modality to the registry (names are unique)."""
    if modality.name in POST_MODALITIES:
        raise ValueError(f"post modality '{modality.name}' is already registered")
    POST_MODALITIES[modality.name] = modality
    return modality


def all_group_files() -> tuple[str, ...]:
    """Every feature group file of every registered modality."""
    return tuple(g for m in POST_MODALITIES.values() for g in m.group_files())


def modality_of_group(group: str) -> str:
    """The modality a feature group file belongs to."""
    for m in POST_MODALITIES.values():
        if group in m.groups.values():
            return m.name
    raise KeyError(f"no registered modality has the feature group '{group}'")


register_post_modality(PostModality("text", {"handcrafted": "text_h", "deep": "text_d"}, "text_empty",
                                    "no post has text"))
register_post_modality(PostModality("visual", {"handcrafted": "visual_h", "deep": "visual_d"}, "visual_none",
                                    "no post has usable media (images or video frames)"))
