"""Training checkpoints that cannot run code when loaded.

A checkpoint is one file, ``last.safetensors``: the tensors in safetensors, everything else (stage,
epochs done, config, history) as JSON in its header, so replacing the file swaps both at once. Nothing
is unpickled: a checkpoint dir is often shared with an artifact, and a pickle there would run on resume.
Checkpoints of older semid versions (``last.pt``, a pickle) are read with ``torch.load(weights_only=True)``,
which refuses anything but tensors and plain containers.

Any file that cannot be read (empty, truncated, corrupted, not semid's) is a DataError naming it.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from semid.errors import DataError
from semid.files import current_umask

CHECKPOINT_FILE = "last.safetensors"
LEGACY_FILE = "last.pt"  # pickle, semid < 0.x; loaded with weights_only=True only
META_KEY = "semid_checkpoint"


def _unreadable(path: Path, reason: object) -> DataError:
    return DataError(
        f"not a readable semid checkpoint ({reason}); delete it to start the training over", source=str(path)
    )


def save_checkpoint(directory: str | Path, meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Path:
    """Write `tensors` and the JSON-able `meta` to ``directory/last.safetensors``, replacing it atomically."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    final = out / CHECKPOINT_FILE
    tmp = out / (CHECKPOINT_FILE + ".tmp")
    save_file(
        {k: v.detach().cpu().contiguous() for k, v in tensors.items()},
        str(tmp),
        metadata={META_KEY: json.dumps(meta)},
    )
    os.chmod(tmp, 0o666 & ~current_umask())  # save_file makes it 0600 whatever the umask
    os.replace(tmp, final)
    return final


Loaded = tuple[Path, dict[str, Any], dict[str, torch.Tensor]]


def load_checkpoint(directory: str | Path, device: torch.device | str = "cpu") -> Loaded | None:
    """(file, meta, tensors) of the checkpoint in `directory`, or None when there is none."""
    root = Path(directory)
    for name, load in ((CHECKPOINT_FILE, _load_safetensors), (LEGACY_FILE, _load_legacy)):
        if (root / name).exists():
            meta, tensors = load(root / name, device)
            return root / name, meta, tensors
    return None


def _load_safetensors(path: Path, device: torch.device | str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
        meta = json.loads(header[META_KEY])
    except KeyError:
        raise _unreadable(path, f"no {META_KEY!r} entry in its header") from None
    except Exception as exc:  # safetensors, OSError, JSON: all mean the file is not what semid wrote
        raise _unreadable(path, exc) from None
    if not isinstance(meta, dict):
        raise _unreadable(path, f"{META_KEY!r} is not a JSON object")
    return meta, tensors


def _load_legacy(path: Path, device: torch.device | str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """A pickled checkpoint of an older semid: {"module": state_dict, "tables": dict | None, ...}."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError:  # torch's advice here (load without weights_only) is what we refuse
        raise _unreadable(path, "a pickle holding more than tensors and plain values; semid does not run it") from None
    except Exception as exc:  # truncated, empty, not a torch file
        raise _unreadable(path, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) from None
    if not isinstance(state, dict) or not isinstance(state.get("module"), dict):
        raise _unreadable(path, "no model state in it")
    tensors = {f"module.{k}": v for k, v in state["module"].items()}
    for k, v in (state.get("tables") or {}).items():
        tensors[f"tables.{k}"] = v if torch.is_tensor(v) else torch.as_tensor(v)
    meta = {k: v for k, v in state.items() if k not in ("module", "tables")}
    meta["has_tables"] = state.get("tables") is not None
    return meta, tensors
