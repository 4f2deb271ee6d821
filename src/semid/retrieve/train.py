"""`semid train`: fit the generative retriever on query -> SID pairs, plus indexing pairs item text -> SID.

Several GPUs (or CPU processes): launch with ``torchrun --nproc_per_node N -m semid.cli train ...``; each
process then trains on its shard of every epoch under PyTorch DistributedDataParallel, and rank 0 alone
evaluates, checkpoints and saves.

One epoch runs over the training records of the dataset (query text, or history SIDs, -> the target's SID)
and, with ``index_pairs``, every item's text -> its SID (DSI/NCI "indexing"). After each epoch a sample of
valid queries is decoded with constrained beam search and Recall@10 reported; a checkpoint (model,
optimizer, epoch, history) is written so that rerunning the same command resumes. bf16 autocast on GPU.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from semid.data.format import Dataset, load_dataset
from semid.errors import DataError
from semid.retrieve.model import InputEncoder, ModelConfig, SIDLoss, build_model, load_text_tokenizer, pad_batch
from semid.retrieve.retriever import Retriever
from semid.retrieve.vocab import SIDVocab
from semid.sid.table import SIDTable


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 200  # linear warm-up (at most 10% of all steps), then cosine decay to 10% of lr
    index_pairs: bool = True  # add item text -> SID pairs for every item
    eval_queries: int = 300  # valid records decoded after each epoch (0: none)
    eval_beam: int = 20
    seed: int = 0
    device: str | None = None  # None: cuda when available, else cpu
    amp: bool = True  # bf16 autocast on GPU
    show_progress: bool = True


def distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank); starts the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if world > 1:
        return torch.distributed.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0"))
    return 0, 1, 0


def input_kind(ds: Dataset) -> str:
    q = ds.queries
    has_text = (q["query"].str.strip() != "").all()
    if has_text:
        return "text"
    if q["history"].map(len).gt(0).all():
        return "history"
    raise DataError(
        "every query record needs text, or every one a history (mixed datasets are not supported yet)", source="queries"
    )


def record_inputs(ds: Dataset, split: str, kind: str, enc: InputEncoder) -> list[list[int]]:
    rec = ds.split(split)
    if kind == "text":
        return enc.text(rec["query"].tolist())
    return enc.history([list(h) for h in rec["history"]])


def training_pairs(
    ds: Dataset, kind: str, enc: InputEncoder, index_pairs: bool
) -> tuple[list[list[int]], list[list[int]]]:
    item_tokens = enc.item_tokens()
    train = ds.split("train")
    inputs = record_inputs(ds, "train", kind, enc)
    targets = [item_tokens[int(r)] for r in enc.table.lookup(train["target"].tolist())]
    if index_pairs:
        rows = enc.table.lookup(ds.items["item_id"].tolist())
        inputs += enc.text(ds.items["text"].tolist())
        targets += [item_tokens[int(r)] for r in rows]
    return inputs, targets


def recall_at_k(retriever: Retriever, inputs: list[list[int]], targets: list[str], k: int, beam: int) -> float:
    hits = 0
    for start in range(0, len(inputs), 64):
        res = retriever.expand(retriever.generate(inputs[start : start + 64], beam), k)
        hits += sum(t in r.item_ids for t, r in zip(targets[start : start + 64], res, strict=True))
    return hits / max(len(inputs), 1)


def train_retriever(
    data_dir: str | Path,
    tokenize_dir: str | Path,
    out_dir: str | Path,
    model_cfg: ModelConfig | None = None,
    cfg: TrainConfig | None = None,
) -> tuple[Retriever, list[dict[str, Any]]]:
    model_cfg = model_cfg or ModelConfig()
    cfg = cfg or TrainConfig()
    rank, world, local_rank = distributed()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    device = torch.device(cfg.device or (f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"))
    main = rank == 0
    ds = load_dataset(data_dir)
    table = SIDTable.load(Path(tokenize_dir) / "sid_table")
    text_tok = load_text_tokenizer(model_cfg.text_tokenizer)
    vocab = SIDVocab(len(text_tok), tuple(table.codebook_sizes))
    kind = input_kind(ds)
    enc = InputEncoder(model_cfg, vocab, table, text_tok)
    inputs, targets = training_pairs(ds, kind, enc, cfg.index_pairs)
    valid = ds.split("valid")
    pick = rng.permutation(len(valid))[: cfg.eval_queries]
    all_valid = record_inputs(ds, "valid", kind, enc)
    valid_inputs = [all_valid[i] for i in pick]
    valid_targets = [valid["target"].iloc[i] for i in pick]

    model = build_model(model_cfg, vocab).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    shard = len(inputs) // world  # every rank takes the same number of steps
    steps_per_epoch = math.ceil(shard / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    warmup = max(1, min(cfg.warmup_steps, total // 10))  # short runs must still reach the peak rate

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, progress)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    out = Path(out_dir)
    ckpt = out / "checkpoint" / "last.pt"
    history: list[dict[str, Any]] = []
    start_epoch = 0
    if ckpt.exists():
        state = torch.load(ckpt, map_location=device, weights_only=False)
        if state["model_config"] != asdict(model_cfg) or state["n_pairs"] != len(inputs):
            raise DataError(f"{ckpt} belongs to another model or dataset; remove it to start over", source=str(ckpt))
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        history, start_epoch = state["history"], state["epoch"]
    retriever = Retriever(model, table, vocab, model_cfg, kind)
    forward: Any = SIDLoss(model, vocab)
    if world > 1:
        forward = torch.nn.parallel.DistributedDataParallel(
            forward, device_ids=[local_rank] if device.type == "cuda" else None
        )
    use_amp = cfg.amp and device.type == "cuda"
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        order = np.random.default_rng(cfg.seed + epoch).permutation(len(inputs))[rank * shard : (rank + 1) * shard]
        t0, seen, loss_sum = time.perf_counter(), 0, 0.0
        bar = tqdm(
            range(0, len(order), cfg.batch_size),
            desc=f"train epoch {epoch + 1}/{cfg.epochs}",
            disable=not cfg.show_progress,
        )
        for start in bar:
            idx = order[start : start + cfg.batch_size]
            ids, mask = pad_batch([inputs[i] for i in idx], device)
            labels, _ = pad_batch([targets[i] for i in idx], device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss = forward(ids, mask, labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        seconds = time.perf_counter() - t0
        row: dict[str, Any] = {
            "epoch": epoch + 1,
            "loss": loss_sum / seen,
            "seconds": seconds,
            "examples_per_s": world * seen / seconds,
        }
        if world > 1:
            torch.distributed.barrier()
        if not main:
            history.append(row)
            continue
        if valid_inputs:
            row["valid_recall@10"] = recall_at_k(retriever, valid_inputs, valid_targets, 10, cfg.eval_beam)
        history.append(row)
        if cfg.show_progress:
            print(json.dumps(row))
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "epoch": epoch + 1,
            "history": history,
            "model_config": asdict(model_cfg),
            "n_pairs": len(inputs),
        }
        torch.save(state, ckpt.with_suffix(".tmp"))
        ckpt.with_suffix(".tmp").replace(ckpt)
    if main:
        retriever.save(out)
        (out / "train_history.json").write_text(json.dumps(history, indent=2) + "\n", encoding="utf-8")
    if world > 1:
        torch.distributed.barrier()
    return retriever, history
