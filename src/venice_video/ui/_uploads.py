"""Files the page uploads (images, audio, video), kept by content digest under the output folder.

An upload is stored as `<sha256>.<ext>`, so the same file uploaded twice is kept once, and a
request journaled with a digest placeholder (`data:<mime>;sha256=<hex>;bytes=<n>`) can be run
again: the placeholder names the file that was sent.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Literal

from .._config import MAX_BODY_BYTES
from ..media import sniff_mime

__all__ = [
    "DEFAULT_MAX_UPLOAD_BYTES",
    "Kind",
    "MissingInput",
    "UploadError",
    "UploadStore",
    "mime_of",
    "missing_inputs",
]

#: The largest upload taken: larger could not be sent inline in a queue request anyway.
DEFAULT_MAX_UPLOAD_BYTES = MAX_BODY_BYTES
Kind = Literal["image", "audio", "video"]

_EXTENSIONS: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
}
_MIME_OF_EXT = {ext: mime for mime, ext in _EXTENSIONS.items()}
_ID = re.compile(r"^[0-9a-f]{64}\.(png|jpg|webp|mp4|mov|webm|wav|mp3)$")
_DIGEST = re.compile(r"^data:([\w.+-]+/[\w.+-]+);sha256=([0-9a-f]{64});bytes=(\d+)$")


class UploadError(Exception):
    """An upload was refused: too large, empty, or not a kind of media the field takes.

    Attributes:
        status: the HTTP status to answer with.
    """

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class MissingInput(Exception):
    """A journaled request names an input (by digest) that is no longer kept."""


class UploadStore:
    """The uploads folder.

    Args:
        directory: where uploads are kept (created on first upload).
        max_bytes: the largest upload taken.
    """

    def __init__(self, directory: Path, *, max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes

    def path(self, upload_id: str) -> Path:
        """The file of an upload id the page holds.

        Raises:
            UploadError: the id is malformed or names no kept upload.
        """
        if not isinstance(upload_id, str) or not _ID.match(upload_id):
            raise UploadError("unknown upload (upload the file again)")
        path = self.directory / upload_id
        if not path.is_file():
            raise UploadError("unknown upload (upload the file again)", status=404)
        return path

    async def receive(
        self, chunks: AsyncIterator[bytes], *, kind: Kind, declared_size: int | None
    ) -> dict[str, Any]:
        """Store an uploaded body; returns `{id, mime, size_bytes}`.

        Raises:
            UploadError: too large (413), empty, or not an image/audio/video as `kind` says.
        """
        if declared_size is not None and declared_size > self.max_bytes:
            raise UploadError(self._too_large(), status=413)
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.directory, prefix=".upload-", suffix=".part")
        tmp = Path(tmp_name)
        digest = hashlib.sha256()
        size = 0
        head = b""
        try:
            with os.fdopen(fd, "wb") as fh:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise UploadError(self._too_large(), status=413)
                    if len(head) < 64:
                        head += chunk[: 64 - len(head)]
                    digest.update(chunk)
                    fh.write(chunk)
            if size == 0:
                raise UploadError("the file is empty")
            mime = _kind_mime(head, kind)
            upload_id = f"{digest.hexdigest()}.{_EXTENSIONS[mime]}"
            os.replace(tmp, self.directory / upload_id)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return {"id": upload_id, "mime": mime, "size_bytes": size}

    def _too_large(self) -> str:
        return f"the file is over the {self.max_bytes / 1e6:.0f} MB limit"

    def keep_inline(self, body: Mapping[str, Any]) -> None:
        """Keep every large inline `data:` URL of a queue body as an upload.

        The journal keeps only digests of them; kept here, a later rerun can send them again.
        Images may have been shrunk on the way, so the bytes sent are kept, not the upload.
        """
        for value in _strings(body):
            if value[:5].lower() != "data:" or "," not in value[:256]:
                continue
            header, _, payload = value[5:].partition(",")
            mime = header.split(";")[0].strip().lower()
            ext = _EXTENSIONS.get(mime)
            if ext is None or ";base64" not in header.lower():
                continue
            try:
                data = base64.b64decode(payload, validate=False)
            except (binascii.Error, ValueError):
                continue
            name = f"{hashlib.sha256(data).hexdigest()}.{ext}"
            target = self.directory / name
            if target.exists():
                continue
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".upload-", suffix=".part")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)

    def rehydrate(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """A journaled request with its digest placeholders replaced by the kept files.

        Raises:
            MissingInput: a placeholder names a file that is not kept (or has changed).
        """

        def swap(value: Any, where: str) -> Any:
            if isinstance(value, str):
                match = _DIGEST.match(value)
                if match is None:
                    return value
                mime, hexdigest, size = match.group(1), match.group(2), int(match.group(3))
                ext = _EXTENSIONS.get(mime)
                path = self.directory / f"{hexdigest}.{ext}" if ext else None
                if path is None or not path.is_file():
                    raise MissingInput(f"{where}: the {mime} file sent with this job is not kept")
                data = path.read_bytes()
                if len(data) != size or hashlib.sha256(data).hexdigest() != hexdigest:
                    raise MissingInput(f"{where}: the kept file has changed")
                return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
            if isinstance(value, Mapping):
                return {
                    str(k): swap(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()
                }
            if isinstance(value, list | tuple):
                return [swap(v, f"{where}.{i}") for i, v in enumerate(value)]
            return value

        result: dict[str, Any] = swap(dict(request), "")
        return result


def missing_inputs(request: Mapping[str, Any], store: UploadStore) -> str | None:
    """Why a journaled request cannot be sent again, or `None` if it can."""
    for value in _strings(request):
        match = _DIGEST.match(value)
        if match is None:
            continue
        ext = _EXTENSIONS.get(match.group(1))
        if ext is None or not (store.directory / f"{match.group(2)}.{ext}").is_file():
            return f"a {match.group(1)} file sent with this job is not kept"
    return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _kind_mime(head: bytes, kind: Kind) -> str:
    mime = sniff_mime(head)
    if mime == "audio/mp4":
        mime = None  # the API takes WAV or MP3 audio only
    if mime is None or mime not in _EXTENSIONS or not mime.startswith(kind):
        wanted = {
            "image": "a PNG, JPEG or WebP image",
            "audio": "a WAV or MP3 file",
            "video": "an MP4, MOV or WebM video",
        }[kind]
        raise UploadError(f"expected {wanted}")
    return mime


def mime_of(upload_id: str) -> str:
    """The media type of an upload id."""
    return _MIME_OF_EXT[upload_id.rsplit(".", 1)[1]]
