"""AMAE: attentive multimodal autoencoders on top of an MF or DMF backbone (docs/design.md section 6.4).

Per modality an autoencoder encodes the user's global vector ``x^g`` and contextual vector ``x^c``
(posts of the 24 h before the interaction); attention over the two codes, conditioned on the user
and the item, gives ``z^A``; the score is ``sigmoid([p_u, z^A, z^B, ...] . q_m)`` (Eq. 13) with
``q_m`` of size d(|M|+1). Training has two stages: (1) the autoencoders alone on all training
rows' g and c inputs with reconstruction + cross-modal + L2 (Eq. 9); (2) the whole model with BCE
+ L2 through the shared pointwise trainer, early-stopped on validation NDCG@10.

Switches (model params, so they travel through config and ``--param``): ``modalities``, ``groups``,
``contexts`` (Table III), ``no_reconstruction``, ``no_cross_modal``, ``no_finetune``,
``no_attention`` (Table IV), ``literal_relu``, ``control`` (``noise`` or ``shuffle``: the content controls).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from amae.data.io import atomic_path, read_json
from amae.features.content import (
    ContextEncoder,
    ModalityPosts,
    PostContent,
    relocate_source,
    reopen_posts,
    resolve_control,
    select_groups,
)
from amae.features.standardize import Standardizer
from amae.features.store import release_pages
from amae.models.attention import ContextAttention
from amae.models.autoencoder import Autoencoder, cross_modal_loss
from amae.models.base import LEARNING_SPACE, TrainData, as_2d, register
from amae.models.dmf import DMFModule, csr, placeholder_csr
from amae.models.mf import MFModule
from amae.models.stages import MinibatchStage, PointwiseStage, Stage, StepFn
from amae.models.torch_base import TorchRecommender

CONTEXTS = ("global", "contextual")
#: what the contextual code is: the window's own code (the paper), or its difference to the
#: user's global code ("deviation": today's change, with the user's identity taken out)
CONTEXT_INPUTS = ("raw", "deviation")


@dataclass
class WindowRows:
    """One modality's contextual inputs of a batch: the standardised window means of the cases at
    ``index`` (those whose window holds posts). Every other case's contextual input is its global
    vector (the paper's padding), so its contextual code *is* its global code: it is not gathered,
    standardised or encoded a second time (88% of the demo world's visual windows are empty)."""

    index: torch.Tensor  # (k,) int64 case positions
    rows: torch.Tensor  # (k, D)

    def dense(self, global_rows: torch.Tensor) -> torch.Tensor:
        """The (n, D) contextual inputs: ``global_rows`` with the windowed cases' rows in place."""
        return global_rows.index_copy(0, self.index, self.rows)

    @classmethod
    def of(cls, parts: dict[str, tuple[np.ndarray, np.ndarray]], device: torch.device) -> dict[str, WindowRows]:
        """From :meth:`ContextEncoder.window_rows` arrays."""
        return {m: cls(torch.from_numpy(idx).to(device), torch.from_numpy(x).to(device))
                for m, (idx, x) in parts.items()}


ContextBatch = dict[str, WindowRows]


# -- the model ------------------------------------------------------------------------------------
class AMAEModule(nn.Module):
    """Backbone + one autoencoder per modality + attention; global vectors kept as buffers."""

    def __init__(self, backbone: nn.Module, dims: dict[str, int], n_users: int, cfg: dict[str, Any],
                 n_items: int = 0) -> None:
        super().__init__()
        d = int(cfg["dim"])
        self.backbone = backbone
        self.n_items = int(n_items)
        #: item-only parts of every catalogue item while evaluating (weights cannot change then)
        self._item_cache: tuple[torch.Tensor, dict[str, torch.Tensor]] | None = None
        self.modalities = list(dims)
        self.contexts = [c for c in CONTEXTS if c in cfg["contexts"]]
        self.use_attention = not cfg["no_attention"] and len(self.contexts) > 1
        self.dim = d
        self.code_dropout = float(cfg.get("code_dropout", 0.0))
        #: the global code's own rate (None: code_dropout): it carries who the user is, not today
        self.global_dropout = cfg.get("global_dropout")
        self.global_dropout = self.code_dropout if self.global_dropout is None or self.global_dropout < 0 \
            else float(self.global_dropout)
        self.deviation = cfg.get("context_input", "raw") == "deviation"
        per_mod = d * (len(self.contexts) if cfg["no_attention"] else 1)
        self.item_dim = d + per_mod * len(self.modalities)
        self.aes = nn.ModuleDict({m: Autoencoder(dims[m], cfg["ae_hidden"], d, not cfg["no_reconstruction"],
                                                 cfg["literal_relu"]) for m in self.modalities})
        self.attention = nn.ModuleDict({m: ContextAttention(d, d, self.item_dim, d) for m in self.modalities}
                                       if self.use_attention else {})
        for m in self.modalities:
            self.register_buffer(f"global_{m}", torch.zeros(n_users, dims[m]))

    def global_vectors(self, m: str) -> torch.Tensor:
        return getattr(self, f"global_{m}")

    def train(self, mode: bool = True) -> AMAEModule:
        self._item_cache = None  # weights may change from here on
        return super().train(mode)

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        self._item_cache = None
        super()._load_from_state_dict(*args, **kwargs)

    def item_side(self, items: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor] | None]:
        """``q_m`` of the items and, for attention, their item-only hidden part per modality.

        While evaluating both are computed once for the whole catalogue and gathered per batch:
        a scoring batch of 4,096 cases x 100 candidates would otherwise recompute them for
        400k (case, candidate) cells, most of them the same few thousand items.
        """
        if self.training or self.n_items <= 0:
            return self.backbone.items(items), None
        if self._item_cache is None:
            with torch.no_grad():
                q_all = self.backbone.items(torch.arange(self.n_items, device=items.device))
                parts = {m: att.item_part(q_all) for m, att in self.attention.items()}
            self._item_cache = (q_all, parts)
        q_all, parts = self._item_cache
        return q_all[items], {m: x[items] for m, x in parts.items()}

    def codes(self, u: torch.Tensor, ctx: ContextBatch) -> dict[str, torch.Tensor]:
        """Per modality the ``(n, C, d)`` codes of the switched-on contexts, in ``CONTEXTS`` order.

        The global inputs and the non-empty windows go through the autoencoder as one batch (one
        kernel per layer); an empty window's contextual code is its global code (see
        :class:`WindowRows`; a modality missing from ``ctx`` has every window empty).
        """
        out = {}
        n = len(u)
        for m in self.modalities:
            g = self.global_vectors(m)[u]
            window = ctx.get(m)
            has_rows = window is not None and len(window.index) > 0
            z_all = self.aes[m].encode_rows(g, window.rows) if has_rows else self.aes[m](g)
            z_g = z_all[:n]
            z_c = z_g.index_copy(0, window.index, z_all[n:]) if has_rows else z_g
            # "deviation": the window's code relative to the user's own global code, so the
            # contextual path carries what changed today, not who the user is (empty window: 0).
            by_context = {"global": z_g, "contextual": z_c - z_g if self.deviation else z_c}
            z = torch.stack([by_context[c] for c in self.contexts], dim=1)
            if self.training and (self.code_dropout > 0 or self.global_dropout > 0):
                # Dropout on the codes in stage 2: content that does not predict listening is
                # shrunk instead of memorised record by record (the noise-feature check).
                if self.global_dropout == self.code_dropout:
                    z = F.dropout(z, self.code_dropout)
                else:
                    z = torch.stack([F.dropout(z[:, j], self.global_dropout if c == "global" else self.code_dropout)
                                     for j, c in enumerate(self.contexts)], dim=1)
            out[m] = z
        return out

    def predict(self, p: torch.Tensor, q: torch.Tensor, codes: dict[str, torch.Tensor],
                item_parts: dict[str, torch.Tensor] | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Eq. 13 for ``p`` (n, d), ``q`` (n, k, dq), codes (n, C, d): logits (n, k), attention (n, k, C)."""
        d = self.dim
        logits = torch.einsum("nd,nkd->nk", p, q[..., :d])
        weights: dict[str, torch.Tensor] = {}
        at = d
        for m in self.modalities:
            z = codes[m]
            if self.use_attention:
                alpha = self.attention[m](z, p, q, None if item_parts is None else item_parts[m])
                # z^A . q = sum_c alpha_c (z^c . q): no (n, k, d) mixture is built.
                dots = torch.einsum("ncd,nkd->nkc", z, q[..., at : at + d])
                logits = logits + (alpha * dots).sum(-1)
                weights[m] = alpha
                at += d
            else:  # no_attention concatenates the codes (or there is just one)
                width = z.shape[1] * d
                logits = logits + torch.einsum("nf,nkf->nk", z.reshape(len(z), width), q[..., at : at + width])
                at += width
        return logits, weights

    def logits(self, u: torch.Tensor, i: torch.Tensor, ctx: ContextBatch) -> torch.Tensor:
        p, q = self.backbone.pair(u, i)
        return self.predict(p, q[:, None, :], self.codes(u, ctx))[0][:, 0]

    def record_logits(self, unique: torch.Tensor, inverse: torch.Tensor, u: torch.Tensor, i: torch.Tensor,
                      ctx: ContextBatch) -> torch.Tensor:
        """Training rows' logits with each record's codes computed once for all its rows.

        A positive and its negatives share the record's (user, time) content, so its autoencoder
        codes (and their dropout mask) are the same for all of them: ``ctx`` holds the contextual
        inputs of the batch's ``unique`` records (``record = unique[inverse]``), encoded once and
        expanded. With record-grouped batches that is 1 encoding per 4 rows.
        """
        first = torch.zeros_like(unique).scatter_(0, inverse, torch.arange(len(inverse), device=inverse.device))
        codes = self.codes(u[first], ctx)
        rows = {m: z[inverse] for m, z in codes.items()}
        p, q = self.backbone.pair(u, i)
        return self.predict(p, q[:, None, :], rows)[0][:, 0]

    def grouped_logits(self, users: torch.Tensor, items: torch.Tensor, ctx: ContextBatch
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (n, g) of n records' g rows each (users (n,), items (n, g)) and the backbone's L2.

        A record's rows share its user and content, so the codes and the attention's case part are
        computed per record and meet the g items as an evaluation's candidates do: no per-row copy
        of the codes. Only for backbones whose ``p_u`` does not depend on the row (``grouped``:
        MF; DMF hides each training pair from its own towers, so its user vector does).
        """
        p, q, penalty = self.backbone.grouped(users, items)
        return self.predict(p, q, self.codes(users, ctx))[0], penalty

    def score_block(self, users: torch.Tensor, items: torch.Tensor, ctx: ContextBatch
                    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        q, parts = self.item_side(items)
        codes = self.codes(users, ctx)
        logits, weights = self.predict(self.backbone.users(users), q, codes, parts)
        known = getattr(self.backbone, "known_cells", lambda *_: None)(users, items)
        if known is not None:  # DMF: a training pair is scored as it was trained, hidden from its towers
            rows, cols = known
            p, q_known = self.backbone.hidden_pair(users[rows], items[rows, cols])
            again, w = self.predict(p, q_known[:, None, :], {m: z[rows] for m, z in codes.items()})
            logits[rows, cols] = again[:, 0]
            for m, alpha in w.items():
                weights[m][rows, cols] = alpha[:, 0]
        return logits, weights

    def content_parameters(self) -> list[nn.Parameter]:
        """Everything stage 1 trains: encoders and decoders."""
        return list(self.aes.parameters())

    def decoder_parameters(self) -> list[nn.Parameter]:
        """Decoders take no part in prediction, so stage 2 neither updates nor penalises them."""
        return [p for ae in self.aes.values() if ae.decoder is not None for p in ae.decoder.parameters()]

    def stage2_parameters(self) -> list[nn.Parameter]:
        decoders = {id(p) for p in self.decoder_parameters()}
        return [p for p in self.parameters() if p.requires_grad and id(p) not in decoders]

    def penalty(self, u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        """The backbone's per-row L2; the dense weights' L2 is weight decay (:meth:`decayed_parameters`)."""
        return self.backbone.penalty(u, i)

    def decayed_parameters(self) -> list[nn.Parameter]:
        """Encoders, attention and the backbone's dense layers, L2-penalised as Adam's weight decay
        (``PointwiseStage.decayed``); decoders take no part in stage 2."""
        decoders = {id(p) for p in self.decoder_parameters()}
        backbone = getattr(self.backbone, "decayed_parameters", list)()
        return [p for p in [*self.aes.parameters(), *self.attention.parameters(), *backbone]
                if p.requires_grad and id(p) not in decoders]


class RecordContext:
    """Standardised contextual inputs of fit records, read from the content store per batch.

    Each record's window is kept as a post range per modality (two integers, found once), and a
    batch of record indices becomes one range read of the store (docs/design.md sections 5.4 and 10): nothing of
    feature width is held per record.
    """

    #: bytes a random read of one post row may leave mapped: the page-cache folio it falls in, up to
    #: 2 MiB on current kernels. (64 KiB, the classic fault-around, kept 2.6 GB more resident on the
    #: scale-1 run of ``benchmarks/paper_scale.py`` than releasing after every batch.)
    MAPPED_PER_ROW = 2 << 20
    #: mapped bytes per modality after which the store's pages are released (see ``__call__``)
    RELEASE_BYTES = 256 << 20

    def __init__(self, encoder: ContextEncoder, users: np.ndarray, times: np.ndarray, device: torch.device) -> None:
        self.encoder = encoder
        self.users = np.asarray(users, dtype=np.int64)
        self.ranges = encoder.windows(self.users, np.asarray(times, dtype=np.int64))
        self.device = device
        self._mapped = dict.fromkeys(self.ranges, 0)

    def __call__(self, records: torch.Tensor) -> ContextBatch:
        idx = records.cpu().numpy()
        batch = {m: (lo[idx], hi[idx]) for m, (lo, hi) in self.ranges.items()}
        parts = self.encoder.window_rows(batch)
        # A memory-mapped store's pages stay mapped (and count in the RSS) until released: even a
        # 4,096-record interval had left 1.1 GB of a 1.4 GB paper-scale store mapped. Releasing is
        # cheap but re-mapping is not (each batch then faults its pages in again: 0.2 ms per
        # modality on the demo world), so the pages go once a modality may have mapped
        # RELEASE_BYTES: never for a store smaller than that (the demo world's), after about every
        # batch for a paper-scale one. That bounds what a training pass leaves resident per modality.
        for m, (lo, hi) in batch.items():
            features = self.encoder.posts[m].features
            rows = int(np.maximum(hi - lo, 0).sum())
            self._mapped[m] = min(self._mapped[m] + rows * self.MAPPED_PER_ROW, features.nbytes)
            if self._mapped[m] >= self.RELEASE_BYTES:
                release_pages(features)
                self._mapped[m] = 0
        return WindowRows.of(parts, self.device)


class AMAEBase(TorchRecommender):
    """Shared AMAE logic; subclasses pick the backbone."""

    content_kind: ClassVar[str | None] = "posts"
    backbone_name: ClassVar[str] = ""
    version = 2  # 2: empty windows encoded once, dense weights' L2 as weight decay
    default_params: dict[str, Any] = {
        "dim": 16, "init_std": 0.01, "ae_hidden": 32,
        "modalities": ["text", "visual"], "groups": ["handcrafted", "deep"], "contexts": list(CONTEXTS),
        "window": 86_400, "global_window": "train",
        "no_reconstruction": False, "no_cross_modal": False, "no_finetune": False, "no_attention": False,
        "literal_relu": False, "recon_weight": 1.0, "cross_weight": 1.0,
        "stage1_epochs": 10, "stage1_lr": 3e-3, "stage1_l2": 1e-5,
        "control": "none", "noise_features": False, "noise_seed": 0, "embed_posts": False, "pca_dim": 0,
        "lr": 3e-3, "code_dropout": 0.3, "global_dropout": 0.7, "group_records": True,
        "context_input": "deviation",
    }

    search_space: ClassVar[dict[str, tuple]] = {**LEARNING_SPACE, "code_dropout": ("float", 0.0, 0.9, False),
                                                "cross_weight": ("float", 0.1, 10.0, True)}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        contexts = list(self.params["contexts"])
        if not contexts or any(c not in CONTEXTS for c in contexts):
            raise ValueError(f"contexts must be a non-empty subset of {list(CONTEXTS)}, got {contexts}")
        if self.params["context_input"] not in CONTEXT_INPUTS:
            raise ValueError(f"context_input must be one of {list(CONTEXT_INPUTS)}, "
                             f"got {self.params['context_input']!r}")
        select_groups(list(self.params["modalities"]), list(self.params["groups"]))  # validates
        resolve_control(self.params)  # validates
        self.encoder: ContextEncoder | None = None
        self.source: dict[str, Any] = {}
        self.stage1_history: list[dict] = []
        self._state: dict[str, Any] = {}

    # -- content ----------------------------------------------------------------------------------
    @classmethod
    def content_options(cls, params: dict[str, Any]) -> dict[str, Any]:
        """The ``posts`` content this variant reads: its modalities, groups, control, window."""
        p = {**cls.default_params, **params}
        return {"modalities": list(p["modalities"]), "groups": list(p["groups"]), "control": resolve_control(p),
                "noise_seed": int(p["noise_seed"]), "window": int(p["window"]),
                "global_window": str(p["global_window"]), "pca_dim": int(p["pca_dim"])}

    # -- building ---------------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        return {k: self.params[k] for k in ("dim", "ae_hidden", "contexts", "no_attention", "no_reconstruction",
                                             "literal_relu", "code_dropout", "global_dropout", "context_input")}

    def _backbone(self, state: dict[str, Any], item_dim: int) -> nn.Module:
        raise NotImplementedError

    def _make(self, state: dict[str, Any]) -> AMAEModule:
        cfg = self._config()
        n_ctx = len([c for c in CONTEXTS if c in cfg["contexts"]])
        per_mod = cfg["dim"] * (n_ctx if cfg["no_attention"] else 1)
        item_dim = cfg["dim"] + per_mod * len(state["dims"])
        return AMAEModule(self._backbone(state, item_dim), state["dims"], state["n_users"], cfg, state["n_items"])

    def build(self, data: TrainData) -> nn.Module:
        content = data.content
        assert isinstance(content, PostContent)
        self._state = {"n_users": data.n_users, "n_items": data.n_items, "dims": content.encoder.dims()}
        self._backbone_data(data)
        module = self._make(self._state)
        for m, g in content.encoder.global_matrix().items():
            module.global_vectors(m).copy_(torch.as_tensor(g))
        return module

    def _backbone_data(self, data: TrainData) -> None:
        """Hook for backbones that need the training matrix (DMF)."""

    def extra_state(self) -> dict[str, Any]:
        enc = self.encoder
        return {**self._state, "standardizers": {m: s.to_dict() for m, s in enc.standardizers.items()} if enc else {},
                "source": self.source, "window": enc.window if enc else int(self.params["window"]),
                "global_all": bool(enc is not None and enc.global_until is None),
                "stage1_history": self.stage1_history}

    def rebuild(self, state: dict[str, Any]) -> nn.Module:
        self._state = {k: state[k] for k in ("n_users", "n_items", "dims")}
        self._rebuild_backbone_data(state)
        return self._make(self._state)

    def _rebuild_backbone_data(self, state: dict[str, Any]) -> None:
        """Hook: placeholder buffers of the right shapes before loading weights (DMF)."""

    # -- fitting: the stages amae.training runs ----------------------------------------------------
    def setup(self, data: TrainData) -> None:
        if not isinstance(data.content, PostContent):
            raise ValueError(f"{self.name} needs content (TrainData.content: the 'posts' user content from "
                             f"{type(self).__name__}.prepare_content or amae.features.content.build_content)")
        self.encoder, self.source = data.content.encoder, dict(data.content.source)

    def stages(self, data: TrainData) -> list[Stage]:
        """Stage 1 (Eq. 9, the autoencoders alone) when it has a loss, then stage 2 (the whole model)."""
        module: AMAEModule = self.module  # type: ignore[assignment]
        assert self.encoder is not None
        records = RecordContext(self.encoder, data.users, data.times, self.device)
        users = torch.as_tensor(data.users, dtype=torch.long, device=self.device)
        out: list[Stage] = []
        stage1 = self._stage1(module, users, records, data.seed)
        if stage1 is not None:
            out.append(stage1)
        self.stage1_history = []
        content_params = module.content_parameters()
        step = self._stage2_step(module, records)

        def freeze(flag: bool) -> None:
            for p in content_params:
                p.requires_grad_(flag)

        no_finetune = bool(self.params["no_finetune"])
        out.append(PointwiseStage(step, params=module.stage2_parameters, decayed=module.decayed_parameters,
                                  start=(lambda: freeze(False)) if no_finetune else None,
                                  finish=(lambda: freeze(True)) if no_finetune else None))
        return out

    def _stage2_step(self, module: AMAEModule, records: RecordContext) -> StepFn:
        """Stage 2's loss on a batch: BCE + L2, per record where the batch holds whole records."""
        l2 = self.train_config.l2
        contextual = "contextual" in module.contexts
        group = 1 + int(self.train_config.n_negatives)
        by_record = bool(self.train_config.group_records) and hasattr(module.backbone, "grouped")

        def step(record: torch.Tensor, u: torch.Tensor, i: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            if by_record and len(record) % group == 0:
                rec = record.view(-1, group)
                if bool((rec == rec[:, :1]).all()):  # whole records (the batch size is a multiple of g)
                    ctx = records(rec[:, 0]) if contextual else {}
                    logits, penalty = module.grouped_logits(u.view(-1, group)[:, 0], i.view(-1, group), ctx)
                    return F.binary_cross_entropy_with_logits(logits, y.view(-1, group)) + l2 * penalty
            unique, inverse = torch.unique(record, return_inverse=True)
            ctx = records(unique) if contextual else {}
            logits = module.record_logits(unique, inverse, u, i, ctx)
            return F.binary_cross_entropy_with_logits(logits, y) + l2 * module.penalty(u, i)

        return step

    def _stage1(self, module: AMAEModule, users: torch.Tensor, records: RecordContext,
                seed: int) -> MinibatchStage | None:
        """Eq. 9: autoencoders on all fit rows' g and c inputs (reconstruction + cross-modal + L2)."""
        recon = not self.params["no_reconstruction"]
        cross = not self.params["no_cross_modal"] and len(module.modalities) > 1
        epochs = int(self.params["stage1_epochs"])
        if not (recon or cross) or epochs <= 0:
            return None
        w_rec, w_cross, l2 = (float(self.params[k]) for k in ("recon_weight", "cross_weight", "stage1_l2"))

        def loss(rows: np.ndarray) -> torch.Tensor:
            b = torch.from_numpy(rows)
            u = users[b.to(users.device)]
            ctx = records(b) if "contextual" in module.contexts else {}
            codes: dict[str, dict[str, torch.Tensor]] = {}
            total = torch.zeros((), device=users.device)
            for m in module.modalities:
                ae = module.aes[m]
                # Only the switched-on contexts: a G-only or C-only row is never pretrained on the other.
                g = module.global_vectors(m)[u]
                xs = {c: g if c == "global" else ctx[m].dense(g) for c in module.contexts}
                codes[m] = {c: ae(x) for c, x in xs.items()}
                if recon:
                    total = total + w_rec * sum(ae.reconstruction_loss(xs[c], codes[m][c]) for c in xs)
                total = total + l2 * ae.l2()
            if cross:
                for a, bm in ((a, bm) for a in module.modalities for bm in module.modalities if a != bm):
                    for c in module.contexts:
                        total = total + w_cross * cross_modal_loss(codes[a][c], codes[bm][c], u)
            return total

        def keep(history: list[dict]) -> None:
            self.stage1_history = history

        return MinibatchStage("stage1", module, len(users), loss, module.content_parameters(), epochs,
                              float(self.params["stage1_lr"]), self.train_config.batch_size, seed, finish=keep)

    # -- scoring ----------------------------------------------------------------------------------
    def _context(self, users: np.ndarray, times: np.ndarray | None) -> ContextBatch:
        """The cases' non-empty windows; without times (or posts) every window is empty, so the
        global vector stands in for all of them."""
        if times is None or self.encoder is None:
            return {}
        ranges = self.encoder.windows(np.asarray(users, dtype=np.int64), np.asarray(times, dtype=np.int64))
        return WindowRows.of(self.encoder.window_rows(ranges), self.device)

    @torch.inference_mode()
    def _score(self, users: np.ndarray, items: np.ndarray, times: np.ndarray | None
               ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        if self.module is None:
            raise RuntimeError(f"{self.name}: score() before fit() or load()")
        users, items = as_2d(users, items)
        self.module.eval()
        logits, weights = self.module.score_block(torch.tensor(users, device=self.device),
                                                  torch.tensor(items, device=self.device),
                                                  self._context(users, times))
        return logits.float().cpu().numpy(), {m: w.float().cpu().numpy() for m, w in weights.items()}

    def score(self, users: np.ndarray, items: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        return self._score(users, items, times)[0]

    def explain(self, users: np.ndarray, items: np.ndarray, times: np.ndarray | None = None
                ) -> dict[str, np.ndarray]:
        """Attention weights (global, contextual) per modality: (n, 2) for (n,) items, (n, k, 2) for (n, k).

        With a single context switched on, that context has weight 1. Raises for ``no_attention``.
        """
        if self.params["no_attention"] and len(self.params["contexts"]) > 1:
            raise ValueError(f"{self.name}: no_attention model has no attention weights to explain")
        flat = np.asarray(items).ndim == 1
        _, weights = self._score(users, items, times)
        module: AMAEModule = self.module  # type: ignore[assignment]
        out = {}
        for m in module.modalities:
            if m in weights:
                w = weights[m]
            else:
                shape = (len(users), 1 if flat else np.asarray(items).shape[1], 2)
                w = np.zeros(shape, dtype=np.float32)
                w[..., CONTEXTS.index(module.contexts[0])] = 1.0
            out[m] = w[:, 0, :] if flat else w
        return out

    # -- persistence ------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        super().save(folder)
        enc = self.encoder
        tensors: dict[str, torch.Tensor] = {}
        if enc is not None:
            if enc.global_until is not None:
                tensors["global_until"] = torch.as_tensor(enc.global_until)
            if self.params["embed_posts"] or not self.source.get("workspace"):
                for m, store in enc.posts.items():
                    tensors[f"posts.{m}.keys"] = torch.as_tensor(np.asarray(store.keys))
                    tensors[f"posts.{m}.features"] = torch.as_tensor(np.asarray(store.features, dtype=np.float32))
        if tensors:
            with atomic_path(Path(folder) / "content.safetensors") as tmp:
                save_file(tensors, str(tmp))

    @classmethod
    def load(cls, folder: Path) -> AMAEBase:
        folder = Path(folder)
        model: AMAEBase = super().load(folder)  # type: ignore[assignment]
        state = read_json(folder / "model.json")["state"]
        model.source = relocate_source(state.get("source", {}), folder)
        model.stage1_history = state.get("stage1_history", [])
        path = folder / "content.safetensors"
        tensors = {k: v.numpy() for k, v in load_file(str(path)).items()} if path.exists() else {}
        posts: dict[str, ModalityPosts] = {}
        mods = list(state["dims"])
        if all(f"posts.{m}.keys" in tensors and f"posts.{m}.features" in tensors for m in mods):
            posts = {m: ModalityPosts(tensors[f"posts.{m}.keys"], tensors[f"posts.{m}.features"]) for m in mods}
        else:
            posts = reopen_posts(model.source)
        if posts:
            until = None if state.get("global_all") else tensors.get("global_until")
            if until is None and not state.get("global_all"):
                raise ValueError(f"{folder}: content.safetensors lacks the global cutoffs (global_until)")
            stds = {m: Standardizer.from_dict(s) for m, s in state["standardizers"].items()}
            model.encoder = ContextEncoder(posts, state["n_users"], until, int(state["window"]), stds)
        return model


@register
class MFAMAE(AMAEBase):
    name = "mf+amae"
    backbone_name = "mf"

    def _backbone(self, state: dict[str, Any], item_dim: int) -> nn.Module:
        return MFModule(state["n_users"], state["n_items"], self.params["dim"], self.params["init_std"],
                        item_dim=item_dim)


@register
class DMFAMAE(AMAEBase):
    name = "dmf+amae"
    backbone_name = "dmf"
    default_params = {**AMAEBase.default_params, "hidden": 64, "hide_target": True, "score_hidden": True}
    search_space = {**AMAEBase.search_space, "hidden": ("categorical", [32, 64, 128])}

    def _backbone_data(self, data: TrainData) -> None:
        self._user_csr = csr(data.users, data.items, data.n_users)
        self._item_csr = csr(data.items, data.users, data.n_items)
        self._state.update(user_nnz=int(len(self._user_csr[1])), item_nnz=int(len(self._item_csr[1])))

    def _rebuild_backbone_data(self, state: dict[str, Any]) -> None:
        self._state.update(user_nnz=state["user_nnz"], item_nnz=state["item_nnz"])
        self._user_csr = placeholder_csr(state["n_users"], state["user_nnz"])
        self._item_csr = placeholder_csr(state["n_items"], state["item_nnz"])

    def _backbone(self, state: dict[str, Any], item_dim: int) -> nn.Module:
        hidden, dim = int(self.params["hidden"]), int(self.params["dim"])
        return DMFModule(self._user_csr, self._item_csr, state["n_users"], state["n_items"], [hidden, dim],
                         float(self.params["init_std"]), cosine=False, hide_target=bool(self.params["hide_target"]),
                         item_hidden=[hidden, item_dim], score_hidden=bool(self.params["score_hidden"]))
