"""The safe write path for downloaded videos: `.part` file, fsync, verify, put in place.

A paid video is only worth its file, so a download is never written straight to its final
name. `PartFile` writes `<dest>.part`, and `finish()` makes it durable (fsync of the file),
proves it is a complete, playable MP4 (`media.verify`), puts it in place (`_output.install`:
a new name, or an atomic replacement of a regular file only with `overwrite`), and fsyncs
the directory so the new name survives a power cut. Whatever fails, nothing incomplete ever
appears at `dest`, and nothing but a regular file is ever renamed over. A device, a FIFO or
standard output (`-`) is downloaded to a temporary file, verified, then streamed into.

Sync and async: `PartFile` is plain blocking file I/O and is shared by both clients.

- `write()` may be called directly from async code: one call is one buffered write of one chunk
  into the OS page cache (no fsync), which takes microseconds for network-sized chunks (up to
  about 1 MiB).
- The constructor with `resume=True` (it re-reads the `.part` to hash it), `finish()` (fsync and
  verification, one read of the file) and `abort()` can take seconds on large files: async
  callers run them in a worker thread, `await anyio.to_thread.run_sync(part.finish)`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from ._exceptions import DownloadError, DownloadVerificationError
from ._output import install, is_streamed, part_path, temporary_part
from .media import MediaInfo, MediaVerificationError
from .media import verify as verify_video

__all__ = ["DownloadResult", "PartFile"]

_HASH_CHUNK: Final[int] = 1 << 20


@dataclass(frozen=True)
class DownloadResult:
    """A download that is complete, on disk, and (unless verification was skipped) playable.

    Attributes:
        path: the final file.
        size_bytes: its size.
        sha256: the hex SHA-256 of its bytes.
        media: what verification found, or `None` when `finish(verify=False)`.
    """

    path: Path
    size_bytes: int
    sha256: str
    media: MediaInfo | None


class PartFile:
    """Writes a download to `<dest>.part` in chunks, then fsyncs, verifies, and renames atomically.

    ```python
    part = PartFile(dest, resume=True)
    headers = {"Range": f"bytes={part.offset}-"} if part.offset else {}
    with client.stream("GET", url, headers=headers) as response:
        for chunk in response.iter_bytes():
            part.write(chunk)
    result = part.finish(expected_size=total)
    ```

    The `.part` file is locked (`flock`) while a `PartFile` holds it, so two downloads to one
    `dest` fail fast instead of interleaving their bytes.

    What is left behind when `finish()` fails:

    - the file is shorter than `expected_size`: the `.part` is kept, so a new
      `PartFile(dest, resume=True)` continues where it stopped with a `Range` request;
    - anything else (too long, not a valid video): the `.part` is deleted, since appending
      cannot repair it and the next attempt must start from byte 0.

    Nothing is ever written at `dest` unless the file verified. A file already at `dest` is only
    replaced by a verified one, in a single atomic step, and only with `overwrite` (or when it
    holds exactly the same bytes).

    Args:
        dest: the final path of the video. Its directory is created if missing. A device, FIFO
            or `-` (standard output) is written through a temporary file instead of a `.part`.
        resume: keep the bytes already in `<dest>.part` and append to them; otherwise start
            from an empty `.part`.
        overwrite: replace a file already at `dest`; without it `finish()` refuses
            (`OutputExistsError`) and keeps the `.part`.

    Raises:
        DownloadError: the `.part` cannot be opened, or another `PartFile` is writing it.
    """

    dest: Path
    part_path: Path
    offset: int

    def __init__(self, dest: Path, *, resume: bool = False, overwrite: bool = False) -> None:
        self.dest = Path(dest)
        self.overwrite = overwrite
        # A streamed target gets a private temporary file: never `/dev/null.part`.
        self._temporary = is_streamed(self.dest)
        if self._temporary:
            resume = False
            self.part_path = temporary_part()
        else:
            self.part_path = part_path(self.dest)
        self.offset = 0
        self._hash = hashlib.sha256()
        self._file: IO[bytes] | None = None
        try:
            if not self._temporary:
                self.dest.parent.mkdir(parents=True, exist_ok=True)
            # Opened without O_TRUNC: the lock must be ours before any byte is discarded.
            fd = os.open(
                self.part_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644
            )
        except OSError as exc:
            raise DownloadError(f"cannot write {self.part_path}: {exc}") from exc
        file = os.fdopen(fd, "r+b")
        try:
            _lock(file, self.part_path)
            if resume:
                file.seek(0)
                while block := file.read(_HASH_CHUNK):
                    self._hash.update(block)
                self.offset = file.tell()
            else:
                file.truncate(0)
            file.seek(self.offset)
        except OSError as exc:
            file.close()
            raise DownloadError(f"cannot write {self.part_path}: {exc}") from exc
        except BaseException:
            file.close()
            raise
        self._file = file

    def write(self, chunk: bytes) -> None:
        """Append `chunk` to the `.part` file and advance `offset`.

        Raises:
            DownloadError: the write failed (disk full, ...) or the file is already finished.
        """
        file = self._open_file()
        try:
            file.write(chunk)
        except OSError as exc:
            raise DownloadError(f"cannot write {self.part_path}: {exc}") from exc
        self._hash.update(chunk)
        self.offset += len(chunk)

    def finish(self, *, expected_size: int | None = None, verify: bool = True) -> DownloadResult:
        """Make the download durable, verify it, and move it to `dest`.

        In order: flush and fsync the `.part`, compare its size with `expected_size`,
        verify it (`media.verify`), put it at `dest` (see `_output.install`), fsync the directory.

        Args:
            expected_size: the size the server announced (`Content-Length` of the whole file).
            verify: prove the file is a complete, playable MP4; skip only for non-video payloads.

        Raises:
            DownloadVerificationError: the size is wrong or the file is not a complete video.
                Nothing is left at `dest`; see the class docstring for what happens to the
                `.part`.
            DownloadError: the file could not be synced or renamed.
            OutputExistsError: a file appeared at `dest` and `overwrite` is false; the
                verified `.part` is kept.
        """
        file = self._open_file()
        try:
            file.flush()
            os.fsync(file.fileno())
            size = os.fstat(file.fileno()).st_size
        except OSError as exc:
            self.abort(keep_part=True)
            raise DownloadError(f"cannot save {self.part_path}: {exc}") from exc
        if expected_size is not None and size != expected_size:
            if size < expected_size:
                self.abort(keep_part=True)
                raise DownloadVerificationError(
                    f"the download of {self.dest} is incomplete: {size} of {expected_size} "
                    f"bytes arrived; {self.part_path} is kept so the download can resume"
                )
            self.abort(keep_part=False)
            raise DownloadVerificationError(
                f"the download of {self.dest} is {size} bytes, more than the {expected_size} "
                "bytes announced; the partial file was deleted"
            )
        media: MediaInfo | None = None
        if verify:
            try:
                media = verify_video(self.part_path)
            except MediaVerificationError as exc:
                self.abort(keep_part=False)
                raise DownloadVerificationError(
                    f"the download of {self.dest} is not a complete, playable MP4: "
                    f"{exc.reason}; the partial file was deleted"
                ) from None
        try:
            install(
                self.part_path,
                self.dest,
                overwrite=self.overwrite,
                size=size,
                sha256=self._hash.hexdigest(),
            )
        except BaseException:
            self.abort(keep_part=True)
            raise
        self._close()
        return DownloadResult(
            path=self.dest, size_bytes=size, sha256=self._hash.hexdigest(), media=media
        )

    def abort(self, *, keep_part: bool) -> None:
        """Stop writing. With `keep_part=True` the `.part` stays for a later `resume=True`.

        Calling it again, or after `finish()`, does nothing.
        """
        if self._file is None:
            return
        try:
            if not keep_part or self._temporary:
                with contextlib.suppress(FileNotFoundError):
                    self.part_path.unlink()
        finally:
            self._close()

    def __enter__(self) -> PartFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Leaving without finish() (an exception, a cancelled task): keep the bytes for resume.
        self.abort(keep_part=True)

    def __repr__(self) -> str:
        return f"PartFile({str(self.dest)!r}, offset={self.offset})"

    def _open_file(self) -> IO[bytes]:
        if self._file is None:
            raise DownloadError(f"{self.part_path} is already finished or aborted")
        return self._file

    def _close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()


def _lock(file: IO[bytes], path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks, no protection
        return
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        raise DownloadError(f"{path} is being written by another download") from exc
