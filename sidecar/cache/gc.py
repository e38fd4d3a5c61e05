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
import stat
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

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
    for scope_dir in sorted(root.glob("*/*/*")):
        if scope_dir.name not in SCOPES or not _is_dir(scope_dir):
            continue
        # pods/ holds the slot claims' per-pod symlinks, not a cache.
        entries = (p for p in scope_dir.iterdir() if _is_dir(p) and p.name not in RESERVED)
        for entry in sorted(entries):
            slot = SLOT_SEGMENT.match(entry.name)
            leaves = sorted(p for p in entry.iterdir() if _is_dir(p)) if slot else [entry]
            found += [_measure(root, leaf, scope_dir.name, int(slot.group(1)) if slot else None)
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


def _is_dir(path: Path) -> bool:
    # Never follow symlinks: a build could plant one pointing anywhere on the node.
    return stat.S_ISDIR(path.lstat().st_mode)


def _measure(root: Path, leaf: Path, scope: str, slot: int | None) -> CacheDir:
    size, newest = 0, leaf.lstat().st_mtime
    for dirpath, dirnames, filenames in os.walk(leaf):
        for name in dirnames:
            newest = max(newest, os.lstat(os.path.join(dirpath, name)).st_mtime)
        for name in filenames:
            info = os.lstat(os.path.join(dirpath, name))
            size += info.st_blocks * 512 if hasattr(info, "st_blocks") else info.st_size
            newest = max(newest, info.st_mtime, info.st_atime)
    return CacheDir(leaf.relative_to(root).as_posix(), scope, slot, size, newest)


def _remove_unclaimed(root: Path, d: CacheDir) -> bool:
    """Remove d unless a running pod holds its slot's lock; the lock is kept meanwhile."""
    if d.slot is None:
        return _remove(root, d.directory)
    lock = (root / d.directory).parent.parent / f"slot-{d.slot}.lock"
    try:
        handle = open(lock, "rb")
    except OSError:  # no lock file: nobody has claimed this slot since it was made
        return _remove(root, d.directory)
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a pod is using this slot now
        return _remove(root, d.directory)  # closing the file drops the lock


def _remove(root: Path, directory: str) -> bool:
    """Move directory out of the layout, then delete it; False if it could not be moved."""
    trash = root / TRASH
    trash.mkdir(exist_ok=True)
    try:
        (root / directory).rename(trash / uuid.uuid4().hex)
    except OSError:
        return False
    _drop_empty_parents(root, (root / directory).parent)
    return True


def _drop_empty_parents(root: Path, parent: Path) -> None:
    while parent != root:
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


def _empty_trash(root: Path) -> None:
    trash = root / TRASH
    if trash.is_dir():
        shutil.rmtree(trash, ignore_errors=True)
