"""File writing helpers: output folders checked up front, permissions that follow the umask, and fsync for
crash-safe replaces."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from semid.errors import DataError

# folder names inside a `semid tokenize` folder and a saved retriever, defined once
TOKENIZER_DIR = "tokenizer"
TABLE_DIR = "sid_table"


def check_out_dir(path: str | Path) -> None:
    """Raise DataError now, before any long work, unless `path` is (or can be made) a folder semid can write
    into: no file in the way, and the nearest existing folder accepts a new file (probed for real, so
    read-only mounts and ACLs count too). Creates nothing that stays."""
    p = Path(path)
    existing = p
    while not existing.exists() and existing != existing.parent:  # exists() is False under a file, too
        existing = existing.parent
    if not existing.is_dir():
        what = f"{p} is a file" if existing == p else f"{existing} is a file, not a folder"
        raise DataError(f"cannot write a folder there: {what}", source=str(p))
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise DataError(f"cannot write there: {existing} is not writable ({exc.strerror})", source=str(p)) from None


def check_not_overwriting(inputs: list[Path], outputs: list[Path]) -> None:
    """Raise DataError when writing `outputs` would overwrite one of the `inputs` (same file, whatever the
    path spelling: symlinks and hard links included)."""
    for src in inputs:
        for dst in outputs:
            if src.exists() and dst.exists() and os.path.samefile(src, dst):
                raise DataError(
                    f"this is an input and would be overwritten by the output {dst}; write to another folder",
                    source=str(src),
                )


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


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` through a synced temporary file and a rename: a kill leaves either the old
    file or the new one, never half of one (a resumable run takes an existing file as finished work). The
    temporary file is per process: two writers of one path (a bench and `--report-only` beside it) never share it."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """`write_text_atomic` for bytes."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write_bytes_synced(tmp, data)
    os.replace(tmp, path)


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


def _aside(dst: Path) -> tuple[Path, Path]:
    """Where `replace_folder` builds the new copy of `dst` and where it puts the old one, beside `dst`."""
    return dst.with_name(f".{dst.name}.new"), dst.with_name(f".{dst.name}.old")


def recover_folder(dst: str | Path) -> None:
    """Undo what a killed `replace_folder(..., dst)` left: a half-made new copy goes, and the old folder comes
    back when the kill fell between its two renames (`dst` missing)."""
    new, old = _aside(Path(dst))
    if new.exists():
        shutil.rmtree(new)
    if old.exists():
        if Path(dst).exists():
            shutil.rmtree(old)
        else:
            os.replace(old, dst)


def replace_folder(src: str | Path, dst: str | Path, finish: Callable[[Path], None] | None = None) -> None:
    """Make `dst` a copy of the folder `src`, replacing what `dst` held without ever deleting it first: the copy
    is made (and `finish(copy)` run on it) in ``.<name>.new`` and synced, then the old `dst` is renamed aside,
    the copy renamed in, and the old one removed. A failure or kill before the renames leaves the old `dst` as
    it was; one between them leaves it in ``.<name>.old``, which `recover_folder` (run first here) restores."""
    dst = Path(dst)
    new, old = _aside(dst)
    recover_folder(dst)
    try:
        shutil.copytree(src, new)
        if finish is not None:
            finish(new)
        for folder, _, files in os.walk(new):
            for name in files:
                fsync_path(os.path.join(folder, name))
            fsync_path(folder)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    if dst.exists():
        os.replace(dst, old)
    os.replace(new, dst)
    fsync_path(dst.parent)
    shutil.rmtree(old, ignore_errors=True)
