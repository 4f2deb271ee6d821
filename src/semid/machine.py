"""A description of the machine a result was measured on, stored beside every benchmark and bench result."""

from __future__ import annotations

import os
import platform
from typing import Any


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def describe() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": _mem_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for mod in ("numpy", "faiss", "torch", "sentence_transformers"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:  # a benchmark that does not need it still runs
            info[mod] = None
    try:
        import torch

        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:
        info["gpu"] = None
    return info


def machine_label(info: dict[str, Any]) -> str:
    """One line for a `describe()` dict: "<cpu>, <cores> cores, GPU: <gpu or none>"."""
    return f"{info.get('cpu')}, {info.get('cores_available')} cores, GPU: {info.get('gpu') or 'none'}"
