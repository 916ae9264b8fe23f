"""The paper's published Table II-IV numbers, shown beside ours where the rows match.

They were measured on the authors' private dataset (163k users of a Chinese music platform with
their social media posts), not on the dataset of any amae run, so they are context, never a
target to compare against. The reports label them so.

Status: the values have **not been transcribed yet** (no copy of the paper's tables was
available when this module was written). Each key is present with ``None``; fill in
``{"HR@10": x, "NDCG@10": y}`` from the paper to make them appear in reports. Do not guess.
"""

from __future__ import annotations

PROVENANCE = ("Shen et al., 'Enhancing Music Recommendation with Social Media Content: an Attentive "
              "Multimodal Autoencoder Approach' - measured on a different, private dataset "
              "(sampled protocol, 1 positive + 99 negatives)")
NOT_TRANSCRIBED = "not transcribed"

_II = ("itempop", "mf", "dmf", "ucfe", "mf_s", "pmf_s", "mf+amae", "dmf+amae")
_III = ("text", "visual", "hand", "deep", "global", "ctx", "all")
_IV = ("norecon", "nocross", "noft", "noatt", "full")

#: paper key (see :class:`amae.experiments.plan.Row.paper_key`) -> {"HR@10", "NDCG@10"} or None
PAPER: dict[str, dict[str, float] | None] = {
    **{f"II/{m}": None for m in _II},
    **{f"III/{b}/{v}": None for b in ("MF", "DMF") for v in _III},
    **{f"IV/{b}/{v}": None for b in ("MF", "DMF") for v in _IV},
}


def paper_value(key: str) -> dict[str, float] | str | None:
    """The paper's numbers for a row, ``NOT_TRANSCRIBED`` when the row exists in the paper but the
    value is missing here, or None when the row has no counterpart in the paper."""
    if not key or key not in PAPER:
        return None
    value = PAPER[key]
    return NOT_TRANSCRIBED if value is None else dict(value)
