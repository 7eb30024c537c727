"""Versions under a TF Serving model base: listed, checked, published whole.

A version is written into a hidden staging directory next to the versions and renamed
into place only once complete and synced, so a crash never leaves a partial version
(TF Serving only loads integer-named directories) and an existing version is never
overwritten.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from pathlib import Path

STAGING_PREFIX = ".staging-"
VERSION = re.compile(r"[1-9][0-9]*")  # the directory names TF Serving loads as versions


def versions(base_dir) -> list[int]:
    """Integer version names present in `base_dir` (complete or not), ascending."""
    base = Path(base_dir)
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if VERSION.fullmatch(p.name))


def is_complete_version(path) -> bool:
    """True when `path` holds a loadable SavedModel (``saved_model.pb`` and its variables index)."""
    path = Path(path)
    return (path / "saved_model.pb").is_file() and (path / "variables" / "variables.index").is_file()


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sync_tree(path: Path) -> None:
    """fsync every file and directory under `path`, so a renamed version survives a power loss whole."""
    for entry in [*sorted(path.rglob("*"), reverse=True), path]:
        _fsync(entry)


def publish(staging: Path, base: Path) -> int:
    """Rename the finished, synced `staging` directory to the next free integer version.

    The rename is atomic; a concurrent export that took the same number first makes
    it fail (its directory is not empty) and the next number is tried.
    """
    _sync_tree(staging)
    while True:
        version = (versions(base) or [0])[-1] + 1
        try:
            os.rename(staging, base / str(version))
        except OSError as err:
            if err.errno in (errno.EEXIST, errno.ENOTEMPTY):
                continue
            raise
        _fsync(base)
        return version


def staging(base: Path) -> Path:
    """A hidden directory next to the versions, with the permissions a plain mkdir would give."""
    folder = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=base))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)  # mkdtemp's 0700 would hide the version from a TF Serving user
    return folder


def publish_copy(saved_model_dir, base_dir) -> int:
    """Copy a complete SavedModel directory into `base_dir` as the next integer version; return it."""
    source = Path(saved_model_dir)
    if not is_complete_version(source):
        raise ValueError(f"{source} is not a complete SavedModel (saved_model.pb and variables/ expected).")
    base = Path(base_dir)
    base.mkdir(parents=True, exist_ok=True)
    folder = staging(base)
    try:
        shutil.copytree(source, folder, dirs_exist_ok=True)
        return publish(folder, base)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
