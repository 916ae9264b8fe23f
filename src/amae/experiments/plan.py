"""Which (method, parameters) cells each of the paper's tables runs, as plain data.

Tables II-IV are lists of :class:`Row`, row for row as in the paper; a row names a registered
model and the parameters that make it the row (feature switches for Table III, ablation switches
for Table IV). Keeping the plan as data means a row can be added or a switch renamed without
touching the runner, and the same (model, params) shared by several tables (the full MF+AMAE model
is in II, III and IV; MF is Table III's "None") is trained once: cells are keyed by a label.

Every AMAE row also runs its two **controls** (:func:`control_rows`): the same model and schedule
with the post features replaced by seeded noise of the same per-dimension mean and std, and with
each user's posts given to another user. A content gain counts only against them.

Whether a row can run on a dataset is decided here too (:func:`applicability`), so content
methods on a content-free dataset, rows that need a modality without data, or models not
registered, are reported as "not applicable" with a reason instead of failing the experiment.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from amae.experiments.paper_numbers import paper_key

#: The switches AMAE rows use (docs/design.md section 6.5). Defaults = the full model.
FULL_FEATURES: dict[str, Any] = {"modalities": ["text", "visual"], "groups": ["handcrafted", "deep"],
                                 "contexts": ["global", "contextual"]}
BACKBONES = (("MF", "mf", "mf+amae"), ("DMF", "dmf", "dmf+amae"))
TABLES = ("II", "III", "IV")
#: The method every other is compared with (paired difference with its interval).
REFERENCE_LABEL = "mf"
#: control name -> (label suffix, model params that make it)
CONTROLS: dict[str, tuple[str, dict[str, Any]]] = {
    "noise": ("~noise", {"control": "noise"}),
    "shuffle": ("~shuffle", {"control": "shuffle"}),
}


@dataclass(frozen=True)
class Row:
    """One line of a table: the display name, the registered model and its row parameters.

    ``label`` is the cell folder name under ``WS/models/`` (``<label>-seed<k>``); rows with the
    same label share their trained cells across tables. ``controlled`` rows (AMAE) get a noise and
    a shuffled control; ``control`` names the control a row *is* (``""`` for a real row).
    """

    name: str
    model: str
    label: str
    params: dict[str, Any] = field(default_factory=dict)
    backbone: str = ""
    #: key of the paper's number for this row (see :mod:`amae.experiments.paper_numbers`)
    paper_key: str = ""
    controlled: bool = False
    control: str = ""
    #: for a control row: the label of the row it controls
    of: str = ""


def control_rows(row: Row) -> dict[str, Row]:
    """The noise and shuffled controls of a content row (none for other rows)."""
    if not row.controlled:
        return {}
    return {name: replace(row, name=f"{row.name} [{name} control]", label=row.label + suffix,
                          params={**row.params, **extra}, paper_key="", controlled=False, control=name,
                          of=row.label)
            for name, (suffix, extra) in CONTROLS.items()}


#: Table III, as in the paper: (row name, label suffix, switches); "None" is the backbone alone.
FEATURE_VARIANTS: list[tuple[str, str, dict[str, Any]]] = [
    ("Textual-H", "text-h", {"modalities": ["text"], "groups": ["handcrafted"]}),
    ("Textual-D", "text-d", {"modalities": ["text"], "groups": ["deep"]}),
    ("Textual-All", "text", {"modalities": ["text"]}),
    ("Visual-H", "visual-h", {"modalities": ["visual"], "groups": ["handcrafted"]}),
    ("Visual-D", "visual-d", {"modalities": ["visual"], "groups": ["deep"]}),
    ("Visual-All", "visual", {"modalities": ["visual"]}),
    ("Textual+Visual-G", "g", {"contexts": ["global"]}),
    ("Textual+Visual-C", "c", {"contexts": ["contextual"]}),
]
#: Table IV, as in the paper: (row name, CSV row name, label suffix, switch)
ABLATIONS: list[tuple[str, str, str, str]] = [
    ("−Reconstruction loss", "Reconstruction Loss", "norecon", "no_reconstruction"),
    ("−Cross-modal loss", "Cross-Modal Loss", "nocross", "no_cross_modal"),
    ("−Weights fine-tuning", "Weights Fine-tuning", "noft", "no_finetune"),
    ("−Attentive module", "Attentive Module", "noatt", "no_attention"),
]


def _feature_rows(backbone: str, plain: str, model: str) -> list[Row]:
    rows = [Row(f"{backbone}: None", plain, plain, {}, backbone, paper_key("III", "None", backbone))]
    rows += [Row(f"{backbone}: {name}", model, f"{model}-{tag}", {**FULL_FEATURES, **switch}, backbone,
                 paper_key("III", name, backbone), controlled=True) for name, tag, switch in FEATURE_VARIANTS]
    rows.append(Row(f"{backbone}: Textual+Visual", model, model, {}, backbone,
                    paper_key("III", "Textual+Visual", backbone), controlled=True))
    return rows


def _ablation_rows(backbone: str, model: str) -> list[Row]:
    rows = [Row(f"{backbone}+AMAE: None removed", model, model, {}, backbone,
                paper_key("IV", "None removed", backbone), controlled=True)]
    rows += [Row(f"{backbone}+AMAE: {name}", model, f"{model}-{tag}", {switch: True}, backbone,
                 paper_key("IV", csv_name, backbone), controlled=True) for name, csv_name, tag, switch in ABLATIONS]
    return rows


#: rows of ours beside the paper's (no published number to show)
NOT_IN_PAPER = {"UserPop"}


def table_rows(table: str) -> list[Row]:
    """The rows of Table ``II``, ``III`` or ``IV``."""
    if table == "II":
        plain = [("ItemPop", "itempop"), ("UserPop", "userpop"), ("MF", "mf"), ("DMF", "dmf"), ("UCFE", "ucfe"),
                 ("MF_S", "mf_s"), ("PMF_S", "pmf_s")]
        rows = [Row(name, model, model, paper_key="" if name in NOT_IN_PAPER else paper_key("II", name))
                for name, model in plain]
        return rows + [Row("MF+AMAE", "mf+amae", "mf+amae", backbone="MF", paper_key=paper_key("II", "MF+AMAE"),
                           controlled=True),
                       Row("DMF+AMAE", "dmf+amae", "dmf+amae", backbone="DMF",
                           paper_key=paper_key("II", "DMF+AMAE"), controlled=True)]
    if table == "III":
        return [r for b, plain, m in BACKBONES for r in _feature_rows(b, plain, m)]
    if table == "IV":
        return [r for b, _, m in BACKBONES for r in _ablation_rows(b, m)]
    raise ValueError(f"unknown table '{table}' (use {', '.join(TABLES)})")


TABLE_TITLES = {
    "II": "Table II: recommendation performance of all methods",
    "III": "Table III: feature groups (textual/visual, handcrafted/deep, global/contextual), both backbones",
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
                  feature_groups: list[str] | None = None, usable: dict[str, int] | None = None) -> str | None:
    """``None`` when the row can run, else the reason it is not applicable (shown in reports).

    A content model needs posts and extracted features; a row whose modalities all lack data
    (``usable``: posts carrying each modality) cannot run; a model that is not registered (not
    implemented in this installation) cannot run at all.
    """
    cls = registry.get(row.model)
    if cls is None:
        return f"model '{row.model}' is not available in this installation"
    if not getattr(cls, "needs_content", False):
        return None
    if not has_content:
        return "the dataset has no posts (content methods need social media content)"
    if feature_groups is not None and not feature_groups:
        return "no post features were extracted"
    wanted = _wanted_groups(row.params)
    if feature_groups is not None and wanted is not None:
        lacking = sorted(wanted - set(feature_groups))
        if lacking:
            return f"feature group(s) {lacking} were not extracted"
    if usable is not None and "modalities" in getattr(cls, "default_params", {}):
        mods = row.params.get("modalities", FULL_FEATURES["modalities"])
        if not any(usable.get(m, 0) > 0 for m in mods):
            from amae.features.modalities import POST_MODALITIES

            return "; ".join(f"{m}: {POST_MODALITIES[m].absent_reason}" for m in mods)
    return None


def _wanted_groups(params: dict[str, Any]) -> set[str] | None:
    """Feature groups (``text_h``...) a row's switches select, or None when it uses the model default."""
    if not any(k in params for k in FULL_FEATURES):
        return None
    mods = params.get("modalities", FULL_FEATURES["modalities"])
    groups = params.get("groups", FULL_FEATURES["groups"])
    return {f"{m}_{g[0]}" for m in mods for g in groups}
