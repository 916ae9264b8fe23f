"""Training and evaluation throughput of amae's models beside a plain-PyTorch floor, in one process.

    python benchmarks/throughput.py WORKSPACE [--rounds 3] [--batch-size 512] [--device cpu|cuda]

The floors are a few lines here, not part of the package: MF as two dense ``nn.Embedding`` tables
with fused Adam on the same sampled batches (1 positive + 3 negatives, BCE + L2); DMF as the same
two towers as ``amae.models.dmf`` (the user's training row, the item's column -> EmbeddingBag 64 ->
ReLU -> 16, 1/sqrt(row length), the training pair left out of its own row and column, logit
``p . q``) with fused Adam; MF+AMAE's stage 2 (:class:`FloorAMAE`: the same arithmetic, batched
over modalities, contexts precomputed densely, dense tables); and evaluation as one gather + dot
product per (case, candidate) block. amae and its floor alternate, ``--rounds`` times, so both
see the same machine load; the ratios (amae / floor, MF+AMAE / MF, and the MF+AMAE floor / the
MF floor: what the model's arithmetic itself costs) are what to read, since this machine is
shared and absolute times are noisy. Writes ``benchmarks/results/throughput_sparse_<x>.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb, write_results  # noqa: E402

from amae.data.workspace import load_workspace  # noqa: E402
from amae.experiments.runs import load_split, train_data  # noqa: E402
from amae.models import REGISTRY  # noqa: E402
from amae.models.dmf import csr  # noqa: E402
from amae.protocol.metrics import sampled_ranks  # noqa: E402
from amae.protocol.split import EvalCases  # noqa: E402
from amae.training import fit  # noqa: E402
from amae.training.samplers import pointwise_epoch  # noqa: E402


def amae_epoch(name: str, ws: Path, params: dict, device: str) -> tuple[float, object]:
    """Samples/s of one stage-2 epoch of ``name`` (validation off), and the fitted model."""
    ds, sp = load_workspace(ws), load_split(ws)
    cls = REGISTRY[name]
    data = train_data(ds, sp, 0, device)
    data.valid = None
    if cls.needs_content:
        data.content = cls.prepare_content(ws, ds, sp, params)
    model = fit(cls(**{**params, "epochs": 1, "progress": False}), data)
    return float(model.history[-1]["samples_per_s"]), model


def floor_epoch(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, dim: int, batch: int,
                device: str) -> float:
    """Samples/s of the plain dense-embedding MF loop on the same kind of batches."""
    torch.manual_seed(0)
    p = torch.nn.Embedding(n_users, dim).to(device)
    q = torch.nn.Embedding(n_items, dim).to(device)
    opt = torch.optim.Adam(list(p.parameters()) + list(q.parameters()), lr=1e-3, fused=True)
    keys = np.unique(users * n_items + items)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    _, u, i, y = pointwise_epoch(users, items, n_items, keys, 3, rng)
    u_t, i_t, y_t = (torch.as_tensor(a, device=device) for a in (u, i, y))
    for s in range(0, len(u), batch):
        pu, qi = p(u_t[s:s + batch]), q(i_t[s:s + batch])
        loss = torch.nn.functional.binary_cross_entropy_with_logits((pu * qi).sum(-1), y_t[s:s + batch])
        loss = loss + 1e-6 * (pu.pow(2).sum(-1) + qi.pow(2).sum(-1)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return len(u) / (time.perf_counter() - t0)


class FloorTower(torch.nn.Module):
    """One DMF tower over a binary CSR matrix: the batch's distinct rows through an EmbeddingBag.

    Distinct rows, not one bag per sample: a batch repeats users and popular items, and per-sample
    bags made this floor slower than amae's DMF (lastfm 1.05x, the demo world 1.2x), so no floor.
    """

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, n_cols: int, hidden: int, dim: int,
                 device: str) -> None:
        super().__init__()
        self.indptr = torch.as_tensor(indptr, device=device)
        self.indices = torch.as_tensor(indices, device=device)
        self.first = torch.nn.EmbeddingBag(n_cols, hidden, mode="sum")
        self.bias = torch.nn.Parameter(torch.zeros(hidden))
        self.out = torch.nn.Linear(hidden, dim)
        torch.nn.init.normal_(self.first.weight, 0.0, 0.01)
        torch.nn.init.xavier_uniform_(self.out.weight)
        torch.nn.init.zeros_(self.out.bias)

    def forward(self, rows: torch.Tensor, hide: torch.Tensor) -> torch.Tensor:
        """Rows' outputs; ``hide`` (-1: none) is left out of its row unless it is the row's only entry."""
        uniq, inverse = torch.unique(rows, return_inverse=True)
        lo = self.indptr[uniq]
        lens = self.indptr[uniq + 1] - lo
        offsets = torch.cumsum(lens, 0) - lens
        cols = self.indices[torch.repeat_interleave(lo - offsets, lens)
                            + torch.arange(int(lens.sum()), device=rows.device)]
        counts = lens[inverse]
        hidden = ((hide >= 0) & (counts > 1)).float()
        sums = self.first(cols, offsets)[inverse] - hidden[:, None] * self.first.weight[hide.clamp(min=0)]
        scale = (counts.float() - hidden).clamp(min=1).rsqrt()[:, None]
        return self.out(torch.relu(sums * scale + self.bias))


def dmf_floor_epoch(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, batch: int,
                    device: str) -> float:
    """Samples/s of a plain-PyTorch DMF (amae's defaults: hidden 64, dim 16, l2 1e-6) on the same
    kind of batches. A positive is a training pair and a negative never is (the sampler avoids
    them), so the label says which pairs to hide: amae looks them up instead."""
    torch.manual_seed(0)
    user_tower = FloorTower(*csr(users, items, n_users), n_items, 64, 16, device).to(device)
    item_tower = FloorTower(*csr(items, users, n_items), n_users, 64, 16, device).to(device)
    params = list(user_tower.parameters()) + list(item_tower.parameters())
    rest = [p for t in (user_tower, item_tower) for n, p in t.named_parameters() if not n.startswith("first")]
    opt = torch.optim.Adam(params, lr=1e-3, fused=True)
    keys = np.unique(users * n_items + items)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    _, u, i, y = pointwise_epoch(users, items, n_items, keys, 3, rng)
    u_t, i_t, y_t = (torch.as_tensor(a, device=device) for a in (u, i, y))
    for s in range(0, len(u), batch):
        bu, bi, by = u_t[s:s + batch], i_t[s:s + batch], y_t[s:s + batch]
        known = by > 0.5
        p = user_tower(bu, torch.where(known, bi, -1))
        q = item_tower(bi, torch.where(known, bu, -1))
        loss = torch.nn.functional.binary_cross_entropy_with_logits((p * q).sum(-1), by)
        loss = loss + 1e-6 * sum(w.pow(2).sum() for w in rest) / len(bu)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return len(u) / (time.perf_counter() - t0)


class FloorAMAE(torch.nn.Module):
    """MF+AMAE's stage-2 arithmetic (docs/design.md section 6.4) in plain PyTorch, laid out for speed.

    Per modality an encoder x -> 32 -> 16 on the global and contextual inputs; everything after the
    first layer is batched over modalities (stacked weights, one kernel for all); attention
    ``w^T relu(W [z, p, q] + b)`` softmaxed over the two contexts; Eq. 13; code dropout 0.7; dense
    tables. It reads each record's contextual input from a dense matrix computed beforehand, so
    its content costs no store read at all: the fastest this model's arithmetic runs eagerly.
    """

    def __init__(self, dims: list[int], n_users: int, n_items: int, d: int = 16, hidden: int = 32) -> None:
        super().__init__()
        m = len(dims)
        self.d, self.m = d, m
        self.p = torch.nn.Embedding(n_users, d)
        self.q = torch.nn.Embedding(n_items, d * (m + 1))
        for t in (self.p, self.q):
            torch.nn.init.normal_(t.weight, 0.0, 0.01)
        self.first = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(hidden, k) / k ** 0.5) for k in dims])
        self.b1 = torch.nn.Parameter(torch.zeros(m, 1, hidden))
        self.w2 = torch.nn.Parameter(torch.randn(m, hidden, d) / hidden ** 0.5)
        self.b2 = torch.nn.Parameter(torch.zeros(m, 1, d))
        self.att_z = torch.nn.Parameter(torch.randn(m, d, d) / d ** 0.5)
        self.att_p = torch.nn.Parameter(torch.randn(d, m * d) / d ** 0.5)
        self.att_q = torch.nn.Parameter(torch.randn(d * (m + 1), m * d) / d ** 0.5)
        self.att_b = torch.nn.Parameter(torch.zeros(m, d))
        self.att_out = torch.nn.Parameter(torch.randn(m, d) / d ** 0.5)

    def forward(self, u: torch.Tensor, items: torch.Tensor, inputs: list[torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (n, k) for users (n,), items (n, k) and per modality the (2n, D) [global; contextual]
        inputs; and the L2 of the rows looked up."""
        n, k = items.shape
        d, m = self.d, self.m
        p, q = self.p(u), self.q(items)
        h = torch.stack([x @ w.T for x, w in zip(inputs, self.first, strict=True)])  # (M, 2n, hidden)
        z = torch.nn.functional.dropout(torch.baddbmm(self.b2, torch.relu(h + self.b1), self.w2), 0.7)
        z = z.view(m, 2, n, d)
        case = torch.einsum("mcnd,mde->nmce", z, self.att_z) + (p @ self.att_p).view(n, m, 1, d)
        item = (q @ self.att_q).view(n, k, m, 1, d) + self.att_b[:, None]
        alpha = torch.softmax((torch.relu(case[:, None] + item) * self.att_out[:, None]).sum(-1), -1)
        dots = torch.einsum("mcnd,nkmd->nkmc", z, q[..., d:].reshape(n, k, m, d))
        logits = (p[:, None] * q[..., :d]).sum(-1) + (alpha * dots).sum((-1, -2))
        return logits, p.pow(2).sum(-1).mean() + q.pow(2).sum(-1).mean()


def amae_floor_epoch(data: object, content: object, batch: int, device: str) -> float:
    """Samples/s of :class:`FloorAMAE` on record-grouped batches (1 positive + 3 negatives per record)."""
    torch.manual_seed(0)
    enc = content.encoder
    glob = {mod: torch.as_tensor(g, device=device) for mod, g in enc.global_matrix().items()}
    ctx = {mod: torch.as_tensor(x, device=device) for mod, x in enc.contextual(data.users, data.times)[0].items()}
    model = FloorAMAE([g.shape[1] for g in glob.values()], data.n_users, data.n_items).to(device)
    tables = [model.p.weight, model.q.weight]
    dense = [w for w in model.parameters() if all(w is not t for t in tables)]
    opt = torch.optim.Adam([{"params": tables}, {"params": dense, "weight_decay": 2e-6 / batch}], lr=1e-3,
                           fused=True)
    keys = np.unique(data.users * data.n_items + data.items)
    t0 = time.perf_counter()
    record, u, i, y = pointwise_epoch(data.users, data.items, data.n_items, keys, 3, np.random.default_rng(0),
                                      grouped=True)
    r_t, u_t, i_t, y_t = (torch.as_tensor(a, device=device) for a in (record, u, i, y))
    for s in range(0, len(r_t), batch):  # batch is a multiple of 4: whole records
        rec, users = r_t[s:s + batch:4], u_t[s:s + batch:4]
        inputs = [torch.cat([glob[mod][users], ctx[mod][rec]]) for mod in glob]
        logits, l2 = model(users, i_t[s:s + batch].view(-1, 4), inputs)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y_t[s:s + batch].view(-1, 4)) + 1e-6 * l2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return len(r_t) / (time.perf_counter() - t0)


#: test cases repeated up to this many for the evaluation timing (lastfm has 1,741: ~4 ms, all noise)
EVAL_CASES = 100_000


def tiled(cases: EvalCases, n: int) -> EvalCases:
    """The cases repeated until there are at least ``n`` (the same work per case, a measurable total)."""
    reps = max(1, -(-n // max(len(cases), 1)))
    return EvalCases(np.tile(cases.users, reps), np.tile(cases.items, reps), np.tile(cases.times, reps),
                     np.tile(cases.negatives, (reps, 1)), np.tile(cases.new_pair, reps))


def eval_rates(model: object, cases: object, device: str) -> tuple[float, float]:
    """Cases/s of amae's sampled evaluation of MF, and of the plain gather floor on the same weights.

    Both are timed warm (each runs once untimed first): the model is fresh every round, and its
    first scoring call pays one-off allocations that the floor, run second, would not.
    """
    sampled_ranks(model.score, cases)
    t0 = time.perf_counter()
    ranks = sampled_ranks(model.score, cases)
    amae_rate = len(ranks) / (time.perf_counter() - t0)
    mod = model.module
    users = torch.as_tensor(cases.users, device=device)
    raw = cases.candidates()
    cand = torch.as_tensor(np.where(raw < 0, 0, raw), device=device)
    padded = torch.as_tensor(raw < 0, device=device)  # NCF files pad dropped negatives with -1
    for _ in range(2):  # the second, warm pass is the one timed
        t0 = time.perf_counter()
        with torch.inference_mode():
            scores = torch.einsum("nd,nkd->nk", mod.users(users), mod.items(cand)).masked_fill(padded, -torch.inf)
            floor_ranks = 1 + (scores[:, 1:] >= scores[:, :1]).sum(1)
    floor_rate = len(floor_ranks) / (time.perf_counter() - t0)
    assert np.array_equal(floor_ranks.cpu().numpy(), ranks), "the floor must rank exactly like amae"
    return amae_rate, floor_rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sparse", default="true", choices=["true", "false", "auto"],
                    help="MF's embedding tables: sparse (SparseAdam, the default) or dense (fused Adam, as the floor)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ds, sp = load_workspace(args.workspace), load_split(args.workspace)
    data = train_data(ds, sp, 0, args.device)
    rows: dict[str, list[float]] = {k: [] for k in ("mf", "floor", "dmf", "dmf_floor", "mf+amae", "mf+amae_floor",
                                                    "eval", "eval_floor")}
    has_posts = ds.has_content and (args.workspace / "features" / "text" / "manifest.json").exists()
    if has_posts and args.batch_size % 4:
        ap.error("--batch-size must be a multiple of 4 (whole records of 1 positive + 3 negatives)")
    content = REGISTRY["mf+amae"].prepare_content(args.workspace, ds, sp, {}) if has_posts else None
    for r in range(args.rounds):
        sparse = {"true": True, "false": False}.get(args.sparse, args.sparse)
        mf_rate, mf_model = amae_epoch("mf", args.workspace, {"batch_size": args.batch_size, "sparse": sparse},
                                       args.device)
        rows["mf"].append(mf_rate)
        rows["floor"].append(floor_epoch(data.users, data.items, ds.n_users, ds.n_items, 16, args.batch_size,
                                         args.device))
        rows["dmf"].append(amae_epoch("dmf", args.workspace, {"batch_size": args.batch_size}, args.device)[0])
        rows["dmf_floor"].append(dmf_floor_epoch(data.users, data.items, ds.n_users, ds.n_items, args.batch_size,
                                                 args.device))
        if has_posts:
            rows["mf+amae"].append(amae_epoch("mf+amae", args.workspace, {"batch_size": args.batch_size,
                                                                          "stage1_epochs": 1}, args.device)[0])
            rows["mf+amae_floor"].append(amae_floor_epoch(data, content, args.batch_size, args.device))
        e, f = eval_rates(mf_model, tiled(sp.test, EVAL_CASES), args.device)
        rows["eval"].append(e)
        rows["eval_floor"].append(f)
        print(f"round {r + 1}: MF {mf_rate:,.0f} samples/s, floor {rows['floor'][-1]:,.0f}"
              + f"; DMF {rows['dmf'][-1]:,.0f}, floor {rows['dmf_floor'][-1]:,.0f}"
              + (f", MF+AMAE {rows['mf+amae'][-1]:,.0f}, floor {rows['mf+amae_floor'][-1]:,.0f}" if has_posts else "")
              + f"; evaluation {e:,.0f} cases/s, floor {f:,.0f}")
    med = {k: float(np.median(v)) for k, v in rows.items() if v}
    ratios = {"mf / dense floor": med["mf"] / med["floor"],
              "dmf / floor": med["dmf"] / med["dmf_floor"],
              "evaluation / gather floor": med["eval"] / med["eval_floor"]}
    if "mf+amae" in med:
        ratios["mf+amae / mf"] = med["mf+amae"] / med["mf"]
        ratios["mf+amae / its floor"] = med["mf+amae"] / med["mf+amae_floor"]
        ratios["mf+amae floor / mf floor"] = med["mf+amae_floor"] / med["floor"]
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}x")
    write_results(f"throughput_sparse_{args.sparse}", {"workspace": str(args.workspace), "batch_size": args.batch_size,
                                 "mf_sparse": args.sparse,
                                 "device": args.device, "median": med, "rounds": rows, "ratios": ratios,
                                 "peak_rss_mb": peak_rss_mb()})


if __name__ == "__main__":
    main()
