"""Where a video is written: the target is claimed before money moves, and filled safely.

A paid video is worth its file, and so is whatever file was at its path before. The rules:

- **Nothing is overwritten by surprise.** A regular file at the target is refused
  (`OutputExistsError`) unless the caller passed `overwrite=True`, both before the job is
  queued and again at the moment the new file is put in place.
- **Claimed at queue time.** `claim_output` reserves the target before the queue request:
  it creates `<target>.part` (the file the download later streams into) and holds a lock on
  it while the job is priced and queued, so two runs aimed at one path cannot both pay.
  A `.part` left by a job that is still unfinished in the journal keeps the path reserved.
- **A rename only ever replaces a regular file.** A missing target is created with a hard
  link (which never clobbers); an existing regular file is replaced atomically only with
  permission; a directory is refused.
- **Devices, FIFOs and standard output** (`-`) are written by streaming into them, after
  the video was downloaded to a temporary file and verified; nothing is renamed over them.
  A symbolic link is written through, in place, like the file it points to.

```python
claim = claim_output(path, overwrite=False, key=key, journal=journal)
try:
    ...  # quote, journal, queue
finally:
    claim.release()
...
install(part_path, path, overwrite=False, size=n, sha256=digest)  # after verification
```
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from ._exceptions import DownloadError, OutputError, OutputExistsError, OutputInUseError

if TYPE_CHECKING:
    from .journal import JournalStore

__all__ = [
    "PART_SUFFIX",
    "STDOUT",
    "Claim",
    "TargetKind",
    "check_target",
    "claim_output",
    "drop_claim",
    "install",
    "is_streamed",
    "may_replace",
    "output_path",
    "part_path",
    "target_kind",
    "temporary_part",
]

#: The output that means standard output.
STDOUT: Final[str] = "-"
PART_SUFFIX: Final[str] = ".part"
_COPY_CHUNK: Final[int] = 1 << 20

#: What is at a target path:
#: `missing`; `file` (a regular file); `linked` (a symbolic link to a regular file);
#: `special` (a device, FIFO or socket, or a link to one); `stdout`; `directory`;
#: `dangling` (a symbolic link to nothing).
TargetKind = Literal["missing", "file", "linked", "special", "stdout", "directory", "dangling"]


def output_path(output: str | os.PathLike[str] | None, model: str, key: str) -> Path:
    """The file a job writes.

    `None` is `<model>-<key[:8]>.mp4` in the current directory; a directory (existing, or
    written with a trailing separator) gets that name inside it; `-` is standard output;
    anything else is the file itself, made absolute.
    """
    name = f"{model}-{key[:8]}.mp4"
    if output is None:
        return Path.cwd() / name
    text = os.fspath(output)
    if text == STDOUT:
        return Path(STDOUT)
    path = Path(text).expanduser()
    if text.endswith(("/", os.sep)) or path.is_dir():
        return (path / name).absolute()
    return path.absolute()


def is_streamed(path: Path) -> bool:
    """Whether the video reaches `path` by streaming (standard output, a device, a FIFO)."""
    return target_kind(path) in ("stdout", "special")


def target_kind(path: Path) -> TargetKind:
    """What is at `path` now (see `TargetKind`)."""
    if str(path) == STDOUT:
        return "stdout"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        raise OutputError(f"cannot use {path} as the output: {exc.strerror}", path=path) from exc
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return "dangling"
        except OSError as exc:
            raise OutputError(
                f"cannot use {path} as the output: {exc.strerror}", path=path
            ) from exc
        if stat.S_ISREG(st.st_mode):
            return "linked"
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISDIR(st.st_mode):
        return "directory"
    return "special"


def check_target(path: Path, *, overwrite: bool) -> TargetKind:
    """Whether a video may be written to `path`; returns what is there now.

    Raises:
        OutputExistsError: a file is there and `overwrite` is false.
        OutputError: `path` is a directory or a link to nothing.
    """
    kind = target_kind(path)
    if kind == "directory":
        raise OutputError(
            f"{path} is a directory, not a file; give a file name, or the directory "
            "as the output to save the video in it under a generated name",
            path=path,
        )
    if kind == "dangling":
        raise OutputError(f"{path} is a symbolic link to nothing", path=path)
    if kind in ("file", "linked") and not overwrite:
        raise OutputExistsError(path)
    return kind


def part_path(dest: Path) -> Path:
    """`<dest>.part`, where a download to `dest` is written before it is verified."""
    return dest.with_name(dest.name + PART_SUFFIX)


def temporary_part() -> Path:
    """A fresh temporary file for a download that will be streamed into its target."""
    fd, name = tempfile.mkstemp(prefix="venice-video-", suffix=".mp4" + PART_SUFFIX)
    os.close(fd)
    return Path(name)


# ------------------------------------------------------------------------------ claims


@dataclass
class Claim:
    """A target reserved for one job, from before its queue request until it is queued.

    Attributes:
        path: the target.
        kind: what was at it when it was claimed.
        part: the `.part` file that holds the claim (`None` for streamed targets).
    """

    path: Path
    kind: TargetKind
    part: Path | None = None
    _fd: int | None = field(default=None, repr=False)

    def release(self) -> None:
        """Unlock the claim; the `.part` stays, so the path stays reserved for the job."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def abandon(self) -> None:
        """Give the path up (the job was not queued): the empty `.part` is removed."""
        if self.part is not None and self._fd is not None:
            with contextlib.suppress(OSError):
                if os.fstat(self._fd).st_size == 0 and _same_file(self._fd, self.part):
                    self.part.unlink()
        self.release()


def claim_output(
    path: Path, *, overwrite: bool, key: str, journal: JournalStore | None = None
) -> Claim:
    """Reserve `path` for the job `key` before it is queued.

    Raises:
        OutputExistsError: a file is there and `overwrite` is false.
        OutputInUseError: another run is claiming or writing the path, or an unfinished job
            in `journal` will write it.
        OutputError: the path is a directory, or its folder cannot be written.
    """
    kind = check_target(path, overwrite=overwrite)
    if kind in ("special", "stdout"):
        return Claim(path, kind)
    part = part_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the folder {path.parent}: {exc.strerror}", path=path
        ) from exc
    for _ in range(5):
        try:
            fd = os.open(part, os.O_RDWR | os.O_CREAT | os.O_EXCL | _CLOEXEC, 0o644)
        except FileExistsError:
            taken = _take_leftover(part, path, overwrite=overwrite, key=key, journal=journal)
            if taken is None:
                continue  # it vanished meanwhile (a download finished): look again
            return Claim(path, kind, part, taken)
        except OSError as exc:
            raise OutputError(f"cannot write {part}: {exc.strerror}", path=path) from exc
        if not _try_lock(fd):
            # Another run opened the new file and locked it first: it is theirs.
            os.close(fd)
            raise OutputInUseError(path, reason="another run is claiming it right now")
        return Claim(path, kind, part, fd)
    raise OutputInUseError(path, reason=f"{part} keeps changing")


def _take_leftover(
    part: Path, path: Path, *, overwrite: bool, key: str, journal: JournalStore | None
) -> int | None:
    """Claim an existing `.part` that nothing is writing and no unfinished job owns."""
    try:
        fd = os.open(part, os.O_RDWR | _CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(f"cannot write {part}: {exc.strerror}", path=path) from exc
    try:
        if not _try_lock(fd):
            raise OutputInUseError(path, reason="another download or run is writing it")
        if not _same_file(fd, part):
            os.close(fd)
            return None
        owner = _unfinished_owner(journal, path, key) if journal is not None else None
        if owner is not None:
            raise OutputInUseError(path, job=owner)
        if journal is None and not overwrite:
            raise OutputInUseError(
                path,
                reason=f"a partial download {part} is there; delete it if no job will finish it",
            )
        os.ftruncate(fd, 0)
        return fd
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise


def _unfinished_owner(journal: JournalStore, path: Path, key: str) -> str | None:
    wanted = _normal(path)
    for entry in journal.unfinished():
        if entry.key != key and entry.output_path and _normal(Path(entry.output_path)) == wanted:
            return entry.queue_id or entry.key
    return None


def drop_claim(path: Path) -> None:
    """Remove the empty `.part` that reserved `path`, if nothing is writing it (a job ended
    without a video)."""
    if str(path) == STDOUT:
        return
    part = part_path(path)
    try:
        fd = os.open(part, os.O_RDWR | _CLOEXEC)
    except OSError:
        return
    try:
        if _try_lock(fd) and os.fstat(fd).st_size == 0 and _same_file(fd, part):
            part.unlink()
    except OSError:
        pass
    finally:
        os.close(fd)


def may_replace(journal: JournalStore | None, key: str) -> bool:
    """Whether the journal says job `key` was asked to replace the file at its output."""
    entry = journal.get(key) if journal is not None else None
    return entry is not None and entry.overwrite


# ------------------------------------------------------------------------------ installing


def install(part: Path, dest: Path, *, overwrite: bool, size: int, sha256: str) -> None:
    """Put the verified download `part` at `dest`, then remove `part`.

    A missing `dest` is created (a hard link, so a file that appeared meanwhile is never
    clobbered); a regular file is replaced atomically only with `overwrite`, or when it
    already holds exactly these bytes; a device, FIFO, standard output or a symbolic link
    is written by streaming into it.

    Raises:
        OutputExistsError: a file is at `dest` and `overwrite` is false.
        OutputError: `dest` is a directory or a link to nothing.
        DownloadError: the file could not be written.
    """
    for _ in range(3):
        kind = target_kind(dest)
        if kind in ("directory", "dangling"):
            check_target(dest, overwrite=overwrite)
        if kind in ("file", "linked") and not overwrite and not _holds(dest, size, sha256):
            raise OutputExistsError(dest, downloaded=True)
        if kind in ("stdout", "special", "linked"):
            _stream_into(part, dest, regular=kind == "linked")
            _unlink(part)
            return
        try:
            if kind == "missing":
                _link(part, dest)
            else:
                os.replace(part, dest)
        except FileExistsError:
            continue  # a file appeared at dest: decide again
        except OSError as exc:
            raise DownloadError(f"cannot move {part} to {dest}: {exc.strerror}") from exc
        _fsync_dir(dest.parent)
        return
    raise DownloadError(f"{dest} keeps changing; the video is kept at {part}")


def _link(part: Path, dest: Path) -> None:
    try:
        os.link(part, dest)
    except FileExistsError:
        raise
    except OSError:
        # No hard links here (some network and FAT file systems): rename, having checked
        # just now that nothing is at dest.
        if target_kind(dest) != "missing":
            raise FileExistsError(dest) from None
        os.replace(part, dest)
        return
    _unlink(part)


def _stream_into(part: Path, dest: Path, *, regular: bool) -> None:
    """Copy the verified file into standard output, a device, a FIFO or a linked file."""
    try:
        with part.open("rb") as source:
            if str(dest) == STDOUT:
                out = sys.stdout.buffer
                for chunk in iter(lambda: source.read(_COPY_CHUNK), b""):
                    out.write(chunk)
                out.flush()
                return
            # No O_CREAT: a device or FIFO is written as it is, and nothing new is made.
            flags = os.O_WRONLY | _CLOEXEC | (os.O_TRUNC if regular else 0)
            fd = os.open(dest, flags)
            try:
                for chunk in iter(lambda: source.read(_COPY_CHUNK), b""):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view) :]
                if regular:
                    os.fsync(fd)
            finally:
                os.close(fd)
    except OSError as exc:
        raise DownloadError(f"cannot write the video to {dest}: {exc.strerror or exc}") from exc


def _holds(path: Path, size: int, sha256: str) -> bool:
    """Whether `path` already holds exactly these bytes (a finished run's own file)."""
    try:
        if path.stat().st_size != size:
            return False
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(_COPY_CHUNK), b""):
                digest.update(block)
    except OSError:
        return False
    return digest.hexdigest() == sha256


# ------------------------------------------------------------------------------ helpers

_CLOEXEC: Final[int] = getattr(os, "O_CLOEXEC", 0)


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _normal(path: Path) -> str:
    try:
        return str(path.expanduser().resolve())
    except (OSError, RuntimeError):
        return str(path.expanduser().absolute())


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _fsync_dir(directory: Path) -> None:
    """Persist a new name: on POSIX it is only durable once the directory is synced."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - Windows cannot open directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
