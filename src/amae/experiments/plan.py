"""Which (method, parameters) cells each of the paper's tables runs, as plain data.

Tables II-IV are lists of :class:`Row`; a row names a registered model and the parameters that
make it the row (feature switches for Table III, ablation switches for Table IV). Keeping the
plan as data means a row can be added or a switch renamed without touching the runner, and the
same (model, params) shared by several tables (the full MF+AMAE model is in II, III and IV) is
trained once: cells are keyed by a label derived from the model and its row parameters.

Whether a row can run on a dataset is decided here too (:func:`applicability`), so content
methods on a content-free dataset, or models not registered yet, are reported as "not
applicable" with a reason instead of failing the experiment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The switches AMAE rows use (DESIGN section 6). Defaults = the full model.
FULL_FEATURES: dict[str, Any] = {"modalities": ["text", "visual"], "groups": ["handcrafted", "deep"],
                                 "contexts": ["global", "contextual"]}
ABLATIONS = ("no_reconstruction", "no_cross_modal", "no_finetune", "no_attention")
BACKBONES = (("MF", "mf+amae"), ("DMF", "dmf+amae"))
TABLES = ("II", "III", "IV")
#: The method every other is compared with (paired bootstrap of the difference).
REFERENCE_LABEL = "mf"


@dataclass(frozen=True)
class Row:
    """One line of a table: the display name, the registered model and its row parameters.

    ``label`` is the cell folder name under ``WS/models/`` (``<label>-seed<k>``); rows with the
    same label share their trained cells across tables.
    """

    name: str
    model: str
    label: str
    params: dict[str, Any] = field(default_factory=dict)
    backbone: str = ""
    #: key of the paper's number for this row in :mod:`amae.experiments.paper_numbers`
    paper_key: str = ""


def _feature_rows(backbone: str, model: str) -> list[Row]:
    """Table III: one modality, one feature group, one context at a time, then everything."""
    variants: list[tuple[str, str, dict[str, Any]]] = [
        ("text only", "text", {"modalities": ["text"]}),
        ("visual only", "visual", {"modalities": ["visual"]}),
        ("handcrafted only", "hand", {"groups": ["handcrafted"]}),
        ("deep only", "deep", {"groups": ["deep"]}),
        ("global only", "global", {"contexts": ["global"]}),
        ("contextual only", "ctx", {"contexts": ["contextual"]}),
    ]
    rows = [Row(f"{backbone}+AMAE ({name})", model, f"{model}-{tag}", {**FULL_FEATURES, **switch}, backbone,
                f"III/{backbone}/{tag}") for name, tag, switch in variants]
    rows.append(Row(f"{backbone}+AMAE (all)", model, model, {}, backbone, f"III/{backbone}/all"))
    return rows


def _ablation_rows(backbone: str, model: str) -> list[Row]:
    """Table IV: each ablation switched on alone, and the full model."""
    short = {"no_reconstruction": "norecon", "no_cross_modal": "nocross", "no_finetune": "noft",
             "no_attention": "noatt"}
    rows = [Row(f"{backbone}+AMAE w/o {a[3:].replace('_', ' ')}", model, f"{model}-{short[a]}", {a: True},
                backbone, f"IV/{backbone}/{short[a]}") for a in ABLATIONS]
    rows.append(Row(f"{backbone}+AMAE (full)", model, model, {}, backbone, f"IV/{backbone}/full"))
    return rows


def table_rows(table: str) -> list[Row]:
    """The rows of Table ``II``, ``III`` or ``IV``."""
    if table == "II":
        return [Row("ItemPop", "itempop", "itempop", paper_key="II/itempop"),
                Row("MF", "mf", "mf", paper_key="II/mf"),
                Row("DMF", "dmf", "dmf", paper_key="II/dmf"),
                Row("UCFE", "ucfe", "ucfe", paper_key="II/ucfe"),
                Row("MF_S", "mf_s", "mf_s", paper_key="II/mf_s"),
                Row("PMF_S", "pmf_s", "pmf_s", paper_key="II/pmf_s"),
                Row("MF+AMAE", "mf+amae", "mf+amae", backbone="MF", paper_key="II/mf+amae"),
                Row("DMF+AMAE", "dmf+amae", "dmf+amae", backbone="DMF", paper_key="II/dmf+amae")]
    if table == "III":
        return [r for b, m in BACKBONES for r in _feature_rows(b, m)]
    if table == "IV":
        return [r for b, m in BACKBONES for r in _ablation_rows(b, m)]
    raise ValueError(f"unknown table '{table}' (use {', '.join(TABLES)})")


TABLE_TITLES = {
    "II": "Table II: recommendation performance of all methods",
    "III": "Table III: feature groups (text/visual, handcrafted/deep, global/contextual), both backbones",
    "IV": "Table IV: ablations of AMAE, both backbones",
}


def parse_tables(spec: str | list[str]) -> list[str]:
    """``"II,III,case"`` or ``["II", "case"]`` -> validated, ordered, de-duplicated names."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [s.strip() for s in items if s.strip()]
    known = (*TABLES, "case")
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"unknown table(s) {bad} (use any of {', '.join(known)})")
    return [n for n in known if n in names]


def applicability(row: Row, registry: dict[str, Any], has_content: bool,
                  feature_groups: list[str] | None = None) -> str | None:
    """``None`` when the row can run, else the reason it is not applicable (shown in reports).

    A content model needs posts and extracted features; a model that is not registered (not
    implemented in this installation) cannot run at all.
    """
    cls = registry.get(row.model)
    if cls is None:
        return f"model '{row.model}' is not available in this installation"
    if getattr(cls, "needs_content", False):
        if not has_content:
            return "the dataset has no posts (content methods need social media content)"
        if feature_groups is not None and not feature_groups:
            return "no post features were extracted"
        wanted = _wanted_groups(row.params)
        if feature_groups is not None and wanted is not None and not wanted & set(feature_groups):
            return f"none of the feature groups {sorted(wanted)} were extracted"
    return None


def _wanted_groups(params: dict[str, Any]) -> set[str] | None:
    """Feature groups (``text_h``...) a row's switches select, or None when it uses the model default."""
    if not any(k in params for k in FULL_FEATURES):
        return None
    mods = params.get("modalities", FULL_FEATURES["modalities"])
    groups = params.get("groups", FULL_FEATURES["groups"])
    return {f"{m}_{g[0]}" for m in mods for g in groups}
