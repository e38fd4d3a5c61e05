"""Bound a node's cache root by age and size (`jenkins-sidecar cache gc`).

hostPath data is invisible to the kubelet's eviction and to ephemeral-storage
accounting, so nothing else ever frees it (DESIGN §5). The unit of removal is one
leaf cache directory of the layout in `volumes.py`:
``<project>/<pipeline>/<scope>[/slot-<k>]/<path>``.

Last use is the newest modification time in the tree, or access time of a file
(kubelet's default `relatime` updates it at least daily on reads; listing a directory
would touch a directory's atime, so those are not counted). Directories unused for
longer than `max_age` go first, then the least recently used until the rest fits in
`max_size`. A directory used within `keep_recent` is never removed: a running build
may be writing to it. Removal renames the directory out of the layout first, so a pod
starting meanwhile finds either the whole cache or none. A slot directory whose
``slot-<k>.lock`` a pod holds (`sidecar.render.slotclaim`) is never removed; gc holds
that lock itself while it removes one, so no pod claims it halfway.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sidecar.cache.volumes import RESERVED, SCOPES, SLOT_SEGMENT

TRASH = ".gc-trash"
DAY = 86400.0


@dataclass(frozen=True)
class CacheDir:
    """One leaf cache directory as found on the node."""

    directory: str        # relative to the root, '/'-separated
    scope: str
    slot: int | None
    size_bytes: int
    last_used: float      # seconds since the epoch

    def view(self, state: str, reason: str = "") -> dict:
        """The JSON form reported to the sidecar."""
        data = {"directory": self.directory, "scope": self.scope, "slot": self.slot,
                "sizeBytes": self.size_bytes, "state": state,
                "lastUsedAt": datetime.fromtimestamp(self.last_used, timezone.utc).isoformat()}
        if reason:
            data["reason"] = reason
        return data


def scan(root: Path) -> list[CacheDir]:
    """Every leaf cache directory under root, with its size and last use."""
    found = []
    with _opened(root) as root_fd:
        for project, pipeline, scope in _tree(root_fd, 3):
            if scope not in SCOPES:
                continue
            with _descend(root_fd, (project, pipeline, scope)) as scope_fd:
                # pods/ holds the slot claims' per-pod symlinks, not a cache.
                for entry in (e for e in _subdirs(scope_fd) if e not in RESERVED):
                    slot = SLOT_SEGMENT.match(entry)
                    leaves = [(entry, leaf) for leaf in _subdirs_of(scope_fd, entry)] \
                        if slot else [(entry,)]
                    found += [_measure(scope_fd, (project, pipeline, scope), leaf, scope,
                                       int(slot.group(1)) if slot else None)
                              for leaf in leaves]
    return found


def choose(dirs: list[CacheDir], *, now: float, max_age_days: float, max_size: int,
           keep_recent: float = 3600.0) -> dict[str, str]:
    """Directories to remove and why ('age' or 'size'); the rest stay."""
    removable = [d for d in dirs if now - d.last_used >= keep_recent]
    chosen = {d.directory: "age" for d in removable if now - d.last_used > max_age_days * DAY}
    total = sum(d.size_bytes for d in dirs if d.directory not in chosen)
    for d in sorted(removable, key=lambda d: d.last_used):  # least recently used first
        if total <= max_size:
            break
        if d.directory not in chosen:
            chosen[d.directory] = "size"
            total -= d.size_bytes
    return chosen


def collect(root: Path, *, max_age_days: float, max_size: int, dry_run: bool = False,
            keep_recent: float = 3600.0, now: float | None = None) -> dict:
    """Prune root; the report lists what was removed and what remains."""
    now = now if now is not None else datetime.now(timezone.utc).timestamp()
    dirs = scan(root)
    chosen = choose(dirs, now=now, max_age_days=max_age_days, max_size=max_size,
                    keep_recent=keep_recent)
    removed, kept, failed = [], [], []
    for d in dirs:
        if d.directory not in chosen:
            kept.append(d.view("present"))
        elif dry_run or _remove_unclaimed(root, d):
            removed.append(d.view("pruned", chosen[d.directory]))
        else:
            failed.append(d.directory)
            kept.append(d.view("present"))
    if not dry_run:
        _empty_trash(root)
    return {"root": str(root), "dryRun": dry_run, "maxBytes": max_size,
            "maxAgeDays": max_age_days, "removed": removed, "kept": kept, "failed": failed,
            "totalBytes": sum(k["sizeBytes"] for k in kept)}


# Every directory is opened by one name relative to its parent's descriptor with
# O_NOFOLLOW: a build writes into these trees and could plant a symlink at any depth
# (a project, a slot, a leaf, deep inside a cache) pointing anywhere on the node.
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


@contextmanager
def _opened(root: Path) -> Iterator[int]:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)  # the root is the operator's to choose
    try:
        yield fd
    finally:
        os.close(fd)


@contextmanager
def _descend(parent: int, names: tuple[str, ...]) -> Iterator[int]:
    """A descriptor of parent/names[0]/names[1]/..., no component a symlink. :raise OSError:"""
    fd = os.dup(parent)
    try:
        for name in names:
            child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _subdirs(fd: int) -> list[str]:
    """Names of the real directories (never symlinks) in an open directory, sorted."""
    with os.scandir(fd) as entries:
        return sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))


def _subdirs_of(parent: int, name: str) -> list[str]:
    with _descend(parent, (name,)) as fd:
        return _subdirs(fd)


def _tree(fd: int, depth: int, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every path of real directories exactly depth levels below fd."""
    for name in _subdirs(fd):
        if depth == 1:
            yield prefix + (name,)
            continue
        try:
            with _descend(fd, (name,)) as child:
                yield from _tree(child, depth - 1, prefix + (name,))
        except OSError:  # replaced by a symlink, or gone, since it was listed
            continue


def _measure(scope_fd: int, above: tuple[str, ...], leaf: tuple[str, ...], scope: str,
             slot: int | None) -> CacheDir:
    size = 0
    with _descend(scope_fd, leaf) as leaf_fd:
        newest = os.fstat(leaf_fd).st_mtime
        for _, dirnames, filenames, dir_fd in os.fwalk(".", dir_fd=leaf_fd,
                                                      follow_symlinks=False):
            for name in dirnames:
                newest = max(newest, os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mtime)
            for name in filenames:
                info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                size += info.st_blocks * 512 if hasattr(info, "st_blocks") else info.st_size
                newest = max(newest, info.st_mtime, info.st_atime)
    return CacheDir("/".join(above + leaf), scope, slot, size, newest)


def _remove_unclaimed(root: Path, d: CacheDir) -> bool:
    """Remove d unless a running pod holds its slot's lock; the lock is kept meanwhile."""
    if d.slot is None:
        return _remove(root, d.directory)
    scope = tuple(d.directory.split("/")[:3])  # <project>/<pipeline>/<scope>
    try:
        with _opened(root) as root_fd, _descend(root_fd, scope) as scope_fd:
            lock = os.open(f"slot-{d.slot}.lock", os.O_RDONLY | os.O_NOFOLLOW, dir_fd=scope_fd)
    except FileNotFoundError:  # nobody has claimed this slot since it was made
        return _remove(root, d.directory)
    except OSError:  # a symlink planted in place of the lock, or the tree moved
        return False
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock)
        return False  # a pod is using this slot now
    try:
        return _remove(root, d.directory)
    finally:
        os.close(lock)  # drops the lock


def _remove(root: Path, directory: str) -> bool:
    """Move directory out of the layout, then delete it; False if it could not be moved."""
    *parents, leaf = directory.split("/")
    try:
        with _opened(root) as root_fd:
            try:
                os.mkdir(TRASH, dir_fd=root_fd)
            except FileExistsError:
                pass
            with _descend(root_fd, (TRASH,)) as trash_fd, \
                    _descend(root_fd, tuple(parents)) as parent_fd:
                os.rename(leaf, uuid.uuid4().hex, src_dir_fd=parent_fd, dst_dir_fd=trash_fd)
            _drop_empty_parents(root_fd, parents)
    except OSError:
        return False
    return True


def _drop_empty_parents(root_fd: int, parents: list[str]) -> None:
    while parents:
        try:
            with _descend(root_fd, tuple(parents[:-1])) as fd:
                os.rmdir(parents[-1], dir_fd=fd)
        except OSError:
            return
        parents = parents[:-1]


def _empty_trash(root: Path) -> None:
    with _opened(root) as root_fd:
        try:
            with _descend(root_fd, (TRASH,)):
                pass  # a real directory, not a symlink to one
        except OSError:
            return
        shutil.rmtree(TRASH, dir_fd=root_fd, ignore_errors=True)  # fd-based: follows no link
