"""RQ-VAE (TIGER, Rajput et al. 2023) with the SARQ and ACRQ options of paper 001.

MLP encoder -> L residual codebooks -> MLP decoder. Loss per item (SPEC.md):
``||x - x_hat||^2 + sum_l ||sg(r_l) - e_l||^2 + beta * ||r_l - sg(e_l)||^2`` with straight-through
gradients, codebooks initialised by k-means on the first training batch, dead codes re-seeded after
every epoch on residuals of the current epoch.

- ``adaptive`` (SARQ): each epoch starts by encoding the training items and rebuilding the prefix
  tables; an item's losses (reconstruction through ``sum_{l<=k(x)} e_l``, codebook, commitment) then
  cover only its layers 1..k(x) (paper 001, Sec. 2.3, stage-1 loss).
- ``anchored`` (ACRQ): stage 1 trains on head items with codebooks of ``head_codebook_sizes``; stage 2
  trains on tail items with each codebook = frozen anchors (a buffer, so bit-identical) + a trainable
  extension, the codebook loss masked to assignments that hit the extension. ``freeze_encoder_in_tail``
  also freezes encoder and decoder, so head-item SIDs cannot move.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from semid.codes import PAD, Codes
from semid.embed.vectors import check_fit_vectors, check_vectors
from semid.errors import DataError
from semid.tokenize.base import read_folder, write_folder
from semid.tokenize.checkpoint import load_checkpoint, save_checkpoint
from semid.tokenize.prefix import PrefixTables, apply_depths, resolve_tau
from semid.tokenize.rq_kmeans import check_codebook_sizes, fit_codebook, nearest
from semid.tokenize.staging import check_head_stage, resolve_head_sizes, variant_name


@dataclass
class RQVAEConfig:
    codebook_sizes: list[int] = field(default_factory=lambda: [256, 256, 256])  # final codes per layer
    latent_dim: int = 32  # dimension of the quantized latent (TIGER: 32)
    hidden_dims: list[int] = field(default_factory=lambda: [512, 256, 128])  # encoder MLP; decoder mirrors it
    beta: float = 0.25  # commitment weight
    epochs: int = 30  # epochs of the (head) stage
    tail_epochs: int | None = None  # ACRQ tail-stage epochs (default: epochs)
    batch_size: int = 1024
    lr: float = 1e-3
    adaptive: bool = False  # SARQ depth
    anchored: bool = False  # ACRQ two stages
    tau: float | None = None  # SARQ budget: continue while P(prefix) > tau
    min_items: int | None = 8  # ...or while >= min_items training items share the prefix
    head_codebook_sizes: list[int] | None = None  # ACRQ head-stage sizes (default M/4, M/2, M, ...)
    freeze_encoder_in_tail: bool = False  # ACRQ: encoder/decoder frozen in stage 2 (head SIDs fixed)
    device: str | None = None  # None: cuda when available, else cpu
    amp: bool = True  # bf16 autocast for the MLPs on GPU
    seed: int = 0
    checkpoint_dir: str | None = None  # save every epoch here and resume from it
    show_progress: bool = True

    def __post_init__(self) -> None:
        if self.tau is not None:
            self.min_items = None


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class ResidualCodebook(nn.Module):
    """One layer's codebook: frozen anchors (a buffer, possibly empty) + trainable codes."""

    def __init__(self, anchors: torch.Tensor, trainable: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("anchors", anchors.clone())
        self.extension = nn.Parameter(trainable.clone())

    anchors: torch.Tensor

    @property
    def n_anchor(self) -> int:
        return int(self.anchors.shape[0])

    def weight(self) -> torch.Tensor:
        return torch.cat([self.anchors, self.extension], dim=0)


class RQVAEModule(nn.Module):
    def __init__(self, dim: int, cfg: RQVAEConfig) -> None:
        super().__init__()
        self.encoder = mlp([dim, *cfg.hidden_dims, cfg.latent_dim])
        self.decoder = mlp([cfg.latent_dim, *reversed(cfg.hidden_dims), dim])
        self.codebooks = nn.ModuleList()

    def layers(self) -> list[ResidualCodebook]:
        return [cb for cb in self.codebooks if isinstance(cb, ResidualCodebook)]

    def quantize(
        self, z: torch.Tensor, depth: torch.Tensor | None, anchors_only: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """Nearest codes layer by layer. Returns codes [n, L], the quantized latent summed over each item's
        depth, and per layer the residual and chosen code vector (for the losses)."""
        residual = z
        zq = torch.zeros_like(z)
        codes, residuals, chosen = [], [], []
        for layer, cb in enumerate(self.layers()):
            w = cb.weight()
            dist = (
                residual.float().pow(2).sum(1, keepdim=True)
                - 2 * residual.float() @ w.float().T
                + w.float().pow(2).sum(1)[None, :]
            )
            if anchors_only is not None and anchors_only.any() and cb.n_anchor > 0:
                dist[anchors_only, cb.n_anchor :] = float("inf")
            idx = dist.argmin(dim=1)
            e = w[idx]
            use = torch.ones_like(idx, dtype=z.dtype) if depth is None else (depth > layer).to(z.dtype)
            residuals.append(residual)
            chosen.append(e)
            codes.append(idx)
            zq = zq + e * use[:, None]
            residual = residual - e.detach()
        return torch.stack(codes, dim=1), zq, residuals, chosen


class RQVAE:
    """RQ-VAE tokenizer; with `adaptive`/`anchored` it is SARQ / ACRQ / SA²CRQ on the RQ-VAE quantizer."""

    def __init__(self, config: RQVAEConfig | None = None) -> None:
        self.config = config or RQVAEConfig()
        self.module: RQVAEModule | None = None
        self.tables: PrefixTables | None = None
        self.tau = 0.0
        self.history: list[dict[str, float]] = []  # per epoch: stage, losses, utilisation

    @property
    def method(self) -> str:
        return variant_name(self.config.adaptive, self.config.anchored, "rq_vae")

    @property
    def codebook_sizes(self) -> list[int]:
        return list(self.config.codebook_sizes)

    @property
    def head_codebook_sizes(self) -> list[int]:
        return resolve_head_sizes(self.config)

    @property
    def device(self) -> torch.device:
        if self.config.device:
            return torch.device(self.config.device)
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def _module(self) -> RQVAEModule:
        if self.module is None:
            raise RuntimeError("tokenizer is not fitted; call fit() or load() first")
        return self.module

    # ------------------------------------------------------------------------------------------ training

    def _latents(self, x: torch.Tensor, batch: int = 8192) -> torch.Tensor:
        m = self._module()
        with torch.no_grad():
            return torch.cat([m.encoder(x[i : i + batch]) for i in range(0, x.shape[0], batch)])

    def _init_codebooks(self, x: torch.Tensor, sizes: list[int], anchors: list[torch.Tensor] | None) -> None:
        """k-means on the first batch's residuals, layer by layer (anchors kept as they are)."""
        m = self._module()
        gen = torch.Generator().manual_seed(self.config.seed)
        first = x[torch.randperm(x.shape[0], generator=gen)[: max(self.config.batch_size, 4 * max(sizes))]]
        residual = self._latents(first).cpu().numpy()
        m.codebooks = nn.ModuleList()
        for layer, size in enumerate(sizes):
            if anchors is None:
                a = np.zeros((0, residual.shape[1]), dtype=np.float32)
                new = fit_codebook(residual, size, 20, self.config.seed + layer, 256)
            else:
                a = anchors[layer].cpu().numpy()
                n_new = size - a.shape[0]
                new = (
                    fit_codebook(residual, n_new, 20, self.config.seed + layer, 256)
                    if n_new > 0
                    else np.zeros((0, residual.shape[1]), dtype=np.float32)
                )
            cb = ResidualCodebook(torch.from_numpy(a), torch.from_numpy(new)).to(self.device)
            m.codebooks.append(cb)
            full = np.vstack([a, new]) if a.size else new
            residual = residual - full[nearest(full, residual)]

    def _depths(self, x: torch.Tensor, tables: PrefixTables | None) -> tuple[torch.Tensor, PrefixTables | None]:
        """Depth of every training item: from fixed tables, or from this stage's own current codes."""
        L = len(self._module().codebooks)
        if not self.config.adaptive:
            return torch.full((x.shape[0],), L, device=self.device), tables
        full = self._full_codes(x).cpu().numpy()
        if tables is None:
            own = PrefixTables.from_codes(Codes.full(full))
            cut = apply_depths(full, own, self.tau)
            return torch.from_numpy(cut.lengths).to(self.device), PrefixTables.from_codes(cut)
        return torch.from_numpy(apply_depths(full, tables, self.tau).lengths).to(self.device), tables

    def _full_codes(self, x: torch.Tensor, anchors_only: torch.Tensor | None = None, batch: int = 8192) -> torch.Tensor:
        m = self._module()
        out = []
        with torch.no_grad():
            for i in range(0, x.shape[0], batch):
                z = m.encoder(x[i : i + batch])
                mask = None if anchors_only is None else anchors_only[i : i + batch]
                out.append(m.quantize(z, None, mask)[0])
        return torch.cat(out)

    def _train_stage(
        self, x: torch.Tensor, epochs: int, stage: str, tables: PrefixTables | None, start_epoch: int = 0
    ) -> PrefixTables | None:
        c = self.config
        m = self._module()
        tail_stage = stage == "tail"
        params = [cb.extension for cb in m.layers()]
        n_anchors = [cb.n_anchor for cb in m.layers()]
        if not (tail_stage and c.freeze_encoder_in_tail):
            params += list(m.encoder.parameters()) + list(m.decoder.parameters())
        opt = torch.optim.AdamW(params, lr=c.lr, weight_decay=0.0)
        use_amp = c.amp and self.device.type == "cuda"
        gen = torch.Generator().manual_seed(c.seed + (1000 if tail_stage else 0))
        n = x.shape[0]
        bar = tqdm(range(start_epoch, epochs), desc=f"{self.method} {stage}", disable=not c.show_progress)
        for epoch in bar:
            depth, tables = self._depths(x, tables)
            usage = [torch.zeros(cb.weight().shape[0], device=self.device) for cb in m.layers()]
            totals = {"recon": 0.0, "codebook": 0.0, "commit": 0.0}
            perm = torch.randperm(n, generator=gen).to(self.device)
            last_residuals: list[torch.Tensor] = []
            for start in range(0, n, c.batch_size):
                idx = perm[start : start + c.batch_size]
                xb, db = x[idx], depth[idx]
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=use_amp):
                    z = m.encoder(xb)
                z = z.float()
                codes, zq, residuals, chosen = m.quantize(z, db)
                z_st = z + (zq - z).detach()  # straight-through: gradients reach the encoder through z
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=use_amp):
                    x_hat = m.decoder(z_st)
                recon = (xb - x_hat.float()).pow(2).sum(1).mean()
                cb_loss = torch.zeros((), device=self.device)
                commit = torch.zeros((), device=self.device)
                for layer, (r, e) in enumerate(zip(residuals, chosen, strict=True)):
                    use = (db > layer).float()
                    # in the tail stage the codebook loss only moves extension codes
                    hits_extension = (codes[:, layer] >= n_anchors[layer]).float()
                    cb_use = use * hits_extension if tail_stage else use
                    cb_loss = cb_loss + ((r.detach() - e).pow(2).sum(1) * cb_use).mean()
                    commit = commit + ((r - e.detach()).pow(2).sum(1) * use).mean()
                    usage[layer] += torch.bincount(codes[use.bool(), layer], minlength=usage[layer].shape[0])
                loss = recon + cb_loss + c.beta * commit
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                totals["recon"] += recon.item() * len(idx)
                totals["codebook"] += cb_loss.item() * len(idx)
                totals["commit"] += commit.item() * len(idx)
                last_residuals = [r.detach() for r in residuals]
            reseeded = self._reseed_dead(usage, last_residuals, gen)
            row = {"stage": stage, "epoch": epoch, **{k: v / n for k, v in totals.items()}, "reseeded": reseeded}
            row["utilization"] = [float((u > 0).float().mean()) for u in usage]
            self.history.append(row)
            bar.set_postfix(recon=f"{row['recon']:.4f}", reseeded=reseeded)
            self._checkpoint(stage, epoch + 1, tables)
        return tables

    def _reseed_dead(self, usage: list[torch.Tensor], residuals: list[torch.Tensor], gen: torch.Generator) -> int:
        """Trainable codes no item used this epoch move onto residuals of the last batch (no collapse)."""
        count = 0
        with torch.no_grad():
            for cb, used, r in zip(self._module().layers(), usage, residuals, strict=False):
                dead = torch.nonzero(used[cb.n_anchor :] == 0).flatten()
                if dead.numel() == 0 or r.shape[0] == 0:
                    continue
                pick = torch.randint(0, r.shape[0], (dead.numel(),), generator=gen).to(r.device)
                cb.extension.data[dead] = r[pick] + 1e-3 * torch.randn_like(r[pick])
                count += int(dead.numel())
        return count

    # ------------------------------------------------------------------------------------------ checkpoints

    def _checkpoint(self, stage: str, epochs_done: int, tables: PrefixTables | None) -> None:
        if not self.config.checkpoint_dir:
            return
        layers = self._module().layers()
        meta = {
            "stage": stage,
            "epochs_done": epochs_done,
            "sizes": [cb.weight().shape[0] for cb in layers],
            "anchor_sizes": [cb.n_anchor for cb in layers],
            "has_tables": tables is not None,
            "history": self.history,
            "config": asdict(self.config),
        }
        tensors = {f"module.{k}": v for k, v in self._module().state_dict().items()}
        if tables is not None:
            tensors.update({f"tables.{k}": torch.from_numpy(v.copy()) for k, v in tables.to_tensors().items()})
        save_checkpoint(self.config.checkpoint_dir, meta, tensors)

    def _resume(self, dim: int) -> dict[str, Any] | None:
        """Load the checkpoint (safetensors + JSON, never a pickle) into self; its meta plus "tables"."""
        if not self.config.checkpoint_dir:
            return None
        found = load_checkpoint(self.config.checkpoint_dir, self.device)
        if found is None:
            return None
        path, state, tensors = found
        free = ("checkpoint_dir", "show_progress", "device", "epochs", "tail_epochs")  # resuming may train longer
        mine = {k: v for k, v in asdict(self.config).items() if k not in free}
        theirs = state.get("config")
        if not isinstance(theirs, dict) or {k: v for k, v in theirs.items() if k in mine} != mine:
            raise DataError(
                f"checkpoint {path} was written with another config; remove it to start over", source=str(path)
            )
        try:
            m = RQVAEModule(dim, self.config)
            for size, n_anchor in zip(state["sizes"], state["anchor_sizes"], strict=True):
                m.codebooks.append(
                    ResidualCodebook(
                        torch.zeros(n_anchor, self.config.latent_dim),
                        torch.zeros(size - n_anchor, self.config.latent_dim),
                    )
                )
            m.load_state_dict({k[len("module.") :]: v for k, v in tensors.items() if k.startswith("module.")})
            tables = {k[len("tables.") :]: v.cpu().numpy() for k, v in tensors.items() if k.startswith("tables.")}
            state["tables"] = tables if state.get("has_tables") else None
            if not isinstance(state["epochs_done"], int) or state["stage"] not in ("all", "head", "tail"):
                raise ValueError(f"bad stage {state['stage']!r} or epochs_done {state['epochs_done']!r}")
            if not isinstance(state["history"], list):
                raise TypeError("history is not a list")
            if state["stage"] == "tail" and self.config.adaptive:
                PrefixTables.from_tensors(state["tables"], len(self.config.codebook_sizes))  # KeyError if absent
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # tensors or meta do not fit this model
            raise DataError(
                f"checkpoint does not match this model ({exc}); remove it to start over", source=str(path)
            ) from None
        self.module = m.to(self.device)
        self.history = list(state["history"])
        return state

    # ------------------------------------------------------------------------------------------ fit

    def fit(self, vectors: np.ndarray, *, is_head: np.ndarray | None = None) -> RQVAE:
        c = self.config
        x_np = check_fit_vectors(vectors, source="vectors")
        check_codebook_sizes(c.codebook_sizes, x_np.shape[0])
        torch.manual_seed(c.seed)
        dev = self.device
        x = torch.from_numpy(x_np).to(dev)
        state = self._resume(x_np.shape[1])
        if not c.anchored:
            self.tau = resolve_tau(c.tau, c.min_items, x.shape[0]) if c.adaptive else 0.0
            if state is None:
                self.module = RQVAEModule(x_np.shape[1], c).to(dev)
                self._init_codebooks(x, c.codebook_sizes, None)
            start = 0 if state is None else state["epochs_done"]
            self._train_stage(x, c.epochs, "all", None, start)
            self.tables = self._final_tables(x, None)
            return self
        head = check_head_stage(self.head_codebook_sizes, c.codebook_sizes, is_head, x_np.shape[0])
        head_t = torch.from_numpy(head.copy()).to(dev)
        self.tau = resolve_tau(c.tau, c.min_items, int(head.sum())) if c.adaptive else 0.0
        tail_epochs = c.epochs if c.tail_epochs is None else c.tail_epochs
        if state is None or state["stage"] == "head":
            if state is None:
                self.module = RQVAEModule(x_np.shape[1], c).to(dev)
                self._init_codebooks(x[head_t], self.head_codebook_sizes, None)
            self._train_stage(x[head_t], c.epochs, "head", None, 0 if state is None else state["epochs_done"])
            head_tables = self._final_tables(x[head_t], None)
            anchors = [cb.weight().detach().clone() for cb in self._module().layers()]
            self._init_codebooks(x[~head_t], c.codebook_sizes, anchors)
            start = 0
        else:
            head_tables = (
                None if state["tables"] is None else PrefixTables.from_tensors(state["tables"], len(c.codebook_sizes))
            )
            start = state["epochs_done"]
        self._train_stage(x[~head_t], tail_epochs, "tail", head_tables, start)
        self.tables = head_tables
        return self

    def _final_tables(self, x: torch.Tensor, tables: PrefixTables | None) -> PrefixTables | None:
        if not self.config.adaptive:
            return None
        _, final = self._depths(x, tables)
        return final

    # ------------------------------------------------------------------------------------------ encode

    def encode(self, vectors: np.ndarray, *, is_head: np.ndarray | None = None) -> Codes:
        m = self._module()
        x = torch.from_numpy(check_vectors(vectors, source="vectors", dim=self.dim)).to(self.device)
        anchors_only = None
        if is_head is not None and self.config.anchored:
            anchors_only = torch.from_numpy(np.array(is_head, dtype=bool)).to(self.device)
        m.eval()
        full = self._full_codes(x, anchors_only).cpu().numpy().astype(np.int32)
        m.train()
        if self.config.adaptive:
            assert self.tables is not None
            return apply_depths(full, self.tables, self.tau)
        return Codes.full(full)

    def decode(self, codes: Codes) -> np.ndarray:
        codes.validate(self.codebook_sizes)
        m = self._module()
        with torch.no_grad():
            zq = torch.zeros(codes.n_items, self.config.latent_dim, device=self.device)
            for layer, cb in enumerate(m.layers()):
                used = torch.from_numpy(codes.lengths > layer).to(self.device)
                idx = torch.from_numpy(np.where(codes.codes[:, layer] == PAD, 0, codes.codes[:, layer])).to(self.device)
                zq += cb.weight()[idx.long()] * used[:, None].float()
            return m.decoder(zq).float().cpu().numpy()

    @property
    def dim(self) -> int:
        first = self._module().encoder[0]
        assert isinstance(first, nn.Linear)
        return int(first.in_features)

    # ------------------------------------------------------------------------------------------ persist

    def save(self, path: str | Path) -> Path:
        m = self._module()
        tensors = {k: v.detach().cpu().numpy() for k, v in m.state_dict().items()}
        if self.tables is not None:
            tensors.update(self.tables.to_tensors())
        anchor_sizes = [cb.n_anchor for cb in m.layers()]
        out = write_folder(
            path, self.method, self.config, tensors, dim=self.dim, tau=self.tau, anchor_sizes=anchor_sizes
        )
        (out / "history.json").write_text(json.dumps(self.history, indent=1) + "\n", encoding="utf-8")
        return out

    @classmethod
    def load(cls, path: str | Path) -> RQVAE:
        payload, tensors = read_folder(path)
        tok = cls(RQVAEConfig(**payload["config"]))
        c = tok.config
        m = RQVAEModule(int(payload["dim"]), c)
        for size, n_anchor in zip(c.codebook_sizes, payload["anchor_sizes"], strict=True):
            m.codebooks.append(
                ResidualCodebook(torch.zeros(n_anchor, c.latent_dim), torch.zeros(size - n_anchor, c.latent_dim))
            )
        state = {k: torch.from_numpy(v.copy()) for k, v in tensors.items() if not k.startswith("prefix_")}
        m.load_state_dict(state)
        tok.module = m.to(tok.device)
        tok.tau = float(payload["tau"])
        if c.adaptive:
            tok.tables = PrefixTables.from_tensors(tensors, len(c.codebook_sizes))
        return tok
