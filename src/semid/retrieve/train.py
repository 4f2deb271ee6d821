"""`semid train`: fit the generative retriever on query (or history) -> SID pairs, until it stops improving.

One epoch runs over every training record of the dataset and, for text queries with ``index_pairs``, every
item's text -> its SID: the "indexing" of "Transformer Memory as a Differentiable Search Index"
(arXiv:2202.06991) and "A Neural Corpus Indexer for Document Retrieval" (arXiv:2206.02743). After each epoch a
seeded sample of valid records is decoded with constrained beam search and Recall@10 recorded; training stops
when it has not improved for ``patience`` epochs, and the retriever keeps the best epoch's weights. A checkpoint
(model, optimizer, epoch, history, best) is written after every epoch, so rerunning the same command resumes.
Checkpoints hold only tensors and plain values and are loaded with ``weights_only=True``: a planted file cannot
run code.

Several GPUs (or CPU processes): launch with ``torchrun --nproc_per_node N -m semid.cli train ...``; each
process trains on its shard of every epoch under PyTorch DistributedDataParallel, and rank 0 alone evaluates,
checkpoints and saves. bf16 autocast on GPU.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from semid.data.format import Dataset, load_dataset
from semid.errors import DataError
from semid.eval.metrics import recall_at_k
from semid.retrieve.backbones import Backbone
from semid.retrieve.build import BuildConfig, build_backbone, input_kind, training_pairs, valid_sample
from semid.retrieve.checkpoint import last_checkpoint, load_checkpoint, save_checkpoint
from semid.retrieve.retriever import Retriever
from semid.sid.table import SIDTable


@dataclass
class TrainConfig:
    # measured (benchmarks/results/bench_minilm/movielens_collaborative_cosine, wordnet_exact): 10 epochs with a
    # cosine decay, keeping the best valid epoch, beat a constant rate with early stopping (0.102 vs 0.085 R@10)
    epochs: int = 10
    patience: int = 0  # epochs without a better valid Recall@10 before stopping (0: run every epoch)
    # measured on movielens: 3e-3 at 512 pairs reaches a higher valid recall in 12 epochs than 1e-3 / 2e-3 at 256
    batch_size: int = 512
    lr: float = 3e-3
    # the text encoder's fine-tuned top layers (SIDModelConfig.finetune_layers) learn at this rate: pretrained
    # weights, far more than the decoder's rate would keep (a usual BERT fine-tuning rate; not measured here)
    finetune_lr: float = 1e-4
    weight_decay: float = 0.01
    warmup_steps: int = 200  # linear warm-up (at most 10% of all steps), then lr_schedule
    lr_schedule: str = "cosine"  # after warm-up: "cosine" decay to 0 at the last epoch, or "constant"
    index_pairs: bool = True  # text queries: add item text -> SID pairs for every item
    pseudo_queries: int = 0  # with index_pairs: that many random spans of each item's text -> its SID too
    max_train_records: int | None = None  # seeded sample of the training records (None: all)
    eval_queries: int = 1000  # seeded sample of valid records decoded after each epoch (0: none)
    eval_beam: int = 20
    seed: int = 0
    device: str | None = None  # None: cuda when available, else cpu
    amp: bool = True  # bf16 autocast on GPU
    show_progress: bool = True


def distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank); starts the process group when launched by torchrun."""
    import os

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if world > 1:
        return torch.distributed.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0"))
    return 0, 1, 0


def valid_recall(retriever: Retriever, inputs: list[Any], targets: list[str], k: int, beam: int) -> float:
    """Mean Recall@k (semid.eval.metrics) of constrained beam search over the given inputs."""
    run: list[list[str]] = []
    for start in range(0, len(inputs), 128):
        run += [r.item_ids for r in retriever.expand(retriever.generate(inputs[start : start + 128], beam), k)]
    return float(recall_at_k(run, [{t} for t in targets], k).mean()) if run else 0.0


LR_SCHEDULES = ("constant", "cosine")


def check_train_config(cfg: TrainConfig) -> None:
    """Fail before any work on settings that cannot train."""
    for name in ("epochs", "batch_size", "eval_beam"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)}")
    for name in ("lr", "finetune_lr"):
        if not getattr(cfg, name) > 0:
            raise ValueError(f"{name} must be > 0, got {getattr(cfg, name)}")
    if cfg.lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {cfg.lr_schedule!r}")
    if cfg.device is not None and cfg.device.split(":")[0] not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be cpu, cuda[:N] or mps, got {cfg.device!r}")


def fit_retriever(
    ds: Dataset,
    table: SIDTable,
    build: BuildConfig | None = None,
    cfg: TrainConfig | None = None,
    out_dir: str | Path | None = None,
    item_vectors: np.ndarray | None = None,
) -> tuple[Retriever, list[dict[str, Any]]]:
    """Train a retriever for a dataset and its SID table, in memory; with ``out_dir``, checkpoint every epoch
    there (rerun to resume) and save the final retriever. ``item_vectors``: the items' vectors from the
    backbone's text encoder (rows as ``ds.items``), to skip embedding the catalogue again."""
    build = build or BuildConfig()
    cfg = cfg or TrainConfig()
    check_train_config(cfg)
    rank, world, local_rank = distributed()
    torch.manual_seed(cfg.seed)
    device = torch.device(cfg.device or (f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"))
    main = rank == 0
    kind = input_kind(ds)
    backbone: Backbone = build_backbone(
        build, ds, table, kind, device, show_progress=cfg.show_progress and main, item_vectors=item_vectors
    )
    inputs, targets = training_pairs(
        backbone, ds, table, cfg.index_pairs, cfg.max_train_records, cfg.seed, cfg.pseudo_queries
    )
    valid_inputs, valid_targets = valid_sample(backbone, ds, cfg.eval_queries, cfg.seed)
    model = backbone.model
    opt = torch.optim.AdamW(_param_groups(model, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay)
    shard = len(inputs) // world  # every rank takes the same number of steps
    if shard < 1:
        raise DataError(f"{len(inputs)} training pairs cannot be shared by {world} processes", source="train")
    steps_per_epoch = math.ceil(shard / cfg.batch_size)
    warmup = max(1, min(cfg.warmup_steps, steps_per_epoch * cfg.epochs // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(cfg.lr_schedule, warmup, steps_per_epoch * cfg.epochs))
    last = last_checkpoint(out_dir) if out_dir is not None else None
    ckpt = last.parent if last is not None else None
    identity: dict[str, Any] = {}  # what a checkpoint must match: only worked out when there is one to write
    if ckpt is not None:
        identity = {"model_config": backbone.config(), "n_pairs": len(inputs), "sids": table.fingerprint()}
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"epoch": 0, "recall": -1.0, "state": None}
    if last is not None and last.exists():
        history, best = load_checkpoint(last.parent, identity, model, opt, sched, device)
    retriever = Retriever(backbone, table)
    forward: Any = backbone.loss_module()
    if world > 1:
        forward = torch.nn.parallel.DistributedDataParallel(
            forward, device_ids=[local_rank] if device.type == "cuda" else None
        )
    use_amp = cfg.amp and device.type == "cuda"
    for epoch in range(len(history), cfg.epochs):
        if cfg.patience and best["epoch"] and epoch - best["epoch"] >= cfg.patience:
            break  # resumed after early stopping had already ended the run
        model.train()
        order = np.random.default_rng(cfg.seed + epoch).permutation(len(inputs))[rank * shard : (rank + 1) * shard]
        t0, seen, loss_sum = time.perf_counter(), 0, 0.0
        bar = tqdm(
            range(0, len(order), cfg.batch_size),
            desc=f"train epoch {epoch + 1}/{cfg.epochs}",
            disable=not (cfg.show_progress and main),
        )
        for start in bar:
            idx = order[start : start + cfg.batch_size]
            batch = backbone.collate([inputs[i] for i in idx], [targets[i] for i in idx], device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss = forward(*batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        seconds = time.perf_counter() - t0
        row: dict[str, Any] = {"epoch": epoch + 1, "loss": loss_sum / seen, "seconds": seconds}
        row["examples_per_s"] = world * seen / seconds
        if world > 1:
            torch.distributed.barrier()
        if not main:
            history.append(row)
            continue
        if valid_inputs:
            t1 = time.perf_counter()
            row["valid_recall@10"] = valid_recall(retriever, valid_inputs, valid_targets, 10, cfg.eval_beam)
            row["valid_queries"] = len(valid_inputs)  # a seeded sample of the valid records (eval_queries)
            row["eval_seconds"] = time.perf_counter() - t1
        history.append(row)
        score = row.get("valid_recall@10", float(epoch))  # no valid records: the last epoch is the best
        if score >= best["recall"]:  # ties: the later, longer-trained epoch
            best = {"epoch": epoch + 1, "recall": score, "state": _copy_state(model)}
        if cfg.show_progress:
            print(json.dumps(row))
        if ckpt is not None:
            save_checkpoint(ckpt, identity, model, opt, sched, history, best)
        if cfg.patience and epoch + 1 - best["epoch"] >= cfg.patience:
            break
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    model.eval()
    if main and out_dir is not None:
        retriever.save(out_dir)
        summary = {"best_epoch": best["epoch"], "best_valid_recall@10": best["recall"], "epochs": history}
        (Path(out_dir) / "train_history.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if world > 1:
        torch.distributed.barrier()
    return retriever, history


def lr_factor(schedule: str, warmup: int, total_steps: int) -> Callable[[int], float]:
    """Multiplier of the peak learning rate at each optimiser step: linear warm-up, then `schedule`."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def _param_groups(model: torch.nn.Module, cfg: TrainConfig) -> Any:
    """The model's parameters, the text encoder's fine-tuned top layers (if any) in a group at ``finetune_lr``."""
    top = getattr(model, "query_top", None)
    if top is None:
        return model.parameters()
    mine = {id(p) for p in top.parameters()}
    rest = [p for p in model.parameters() if id(p) not in mine]
    return [{"params": rest}, {"params": list(top.parameters()), "lr": cfg.finetune_lr}]


def _copy_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def train_retriever(
    data_dir: str | Path,
    tokenize_dir: str | Path,
    out_dir: str | Path,
    build: BuildConfig | None = None,
    cfg: TrainConfig | None = None,
) -> tuple[Retriever, list[dict[str, Any]]]:
    """Folder wrapper of `fit_retriever` for the CLI: a dataset folder and a `semid tokenize` folder."""
    from semid.embed.collaborative import CollaborativeVectors, content_fingerprint
    from semid.pipeline import dataset_vectors, resolve_table_dir

    table_dir = resolve_table_dir(tokenize_dir)
    ds, table = load_dataset(data_dir), SIDTable.load(table_dir)
    item_vectors = None
    folder = table_dir.parent  # the tokenize folder, also when the table folder itself was given
    if CollaborativeVectors.present(folder):  # the SIDs were fitted on joined vectors: the model reads them
        joined = CollaborativeVectors.load(folder)
        content = dataset_vectors(ds, Path(data_dir))
        if joined.content_sha256 and joined.content_sha256 != content_fingerprint(content):
            raise DataError(
                f"the SIDs in {folder} were fitted on other content vectors than {data_dir}'s item_vectors.npy "
                "(tokenized with --vectors, or embedded again since); run `semid tokenize` again on these",
                source=str(folder),
            )
        item_vectors = joined.vectors(ds.items["item_id"].tolist(), content)
    return fit_retriever(ds, table, build, cfg, out_dir, item_vectors=item_vectors)
