"""File writing helpers: permissions that follow the umask, and fsync for crash-safe replaces."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux >= 4.7)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # the only portable way to read it; restored at once
    os.umask(mask)
    return mask


def save_safetensors(tensors: dict[str, np.ndarray], path: str | Path) -> None:
    """safetensors' save_file, but the file gets 0666 & ~umask like any other file (save_file makes it 0600)."""
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path))
    os.chmod(path, 0o666 & ~current_umask())


def write_bytes_synced(path: str | Path, data: bytes) -> None:
    """Create (or truncate) `path` with `data` and fsync it, so a later rename of it survives a crash."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_path(path: str | Path) -> None:
    """fsync a file (errors raise: the data may not be on disk) or a directory (where the OS allows it)."""
    is_dir = os.path.isdir(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if is_dir:  # e.g. Windows cannot open directories
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not is_dir:  # some file systems refuse fsync on a directory; nothing to do about it
            raise
    finally:
        os.close(fd)
