"""Training the RQ-VAE network (semid.tokenize.rq_vae_net), one stage at a time for semid.tokenize.staging.

Loss per item, as in "Recommender Systems with Generative Retrieval" (TIGER, arXiv:2305.05065):
``||x - x_hat||^2 + sum_l ||sg(r_l) - e_l||^2 + beta * ||r_l - sg(e_l)||^2`` with straight-through
gradients, codebooks initialised by k-means on the first training batch, dead codes re-seeded after
every epoch on residuals of the current epoch. Under SARQ every epoch starts by encoding the training
items to find their depths k(x), and an item's losses cover only its layers 1..k(x); in ACRQ's tail
stage the codebook loss moves only extension codes (Sec. 2.3 of "Towards Efficient and Generalizable
Retrieval: Adaptive Semantic Quantization and Residual Knowledge Transfer", arXiv:2602.23978), and with
``freeze_encoder_in_tail`` nothing else moves.

The head stage runs ``epochs x n_items / n_head`` epochs unless ``head_epochs`` says otherwise: a head of a
few percent of the catalogue at ``epochs`` passes gets a few dozen optimiser steps, too few for the network
(movielens at 20 epochs: 60 steps in all, and 78 head items shared one SID).

After every epoch the trainer writes a checkpoint to ``checkpoint_dir`` (semid.tokenize.checkpoint) and
a new trainer resumes from it: within the stage it was written in, and with the head stage's tables
when that stage is the tail.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from semid.codes import Codes
from semid.errors import DataError
from semid.tokenize.checkpoint import load_checkpoint, save_checkpoint
from semid.tokenize.prefix import PrefixTables
from semid.tokenize.rq_kmeans import fit_codebook, nearest
from semid.tokenize.rq_vae_net import ResidualCodebook, RQVAEModule
from semid.tokenize.staging import HeadStage, Stage
from semid.tokenize.tail_depth import with_legacy_tail_depth

if TYPE_CHECKING:
    from semid.tokenize.rq_vae import RQVAEConfig

Anchors = list[torch.Tensor]
STAGES = ("all", "head", "tail")


def with_legacy_options(config: dict[str, Any]) -> dict[str, Any]:
    """A saved config as it was fitted: options it lacks predate it (the literal tail rule, the encoder
    trained in the tail stage, a head stage of ``epochs`` epochs)."""
    legacy = {"freeze_encoder_in_tail": False, "head_epochs": config.get("epochs")}
    return {**legacy, **with_legacy_tail_depth(config)}


class RQVAETrainer:
    """Fits an RQ-VAE stage by stage (semid.tokenize.staging.StagedQuantizer), resuming from a checkpoint."""

    def __init__(self, config: RQVAEConfig, device: torch.device, name: str, shape: tuple[int, ...]) -> None:
        self.config = config
        self.device = device
        self.name = name  # method name, for the progress bar
        self.n_items, self.dim = shape  # the whole catalogue's, of which a stage fits a part
        self.module: RQVAEModule | None = None
        self.history: list[dict[str, Any]] = []  # per epoch: stage, losses, utilisation
        self.resumed = self._resume()  # the checkpoint's meta (+ "tables"), or None

    def _module(self) -> RQVAEModule:
        assert self.module is not None, "the first stage builds the network"
        return self.module

    def head_done(self) -> HeadStage[Anchors] | None:
        """The head stage's outcome when the checkpoint is already in the tail stage, else None."""
        if self.resumed is None or self.resumed["stage"] != "tail":
            return None
        saved = self.resumed["tables"]
        tables = None if saved is None else PrefixTables.from_tensors(saved, len(self.config.codebook_sizes))
        return HeadStage([cb.anchors for cb in self._module().layers()], tables)

    def fit_stage(self, x_np: np.ndarray, stage: Stage[Anchors]) -> tuple[Anchors, Codes | None]:
        c = self.config
        x = torch.from_numpy(x_np).to(self.device)
        resumed = self.resumed if self.resumed is not None and self.resumed["stage"] == stage.name else None
        if resumed is None:
            if stage.anchors is None:  # a first stage: a new network
                self.module = RQVAEModule(self.dim, c.hidden_dims, c.latent_dim).to(self.device)
            self._init_codebooks(x, stage.sizes, stage.anchors)
        start = 0 if resumed is None else resumed["epochs_done"]
        self._train(x, self.stage_epochs(stage.name, x.shape[0]), stage, start)
        codebooks = [cb.weight().detach().clone() for cb in self._module().layers()]
        return codebooks, self._depths(x, stage)[0] if c.adaptive else None  # the staging's tables count these

    def stage_epochs(self, stage: str, n_stage: int) -> int:
        c = self.config
        if stage == "tail" and c.tail_epochs is not None:
            return c.tail_epochs
        if stage == "head":
            return c.head_epochs if c.head_epochs is not None else math.ceil(c.epochs * self.n_items / n_stage)
        return c.epochs

    # ------------------------------------------------------------------------------------------ training

    def _init_codebooks(self, x: torch.Tensor, sizes: list[int], anchors: Anchors | None) -> None:
        """k-means on the first batch's residuals, layer by layer (anchors kept as they are)."""
        m = self._module()
        gen = torch.Generator().manual_seed(self.config.seed)
        first = x[torch.randperm(x.shape[0], generator=gen)[: max(self.config.batch_size, 4 * max(sizes))]]
        residual = m.latents(first).cpu().numpy()
        m.codebooks = torch.nn.ModuleList()
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
            m.codebooks.append(ResidualCodebook(torch.from_numpy(a), torch.from_numpy(new)).to(self.device))
            full = np.vstack([a, new]) if a.size else new
            residual = residual - full[nearest(full, residual)]

    def _depths(self, x: torch.Tensor, stage: Stage[Anchors]) -> tuple[Codes, PrefixTables]:
        """Every training item's SARQ code, cut by the stage's rule over its current codes, and the tables a
        checkpoint keeps: the stage's own, or the head's that a resumed tail stage needs."""
        cut = stage.cut(self._module().codes(x).cpu().numpy())
        return cut, PrefixTables.from_codes(cut) if stage.tables is None else stage.tables

    def _train(self, x: torch.Tensor, epochs: int, stage: Stage[Anchors], start_epoch: int) -> None:
        c = self.config
        m = self._module()
        tail_stage = stage.name == "tail"
        params = [cb.extension for cb in m.layers()]
        n_anchors = [cb.n_anchor for cb in m.layers()]
        if not (tail_stage and c.freeze_encoder_in_tail):
            params += list(m.encoder.parameters()) + list(m.decoder.parameters())
        opt = torch.optim.AdamW(params, lr=c.lr, weight_decay=0.0)
        use_amp = c.amp and self.device.type == "cuda"
        gen = torch.Generator().manual_seed(c.seed + (1000 if tail_stage else 0))
        n, L = x.shape[0], len(m.layers())
        tables = stage.tables
        bar = tqdm(range(start_epoch, epochs), desc=f"{self.name} {stage.name}", disable=not c.show_progress)
        for epoch in bar:
            if c.adaptive:
                # depths from this epoch's codes (or the head's fixed tables), so a resumed run cuts the same way
                cut, tables = self._depths(x, stage)
                depth = torch.from_numpy(cut.lengths).to(self.device)
            else:
                depth = torch.full((n,), L, device=self.device)
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
                    use = (db > layer).float()  # SARQ: only the item's own layers 1..k(x)
                    # ACRQ's tail stage: the codebook loss is masked to assignments that hit the extension
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
            row = {"stage": stage.name, "epoch": epoch, **{k: v / n for k, v in totals.items()}, "reseeded": reseeded}
            row["utilization"] = [float((u > 0).float().mean()) for u in usage]
            self.history.append(row)
            bar.set_postfix(recon=f"{row['recon']:.4f}", reseeded=reseeded)
            self._checkpoint(stage.name, epoch + 1, tables)

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

    def _resume(self) -> dict[str, Any] | None:
        """Load the checkpoint (safetensors + JSON, never a pickle) into self; its meta plus "tables"."""
        if not self.config.checkpoint_dir:
            return None
        found = load_checkpoint(self.config.checkpoint_dir, self.device)
        if found is None:
            return None
        path, state, tensors = found
        free = ["checkpoint_dir", "show_progress", "device", "epochs", "tail_epochs", "head_epochs"]  # may train longer
        if not self.config.anchored:
            free.append("freeze_encoder_in_tail")  # only ACRQ has a tail stage
        if not (self.config.adaptive and self.config.anchored):
            free.append("tail_depth")  # only SA²CRQ has tail depths
        mine = {k: v for k, v in asdict(self.config).items() if k not in free}
        theirs = state.get("config")
        if isinstance(theirs, dict):
            theirs = with_legacy_options(theirs)
        if not isinstance(theirs, dict) or {k: v for k, v in theirs.items() if k in mine} != mine:
            raise DataError(
                f"checkpoint {path} was written with another config; remove it to start over", source=str(path)
            )
        c = self.config
        try:
            m = RQVAEModule(self.dim, c.hidden_dims, c.latent_dim)
            m.shape_codebooks(state["sizes"], state["anchor_sizes"])
            m.load_state_dict({k[len("module.") :]: v for k, v in tensors.items() if k.startswith("module.")})
            tables = {k[len("tables.") :]: v.cpu().numpy() for k, v in tensors.items() if k.startswith("tables.")}
            state["tables"] = tables if state.get("has_tables") else None
            if not isinstance(state["epochs_done"], int) or state["stage"] not in STAGES:
                raise ValueError(f"bad stage {state['stage']!r} or epochs_done {state['epochs_done']!r}")
            if not isinstance(state["history"], list):
                raise TypeError("history is not a list")
            if state["stage"] == "tail" and c.adaptive:
                PrefixTables.from_tensors(state["tables"], len(c.codebook_sizes))  # KeyError if absent
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # tensors or meta do not fit this model
            raise DataError(
                f"checkpoint does not match this model ({exc}); remove it to start over", source=str(path)
            ) from None
        self.module = m.to(self.device)
        self.history = list(state["history"])
        return state
