"""The AMAE network: per-modality autoencoders, attention over global and contextual codes, Eq. 13.

What one forward pass computes (``AMAEModule``), how a batch's contextual inputs are laid out
(``WindowRows``) and how training records reach their content (``RecordContext``); the
recommender around it (stages, persistence, scoring) is :mod:`amae.models.amae`
(docs/design.md section 6.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from amae.content.posts import (
    ContextEncoder,
)
from amae.content.store import release_pages
from amae.models.attention import ContextAttention
from amae.models.autoencoder import Autoencoder
from amae.models.repeat import repeat_logits

CONTEXTS = ("global", "contextual")
#: what the contextual code is: the window's own code (the paper), or its difference to the
#: user's global code ("deviation": today's change, with the user's identity taken out);
#: "residual": that difference, added to the global code at the contextual weight instead of
#: competing with it (``z_g + alpha_c (z_c - z_g)``), so using today never costs the user's taste
CONTEXT_INPUTS = ("raw", "deviation", "residual")
#: where a track's content part of ``q_m`` (the vector the codes meet) comes from: the backbone's
#: item representation, widened to d(|M|+1) (the paper; DMF's item tower), or a table of its own
#: ("table", :class:`TrackContent`)
TRACK_CONTENT = ("backbone", "table")


class TrackContent(nn.Module):
    """Each track's content vector (width d|M|) in a table of its own, apart from the backbone's ``q``.

    With DMF the paper's content part of ``q_m`` is the item tower's output, a function of who
    played the track; a track's response to the day's mood is not, so the tower has to spend its
    shared weights on memorising it per track. This table learns it per track directly, sparse
    (lazy Adam) with the per-row L2 of the backbone's rows (README, "AMAE").
    """

    def __init__(self, n_items: int, width: int, init_std: float) -> None:
        super().__init__()
        self.table = nn.Embedding(n_items, width, sparse=True)
        nn.init.normal_(self.table.weight, 0.0, init_std)

    def forward(self, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The items' content vectors and their rows' mean squared norm (the batch's L2 term)."""
        x = self.table(items)
        return x, x.pow(2).sum(-1).mean()


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
        #: the global code's own rate: it carries who the user is, not today
        self.global_dropout = float(cfg.get("global_dropout", self.code_dropout))
        self.deviation = cfg.get("context_input", "raw") in ("deviation", "residual")
        #: the global code enters at weight 1 and the attention scales only today's change
        self.residual = cfg.get("context_input", "raw") == "residual" and self.contexts == list(CONTEXTS)
        per_mod = d * (len(self.contexts) if cfg["no_attention"] else 1)
        self.item_dim = d + per_mod * len(self.modalities)
        #: the tracks' content vectors when they are not the backbone's (``track_content="table"``)
        self.track_content = (TrackContent(max(self.n_items, 1), self.item_dim - d, float(cfg.get("init_std", 0.01)))
                              if cfg.get("track_content", "backbone") == "table" else None)
        self._track_l2: torch.Tensor | None = None
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
            return self.full_q(self.backbone.items(items), items), None
        if self._item_cache is None:
            with torch.no_grad():
                every = torch.arange(self.n_items, device=items.device)
                q_all = self.full_q(self.backbone.items(every), every)
                parts = {m: att.item_part(q_all) for m, att in self.attention.items()}
            self._item_cache = (q_all, parts)
        q_all, parts = self._item_cache
        return q_all[items], {m: x[items] for m, x in parts.items()}

    def full_q(self, q: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """``q_m`` of ``items`` (any shape): the backbone's, with the track-content table's part
        after its d numbers when there is one."""
        if self.track_content is None:
            return q
        content, l2 = self.track_content(items)
        if self.training:
            self._track_l2 = l2  # the training step's penalty reads it (``take_track_l2``)
        return torch.cat([q, content], dim=-1)

    def take_track_l2(self) -> torch.Tensor | float:
        """The L2 of the track-content rows the last training forward looked up (0 without a table),
        added to the backbone's per-row penalty."""
        l2, self._track_l2 = self._track_l2, None
        return 0.0 if l2 is None else l2

    def codes(self, u: torch.Tensor, ctx: ContextBatch) -> dict[str, torch.Tensor]:
        """Per modality the ``(n, C, d)`` codes of the switched-on contexts, in ``CONTEXTS`` order.

        The global inputs and the non-empty windows go through the autoencoder as one batch (one
        kernel per layer); an empty window's contextual code is its global code (see
        :class:`WindowRows`; a modality missing from ``ctx`` has every window empty).
        """
        return self.codes_of({m: self.global_vectors(m)[u] for m in self.modalities}, ctx)

    def codes_of(self, global_rows: dict[str, torch.Tensor], ctx: ContextBatch) -> dict[str, torch.Tensor]:
        """:meth:`codes` for global inputs given row by row (``(n, D)`` per modality) instead of read
        from the trained users' buffers: a user the model has no row for (cold start) goes through
        exactly the autoencoders, padding, deviation and dropout a known user does."""
        out = {}
        for m in self.modalities:
            g = global_rows[m]
            n = len(g)
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
                if self.residual:  # z_g + alpha_c (z_c - z_g): the paper's mixture of the raw codes
                    logits = logits + dots[..., 0] + alpha[..., 1] * dots[..., 1]
                else:
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
        return self.predict(p, self.full_q(q, i)[:, None, :], self.codes(u, ctx))[0][:, 0]

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
        return self.predict(p, self.full_q(q, i)[:, None, :], rows)[0][:, 0]

    def grouped_logits(self, users: torch.Tensor, items: torch.Tensor, ctx: ContextBatch
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (n, g) of n records' g rows each (users (n,), items (n, g)) and the backbone's L2.

        A record's rows share its user and content, so the codes and the attention's case part are
        computed per record and meet the g items as an evaluation's candidates do: no per-row copy
        of the codes. Only for backbones whose ``p_u`` does not depend on the row (``grouped``:
        MF; DMF hides each training pair from its own towers, so its user vector does).
        """
        p, q, penalty = self.backbone.grouped(users, items)
        logits = self.predict(p, self.full_q(q, items), self.codes(users, ctx))[0]
        return logits, penalty + self.take_track_l2()

    def score_block(self, users: torch.Tensor, items: torch.Tensor, ctx: ContextBatch
                    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        q, parts = self.item_side(items)
        codes = self.codes(users, ctx)
        logits, weights = self.predict(self.backbone.users(users), q, codes, parts)
        known = getattr(self.backbone, "known_cells", lambda *_: None)(users, items)
        if known is not None:  # DMF: a training pair is scored as it was trained, hidden from its towers
            rows, cols = known
            p, q_known = self.backbone.hidden_pair(users[rows], items[rows, cols])
            q_known = self.full_q(q_known, items[rows, cols])
            again, w = self.predict(p, q_known[:, None, :], {m: z[rows] for m, z in codes.items()})
            logits[rows, cols] = again[:, 0]
            for m, alpha in w.items():
                weights[m][rows, cols] = alpha[:, 0]
        return logits + repeat_logits(self.backbone.repeat, users[:, None], items), weights

    def neutral_user(self, trained: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The average trained user: the mean backbone vector ``p`` (d,) and the mean standardised
        global vector (D,) per modality over ``trained`` (all users when None).

        A cold-start user has no row of its own; the mean is the one stand-in the rest of the
        network was trained around (an all-zero ``p`` would also drop the popularity ``p . q_m``
        carries), so the request's posts move the scores away from an average listener's.
        """
        first = self.global_vectors(self.modalities[0])
        users = trained if trained is not None else torch.arange(len(first), device=first.device)
        p = self.backbone.users(users).mean(0)
        return p, {m: self.global_vectors(m)[users].mean(0) for m in self.modalities}

    def score_rows(self, p: torch.Tensor, global_rows: dict[str, torch.Tensor], items: torch.Tensor,
                   ctx: ContextBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Eq. 13 (with attention, Eq. 10-12) for users given as vectors, not indices: ``p`` (n, d),
        global inputs (n, D) per modality, ``items`` (n, k). Logits (n, k) and attention (n, k, C).

        The cold-start path: no DMF pair is known for such a user, so nothing is rescored hidden.
        """
        q, parts = self.item_side(items)
        return self.predict(p, q, self.codes_of(global_rows, ctx), parts)

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
        """The backbone's per-row L2 (with the track-content rows' of the same forward); the dense
        weights' L2 is weight decay (:meth:`decayed_parameters`)."""
        return self.backbone.penalty(u, i) + self.take_track_l2()

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
