"""Publishing a finished export: a reader of the target sees the earlier export or the new
one, never a mix, whatever moment the exporting process is killed at (``kill -9`` included).

Every export is written to a hidden sibling of its target, ``.NAME.partial-PID`` (same
folder, so same file system), and only a complete one is moved into place:

* A file target is replaced by ``os.replace`` (one atomic rename).
* A folder target (brat, text) cannot be replaced by a rename while it is not empty, so:

  1. files in the old folder that the earlier export did not write (an ``annotation.conf``
     of the user's, notes, a legacy export without a manifest) and that the new export does
     not write either are carried into the staged folder (hard links; copies where a file
     system has none), so publishing never deletes a file the program did not write;
  2. the staged folder gets a manifest, ``.annotator-export.json``, listing the files the
     export wrote (step 1 of the next export reads it);
  3. staged folder and target swap places in one atomic ``renameat2(RENAME_EXCHANGE)`` (Linux
     3.15+ on ext4, xfs, btrfs, tmpfs, ...); the old export, now under the staged name, is
     removed. A kill at any moment leaves the complete old or the complete new folder at
     the target path, plus a hidden leftover;
  4. where the exchange is not available (other systems, other file systems) the old folder
     is renamed aside to ``.NAME.old-PID`` and the staged one renamed into place. A kill
     between those two renames leaves no folder at the target path and the complete old
     export aside: the next export to that target, or ``annotator doctor --fix``, renames it
     back (roll back) before anything else.

Steps 3-4 and every repair run under an exclusive ``flock`` on the target's parent folder
(POSIX; released by the kernel when a process dies), so a repair never sees a publish half
done by a live process. Leftovers of a dead process (``.NAME.partial-PID``, a folder or a
file, and ``.NAME.old-PID``) are removed by the next export to the same target
(:func:`recover`) and listed by ``annotator doctor`` (:func:`find_leftovers`). A staged copy
is removed only when its PID is not a running process (a PID the system reused keeps its
leftover: listed, never deleted while that process runs; on Windows PIDs are not checked
and leftovers are only listed).

Durability against power loss (``fsync``) is not attempted: the guarantee is about processes
that die, the case the operating system's page cache survives.

Test hook: with ``ANNOTATOR_TEST_PAUSE_AT=<point>`` in the environment, the process writes
``paused at <point>`` to stderr and sleeps at that point of :func:`publish` until it is
killed (points: ``staged``, ``swapped``, ``aside``, ``placed``). Only
``tests/annotator/test_export_publish.py`` sets it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from annotator.errors import AnnotatorError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, leftovers are only listed
    fcntl = None  # type: ignore[assignment]

MANIFEST = ".annotator-export.json"
PAUSE_ENV = "ANNOTATOR_TEST_PAUSE_AT"
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)$")


def _renameat2_exchange():
    """``renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)`` from glibc, or ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                   ctypes.c_uint]
    fn.restype = ctypes.c_int

    def exchange(a: Path, b: Path) -> bool:
        if fn(-100, os.fsencode(a), -100, os.fsencode(b), 2) == 0:
            return True
        err = ctypes.get_errno()
        if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
            return False  # not on this file system: the caller renames aside
        raise OSError(err, os.strerror(err), str(b))

    return exchange


# set to None to use the rename-aside fallback (tests do, to cover it on Linux)
EXCHANGE = _renameat2_exchange()


def _pause(point: str) -> None:
    """Test hook (see the module docstring): wait here to be killed."""
    if os.environ.get(PAUSE_ENV) == point:
        sys.stderr.write(f"paused at {point}\n")
        sys.stderr.flush()
        while True:
            time.sleep(3600)


def real_target(target: Path) -> Path:
    """The path an export replaces: a symlinked target is followed, so the link stays."""
    target = Path(target)
    return target.resolve() if target.is_symlink() else target


def staging_path(target: Path) -> Path:
    """The hidden sibling an export to ``target`` is written to (same folder: same file
    system, so the final rename is atomic)."""
    target = real_target(target)
    return target.with_name(f".{target.name}.partial-{os.getpid()}")


def _aside_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.old-{os.getpid()}")


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (on Windows: always assumed running)."""
    if pid == os.getpid():
        return True
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``folder`` (blocking; a no-op without ``fcntl`` or when
    the folder does not exist). The kernel drops it when the holder dies."""
    if fcntl is None:
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except FileNotFoundError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def abandon(path: Path) -> None:
    """Remove a staged export that will not be published."""
    _remove(Path(path))


# ---------------------------------------------------------------------- leftovers
@dataclass(frozen=True)
class Leftover:
    """A hidden staged or set-aside copy of an export to ``target``."""

    path: Path
    target: Path
    kind: str  # "partial": staged (or swapped-out old) copy; "old": old export set aside
    pid: int

    @property
    def alive(self) -> bool:
        return pid_alive(self.pid)

    @property
    def action(self) -> str:
        """What the next export to ``target`` (or ``doctor --fix``) does with it."""
        if self.alive:
            return f"kept: process {self.pid} is running"
        if self.kind == "old" and not os.path.lexists(self.target):
            return f"restored as {self.target} (an interrupted publish moved it aside)"
        return "removed"

    def size(self) -> int:
        if self.path.is_dir() and not self.path.is_symlink():
            return sum(f.stat().st_size for f in self.path.rglob("*")
                       if f.is_file() and not f.is_symlink())
        return self.path.lstat().st_size


def find_leftovers(folder: Path, name: str | None = None) -> list[Leftover]:
    """Leftovers of exports in ``folder`` (of the target ``folder/name`` only, if given)."""
    folder = Path(folder)
    try:
        entries = sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    out = []
    for entry in entries:
        m = _LEFTOVER.match(entry)
        if m and (name is None or m["name"] == name):
            out.append(Leftover(folder / entry, folder / m["name"], m["kind"], int(m["pid"])))
    return out


def _recover_locked(target: Path) -> list[tuple[Leftover, str]]:
    done = []
    leftovers = find_leftovers(target.parent, target.name)
    # an old export set aside by a publish killed before the new one was in place goes back
    for lo in leftovers:
        if lo.kind == "old" and not lo.alive and not os.path.lexists(target):
            action = lo.action
            os.rename(lo.path, target)
            done.append((lo, action))
    for lo in leftovers:
        if lo.alive or any(lo is d for d, _ in done):
            continue
        action = lo.action
        _remove(lo.path)
        done.append((lo, action))
    return done


def recover(target: Path) -> list[tuple[Leftover, str]]:
    """Repair what killed exports to ``target`` left: roll an interrupted folder publish back
    and remove the leftovers of dead processes. Returns ``(leftover, what was done)``."""
    target = real_target(target)
    with folder_lock(target.parent):
        return _recover_locked(target)


# ---------------------------------------------------------------------- publishing
def _files(root: Path) -> set[str]:
    """Relative POSIX paths of every non-directory entry under ``root``."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        for n in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            out.add((rel / n).as_posix())
    return out


def _manifest_files(folder: Path) -> set[str]:
    """The files the export that wrote ``folder`` listed in its manifest (none if absent)."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return {f for f in data.get("files", []) if isinstance(f, str)}
    except (OSError, ValueError, AttributeError):
        return set()


def _carry_over(old: Path, staged: Path, written: set[str]) -> None:
    """Link into ``staged`` every entry of ``old`` that neither the earlier export (its
    manifest) nor the new one (``written``) wrote: the user's own files survive."""
    ours = _manifest_files(old) | {MANIFEST}
    for dirpath, dirnames, filenames in os.walk(old):
        rel = Path(dirpath).relative_to(old)
        if not dirnames and not filenames and rel != Path("."):
            (staged / rel).mkdir(parents=True, exist_ok=True)  # the user's empty folder
        for n in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            r = (rel / n).as_posix()
            if r in ours or r in written:
                continue
            src, dest = Path(dirpath) / n, staged / rel / n
            if os.path.lexists(dest) or any(p.is_file() or p.is_symlink()
                                            for p in dest.parents if staged in p.parents):
                raise AnnotatorError(f"cannot publish the export: it writes a file where "
                                     f"{old / r} is; move that file and export again")
            dest.parent.mkdir(parents=True, exist_ok=True)
            if src.is_symlink():
                os.symlink(os.readlink(src), dest)
                continue
            try:
                os.link(src, dest, follow_symlinks=False)
            except OSError:  # no hard links here (FAT, some network shares): copy
                shutil.copy2(src, dest, follow_symlinks=False)


def _write_manifest(staged: Path, fmt: str, files: set[str]) -> None:
    body = {"annotator_export": 1, "format": fmt, "files": sorted(files)}
    (staged / MANIFEST).write_text(json.dumps(body, ensure_ascii=False, indent=0) + "\n",
                                   encoding="utf-8")


def publish(staged: Path, target: Path, fmt: str = "") -> None:
    """Move the finished export ``staged`` into place at ``target`` (see the module
    docstring). Raises ``NotADirectoryError`` for a folder export onto a file and
    ``IsADirectoryError`` for a file export onto a folder; ``target`` is then unchanged."""
    staged, target = Path(staged), real_target(target)
    if not staged.is_dir():
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a folder", str(target))
        _pause("staged")
        os.replace(staged, target)
        return
    if os.path.lexists(target) and not target.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "exists and is not a folder", str(target))
    written = _files(staged)
    with folder_lock(target.parent):
        _recover_locked(target)  # a target an interrupted publish left missing comes back
        if target.is_dir():
            _carry_over(target, staged, written)
        _write_manifest(staged, fmt, written)
        _pause("staged")
        if not target.exists():
            os.rename(staged, target)
        elif EXCHANGE is not None and EXCHANGE(staged, target):
            _pause("swapped")
            _remove(staged)  # the old export, under the staged name now
        else:
            aside = _aside_path(target)
            os.rename(target, aside)
            try:
                _pause("aside")
                os.rename(staged, target)
            except BaseException:  # Ctrl-C or a failed rename: put the old export back now
                if not os.path.lexists(target):
                    os.rename(aside, target)
                raise
            _pause("placed")
            _remove(aside)
