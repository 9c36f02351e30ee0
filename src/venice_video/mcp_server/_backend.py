"""One async face over either SDK twin, so the tools are written once.

`AsyncVeniceVideo` is awaited directly. `VeniceVideo` runs in worker threads; its waits take a
`threading.Event` as their cancel token, which the server sets when it shuts down so no thread
outlives it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

import anyio
import anyio.from_thread
import anyio.to_thread

from .._async_client import AsyncVeniceVideo
from .._catalog import Catalog
from .._choose import PricedModel, cheapest_query, fill_from_choice
from .._client import VeniceVideo
from .._models import (
    AudioTranscription,
    Progress,
    QueueRequest,
    QuoteRequest,
    QuoteResponse,
    VideoJob,
    VideoTranscription,
)
from ..journal import JournalStore

__all__ = ["Backend"]

T = TypeVar("T")


class Backend:
    """The SDK calls the tools make, always awaitable. Strictly private."""

    def __init__(self, client: AsyncVeniceVideo | VeniceVideo) -> None:
        journal = client.journal
        if journal is None:
            raise ValueError(
                "the MCP server needs a client with a journal (journal=False turns it off): "
                "jobs run in the background and are found again through it"
            )
        self.client = client
        self.journal: JournalStore = journal
        self.base_url = client.base_url
        self.api_id = client.api_id
        self._stop = threading.Event()

    @property
    def is_async(self) -> bool:
        return isinstance(self.client, AsyncVeniceVideo)

    def start(self) -> None:
        """Allow waits again (a server's lifespan may be entered more than once)."""
        self._stop = threading.Event()

    def stop(self) -> None:
        """Make every wait in a worker thread return soon."""
        self._stop.set()

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self.client, name)
        if self.is_async:
            return await method(*args, **kwargs)
        return await anyio.to_thread.run_sync(functools.partial(method, *args, **kwargs))

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking local work (the journal, reading files) in a worker thread."""
        return await anyio.to_thread.run_sync(functools.partial(fn, *args))

    # ------------------------------------------------------------------ free calls

    async def catalog(self) -> Catalog:
        return cast(Catalog, await self._call("models"))

    async def prepare(self, fields: Mapping[str, Any]) -> QueueRequest:
        """Generate-style fields (local files read and inlined) to a checked request."""
        return cast(QueueRequest, await self._call("prepare", **fields))

    async def cheapest(self, fields: dict[str, Any]) -> PricedModel:
        """Replace `model: cheapest` in generate-style `fields` with the cheapest model that
        can make the video, priced (free quotes, cached); returns the choice."""
        choice = cast(PricedModel, await self._call("cheapest_model", **cheapest_query(fields)))
        fill_from_choice(fields, choice)
        return choice

    async def validate_quote(self, request: QuoteRequest) -> QuoteRequest:
        return cast(QuoteRequest, await self._call("validate", request))

    async def quote(self, request: QuoteRequest | QueueRequest) -> float:
        response = await self._call("quote", request=request)
        return float(response.quote)

    async def transcribe(self, url: str) -> VideoTranscription:
        return cast(VideoTranscription, await self._call("transcribe", url))

    async def transcribe_audio(self, path: Path, *, timestamps: bool) -> AudioTranscription:
        return cast(
            AudioTranscription, await self._call("transcribe_audio", path, timestamps=timestamps)
        )

    # ------------------------------------------------------------------ jobs

    async def submit(
        self,
        request: QueueRequest,
        *,
        output: Path,
        max_cost: float | None,
        tags: Mapping[str, Any],
        key: str,
        quote_usd: float | None = None,
        overwrite: bool = False,
    ) -> VideoJob:
        """Check `max_cost`, journal and queue (priced now unless `quote_usd` is known);
        returns once the job is queued. The output is claimed first (`OutputExistsError`
        unless `overwrite`)."""
        job = await self._call(
            "submit",
            request=request,
            quote=QuoteResponse(quote=quote_usd) if quote_usd is not None else None,
            output=output,
            max_cost=max_cost,
            tags=dict(tags),
            idempotency_key=key,
            overwrite=overwrite,
        )
        return cast(VideoJob, job)

    async def finish(
        self, key: str, *, timeout: float | None, on_progress: Callable[[Progress], None]
    ) -> VideoJob:
        """Wait for the job, save and verify its file, then clean up the server's copy."""
        if self.is_async:
            job = await self._call("download", key, timeout=timeout, on_progress=on_progress)
            return cast(VideoJob, job)

        def report(progress: Progress) -> None:
            # Called on the worker thread; the callback touches event-loop objects.
            anyio.from_thread.run_sync(on_progress, progress)

        job = await self._call(
            "download", key, timeout=timeout, on_progress=report, cancel=self._stop
        )
        return cast(VideoJob, job)
