"""Training checkpoints that cannot run code: tensors and plain values only, loaded with ``weights_only=True``.

``last.pt`` holds the model, optimizer and scheduler state, the per-epoch history, the best epoch so far (and
its weights), and the identity of what was trained (model config, number of training pairs, the SID table's
fingerprint), so that a rerun resumes only the same run: a table refit to other SIDs is refused, not trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from semid.errors import DataError

WHAT = {"model_config": "model settings", "n_pairs": "training pairs", "sids": "item -> SID tables"}


def last_checkpoint(out_dir: str | Path) -> Path:
    """Where `fit_retriever(..., out_dir)` keeps its latest checkpoint (present: a rerun resumes it)."""
    return Path(out_dir) / "checkpoint" / "last.pt"


class CheckpointMismatch(DataError):
    """A checkpoint of another training run: other model settings, training pairs or item -> SID table."""


def save_checkpoint(
    folder: Path,
    identity: dict[str, Any],
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    sched: Any,
    history: list[dict[str, Any]],
    best: dict[str, Any],
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        "identity": identity,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "history": history,
        "best": best,
    }
    tmp = folder / "last.pt.tmp"
    torch.save(state, tmp)
    tmp.replace(folder / "last.pt")


def load_checkpoint(
    folder: Path,
    identity: dict[str, Any],
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    sched: Any,
    device: torch.device,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Restore model, optimizer and scheduler in place; returns (history, best)."""
    path = folder / "last.pt"
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # truncated, corrupted, or holding objects that are not plain data
        raise DataError(
            f"{path} is not a readable semid checkpoint ({type(exc).__name__}); remove it to start over",
            source=str(path),
        ) from None
    saved = state.get("identity") if isinstance(state, dict) else None
    if not isinstance(saved, dict):
        raise DataError(f"{path} holds no training identity; remove it to start over", source=str(path))
    if "sids" not in saved:  # written before checkpoints named their SID table: compared on the rest
        identity = {k: v for k, v in identity.items() if k != "sids"}
    differ = [WHAT.get(k, k) for k in sorted(identity.keys() | saved.keys()) if saved.get(k) != identity.get(k)]
    if differ:
        raise CheckpointMismatch(
            f"belongs to another training run ({', '.join(differ)} differ); remove it to start over", source=str(path)
        )
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    return list(state["history"]), dict(state["best"])
