"""Type-checked with mypy, never run: the public API reads well to a type checker."""

from __future__ import annotations

import threading
from pathlib import Path

from venice_video import (
    AsyncVeniceVideo,
    AudioTranscription,
    Catalog,
    Progress,
    QueueOutcomeUnknownError,
    QueueRequest,
    QueueResponse,
    QuoteRequest,
    QuoteResponse,
    RetrieveStatus,
    ValidationError,
    VeniceVideo,
    VideoJob,
)


def on_progress(progress: Progress) -> bool:
    return progress.phase != "done"


def sync_api(client: VeniceVideo) -> None:
    quote: QuoteResponse = client.quote("wan-2-7-text-to-video", duration="5s")
    price: float = quote.quote
    job: VideoJob = client.generate(
        model="wan-2-7-text-to-video",
        prompt="Venice at dawn",
        duration="5s",
        resolution="720p",
        image=Path("first.png"),
        output="out.mp4",
        max_cost=1.0,
        on_progress=on_progress,
        cancel=threading.Event(),
    )
    path: Path | None = job.path
    cost: float | None = job.cost
    handle = client.submit(model="m", prompt="p", duration="5s")
    ready = client.wait(handle, timeout=60)
    saved = client.download(ready, "out.mp4", cleanup="both")
    status: RetrieveStatus = client.retrieve(saved.model, "queue-id")
    queued: QueueResponse = client.queue(QueueRequest(model="m", prompt="p", duration="5s"))
    typed_queue: QueueRequest = client.validate({"model": "m"})
    typed_quote: QuoteRequest = client.validate(QuoteRequest(model="m"))
    catalog: Catalog = client.models(refresh=True)
    text: AudioTranscription = client.transcribe_audio(Path("talk.mp4"), timestamps=True)
    jobs: list[VideoJob] = client.resume() + client.jobs(statuses=["UNKNOWN"])
    del price, path, cost, status, queued, typed_queue, typed_quote, catalog, text, jobs
    try:
        client.generate(model="m", prompt="p")
    except ValidationError as exc:
        fields: list[str] = [issue.field for issue in exc.issues]
        del fields
    except QueueOutcomeUnknownError as exc:
        key: str = exc.idempotency_key
        del key


async def async_api(client: AsyncVeniceVideo) -> None:
    job: VideoJob = await client.generate(model="m", prompt="p", duration="5s")
    quote: QuoteResponse = await client.quote(request=QueueRequest(model="m"))
    jobs: list[VideoJob] = await client.resume(concurrency=8)
    await client.aclose()
    del job, quote, jobs
