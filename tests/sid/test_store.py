"""SID table folders: a save killed at any step leaves the complete old or new table, litter is cleaned up,
permissions follow the umask, and tables of older semid (and its crash leftovers) are still read."""

import os
import shutil
import stat
import threading

import pytest

from semid.errors import DataError, MissingResourceError
from semid.sid import SIDTable, store
from tests.sid.helpers import random_table, same_table


class Killed(BaseException):
    """Stands for kill -9: `except Exception` clean-up in the save does not run."""


def write_flat(table: SIDTable, folder) -> None:
    """A table as semid wrote it before versioned folders: the three files directly in the folder."""
    folder.mkdir(parents=True)
    table.save(folder.parent / "scratch")
    version = store.resolve(folder.parent / "scratch")
    for name in store.TABLE_FILES:
        shutil.copy(version / name, folder / name)
    shutil.rmtree(folder.parent / "scratch")


def assert_clean(dest) -> None:
    names = sorted(os.listdir(dest))
    assert os.listdir(dest.parent) == [dest.name]  # nothing next to it
    if "CURRENT" not in names:  # still the older layout's table: only its files
        assert set(names) <= store.TABLE_FILES | {".lock"}, names
        return
    assert names[:2] == [".lock", "CURRENT"] and len(names) == 3 and store._VERSION.fullmatch(names[2]), names
    assert sorted(os.listdir(dest / names[2])) == sorted(store.TABLE_FILES)


# every call through which a save touches the disk; the fault hits the k-th of them
FS_CALLS = [
    (os, "replace"),
    (os, "rename"),
    (os, "mkdir"),
    (os, "unlink"),
    (os, "fsync"),
    (shutil, "rmtree"),
    (store, "save_safetensors"),
    (store.pq, "write_table"),
    (store, "write_bytes_synced"),
]


def save_killed_at(k: int, table: SIDTable, dest, monkeypatch, exc: BaseException) -> str:
    """Save `table`, raising `exc` at the k-th disk call: "stopped" (the save raised it), "survived" (the save
    went on: a best-effort clean-up swallowed it) or "not reached" (the save makes fewer than k calls)."""
    calls = 0

    def wrap(orig):
        def hooked(*args, **kwargs):
            nonlocal calls
            calls += 1
            if calls == k:
                raise exc
            return orig(*args, **kwargs)

        return hooked

    with monkeypatch.context() as m:
        for mod, name in FS_CALLS:
            m.setattr(mod, name, wrap(getattr(mod, name)))
        try:
            table.save(dest)
        except type(exc):
            return "stopped"
    return "survived" if calls >= k else "not reached"


@pytest.mark.parametrize("before", ["versioned", "flat"])
@pytest.mark.parametrize("fault", [Killed(), OSError("disk full")])
def test_a_save_stopped_at_any_step_leaves_the_old_or_the_new_table(tmp_path, monkeypatch, before, fault):
    old, new = random_table(40, 1), random_table(60, 2)
    outcomes, seen = [], []
    while not outcomes or outcomes[-1] != "not reached":
        k = len(outcomes) + 1
        dest = tmp_path / str(k) / "sid_table"
        if before == "flat":
            write_flat(old, dest)
        else:
            old.save(dest)
        outcomes.append(save_killed_at(k, new, dest, monkeypatch, fault))
        got = SIDTable.load(dest)  # must be complete: the old table or the new one
        assert same_table(got, old) or same_table(got, new), f"fault at step {k}"
        seen.append("new" if same_table(got, new) else "old")
        if outcomes[-1] != "stopped":
            assert seen[-1] == "new", f"fault at step {k}"
        assert_clean(dest)  # that load removed what the stopped save left
        random_table(10, 3).save(dest)  # and the next save works
        assert same_table(SIDTable.load(dest), random_table(10, 3))
        assert_clean(dest)
    assert outcomes.count("stopped") >= 8, outcomes  # the fault really went through the steps of the save
    if isinstance(fault, Killed):  # one commit point: killed before it, the old table; after it, the new one
        assert seen == sorted(seen, key=lambda r: r == "new") and "old" in seen, seen


def test_fault_between_version_and_pointer_the_brief_case(tmp_path, monkeypatch):
    """os.replace of the pointer fails: the old table stays, complete; the orphan version goes on the next save."""
    dest = tmp_path / "sid_table"
    old, new = random_table(30, 1), random_table(50, 2)
    old.save(dest)

    def refuse(*_args, **_kwargs):
        raise OSError("injected between writing the version and replacing the pointer")

    with monkeypatch.context() as m:
        m.setattr(os, "replace", refuse)
        with pytest.raises(OSError, match="injected"):
            new.save(dest)
    assert len([p for p in os.listdir(dest) if p.startswith("v-")]) == 2  # the new version, never named
    assert same_table(SIDTable.load(dest), old)
    new.save(dest)
    assert same_table(SIDTable.load(dest), new)
    assert_clean(dest)


def test_readers_always_find_a_complete_table_while_it_is_rewritten(tmp_path):
    dest = tmp_path / "sid_table"
    a, b = random_table(200, 1), random_table(300, 2)
    a.save(dest)
    stop, bad, loads = threading.Event(), [], [0]

    def reader() -> None:
        while not stop.is_set():
            try:
                got = SIDTable.load(dest)
                if not (same_table(got, a) or same_table(got, b)):
                    bad.append("a mix of two tables")
            except Exception as exc:  # any failure is the finding
                bad.append(repr(exc))
            loads[0] += 1

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(30):
            (b if i % 2 == 0 else a).save(dest)
    finally:
        stop.set()
        t.join()
    assert not bad, bad[:3]
    assert loads[0] > 5


@pytest.mark.parametrize("mask", [0o002, 0o022, 0o077])
def test_permissions_follow_the_umask(tmp_path, mask):
    previous = os.umask(mask)
    try:
        random_table(20, 1).save(tmp_path / "t")
        random_table(20, 2).save(tmp_path / "t")
    finally:
        os.umask(previous)
    for dirpath, _dirnames, filenames in os.walk(tmp_path / "t"):
        assert stat.S_IMODE(os.stat(dirpath).st_mode) == 0o777 & ~mask, dirpath
        for f in filenames:
            assert stat.S_IMODE(os.stat(os.path.join(dirpath, f)).st_mode) == 0o666 & ~mask, f


def test_older_layout_and_its_crash_leftovers(tmp_path):
    """semid before versioned folders: flat files; killed between its renames it left only `.t.old`."""
    old, new = random_table(30, 1), random_table(40, 2)
    write_flat(old, tmp_path / ".t.old")
    write_flat(old, tmp_path / ".t.k3j_x9ab")  # its temp copy
    (tmp_path / ".t.notes").mkdir()  # not semid's: kept
    (tmp_path / ".t.notes" / "mine.txt").write_text("keep")
    assert same_table(SIDTable.load(tmp_path / "t"), old)  # recovered from .t.old
    new.save(tmp_path / "t")
    assert same_table(SIDTable.load(tmp_path / "t"), new)
    assert sorted(os.listdir(tmp_path)) == [".t.notes", "t"]
    write_flat(old, tmp_path / "flat")
    assert same_table(SIDTable.load(tmp_path / "flat"), old)  # the older layout reads as before
    new.save(tmp_path / "flat")  # and is migrated: flat files gone, a version folder + pointer
    assert same_table(SIDTable.load(tmp_path / "flat"), new)
    assert not set(os.listdir(tmp_path / "flat")) & store.TABLE_FILES


def test_version_changes_on_every_save_only(tmp_path):
    dest = tmp_path / "t"
    assert store.table_version(dest) is None
    random_table(10, 1).save(dest)
    v1 = store.table_version(dest)
    SIDTable.load(dest)
    assert store.table_version(dest) == v1 is not None
    random_table(10, 1).save(dest)
    assert store.table_version(dest) not in (v1, None)


@pytest.mark.parametrize("pointer", ["../../etc", "v-1-2/../../x", "", "\xff"])
def test_a_damaged_pointer_is_a_clear_error(tmp_path, pointer):
    dest = tmp_path / "t"
    random_table(10, 1).save(dest)
    (dest / "CURRENT").write_text(pointer, encoding="latin-1")
    with pytest.raises(DataError, match=f"{dest / 'CURRENT'}: "):
        SIDTable.load(dest)
    random_table(10, 2).save(dest)  # a save repairs it
    assert same_table(SIDTable.load(dest), random_table(10, 2))


def test_no_table_is_a_missing_resource(tmp_path):
    with pytest.raises(MissingResourceError, match=r"is .* a SID table saved by semid"):
        SIDTable.load(tmp_path / "nothing")
