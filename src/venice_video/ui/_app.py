"""The gallery's ASGI app: the page, its JSON API, its event stream, and the media it serves.

Read-only endpoints are GETs; everything that changes something (uploads, generations,
resumes, reruns, deletions) is a POST guarded by the CSRF token and origin checks of `Guard`.
Files are served only when the journal records them, and only if they are videos.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .._async_client import AsyncVeniceVideo
from .._catalog import Catalog
from .._choose import PricedModel, cheapest_query, fill_from_choice
from .._exceptions import (
    ValidationError,
    VeniceVideoError,
)
from .._models import QueueRequest, QuoteRequest
from .._validation import validate_queue
from ..journal import JournalEntry
from ._answers import json_error, sdk_error_json, usd_value
from ._config import GalleryConfig
from ._form import (
    CHEAPEST,
    FormError,
    MediaResolver,
    catalog_view,
    cheapest_fields,
    cheapest_view,
    choice_error,
    form_body,
    issue_view,
    no_model_message,
)
from ._guard import CSRF_HEADER, Guard
from ._media import MediaCache, video_mime
from ._runner import Runner
from ._stories import Stories
from ._uploads import (
    Kind,
    MissingInput,
    UploadError,
    UploadStore,
    missing_inputs,
)
from ._views import (
    SORTS,
    STATES,
    Filter,
    api_label,
    elapsed_s,
    progress_fraction,
    public_request,
    scrub,
    spend_of,
    state_of,
)

__all__ = ["build_app"]

logger = logging.getLogger("venice_video.ui")

_RUNNING_STATES = frozenset({"queueing", "running", "downloading"})
_QUOTE_TTL_S = 60.0
_MAX_JSON_BYTES = 1_000_000
_SAMPLE_PROMPTS = (
    "A gondola glides through a canal in Venice at dawn, mist on the water",
    "Paper lanterns drift over a night market, slow dolly shot",
    "Waves roll onto a black sand beach under a storm sky, aerial view",
)
_SAMPLE_MODELS = ("grok-imagine-text-to-video-private", "wan-3-0-text-to-video")


def _default_name(model: str, key: str) -> str:
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '-', model)}-{key[:8]}.mp4"


def _shown_path(path: Path) -> str:
    """A path as a person reads it: under the home folder, as `~/...`."""
    try:
        return str(Path("~") / path.relative_to(Path.home()))
    except (ValueError, RuntimeError):
        return str(path)


class Gallery:
    """The routes, around one SDK client. Strictly private."""

    def __init__(self, client: AsyncVeniceVideo, config: GalleryConfig) -> None:
        self.client = client
        self.config = config
        self.runner = Runner(client)
        self.journal = self.runner.journal
        self.media = MediaCache(config.cache_dir)
        self.uploads = UploadStore(config.upload_dir, max_bytes=config.max_upload_bytes)
        self.resolver = MediaResolver(self.uploads)
        self._catalog: Catalog | None = None
        self._quotes: dict[str, tuple[float, float]] = {}
        self._choosing: anyio.Lock | None = None
        self._page: str | None = None
        self.stories = Stories(self)

    # ------------------------------------------------------------------ helpers

    async def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = await self.client.models()
        return self._catalog

    async def entry(self, key: str) -> JournalEntry | None:
        found: JournalEntry | None = await self.runner.blocking(self.journal.get, key)
        return found

    async def body_json(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        if len(raw) > _MAX_JSON_BYTES:
            raise FormError("request", "too large")
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise FormError("request", "expected a JSON object") from None
        if not isinstance(data, dict):
            raise FormError("request", "expected a JSON object")
        return data

    async def quote(self, body: Mapping[str, Any]) -> float:
        """The price of a valid body, remembered for a minute (quotes are free but not instant)."""
        request = QuoteRequest.from_queue(QueueRequest.model_validate(dict(body)))
        cache_key = json.dumps(request.to_body(), sort_keys=True)
        now = time.monotonic()
        cached = self._quotes.get(cache_key)
        if cached is not None and now - cached[1] < _QUOTE_TTL_S:
            return cached[0]
        answer = await self.client.quote(request=request)
        price = float(answer.quote)
        if len(self._quotes) > 256:
            self._quotes.clear()
        self._quotes[cache_key] = (price, now)
        return price

    async def cheapest(self, asked: Mapping[str, Any]) -> PricedModel:
        """The cheapest model for generate-style fields (free quotes, cached by the SDK).

        One search at a time: a form checked as the user types would otherwise ask the same
        quotes several times over before the first answers are cached.
        """
        if self._choosing is None:
            self._choosing = anyio.Lock()
        async with self._choosing:
            return await self.client.cheapest_model(**cheapest_query(asked))

    def served_path(self, entry: JournalEntry | None) -> Path | None:
        """The journal-recorded video of a job, if it is there and is a video file."""
        if entry is None or not entry.output_path:
            return None
        path = Path(entry.output_path)
        if video_mime(path) is None:
            return None
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not real.is_file() or video_mime(real) is None:
            return None
        return real

    def view(
        self, entry: JournalEntry, *, detail: bool = False, story: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A job as the page shows it (blocking: may read the file's header); `story`: what it
        says of the story the job is a shot of (see `Stories.of_shot`)."""
        key = entry.key
        quoted = urllib.parse.quote(key, safe="")
        state = state_of(entry.status)
        live = self.runner.live(key)
        request = entry.request
        path = self.served_path(entry)
        probe = None
        if path is not None:
            probe = self.media.probe(path)
        stamp = ""
        if path is not None:
            stat = path.stat()
            stamp = f"?v={stat.st_size}-{stat.st_mtime_ns}"
        this_api = entry.api == self.runner.api
        can_resume, resume_note = self.runner.resumable(entry)
        rerun_note = missing_inputs(request, self.uploads) if request.get("model") else "no request"
        prompt = request.get("prompt")
        view: dict[str, Any] = {
            "key": key,
            "id": entry.queue_id or key,
            "model": entry.model,
            "status": entry.status,
            "state": state,
            "prompt": prompt if isinstance(prompt, str) else None,
            "duration": request.get("duration"),
            "resolution": request.get("resolution"),
            "aspect_ratio": request.get("aspect_ratio"),
            "quote_usd": entry.quote_usd,
            "created_at": entry.created_at,
            "updated_at": entry.updated_at,
            "api": api_label(entry.base_url),
            "this_api": this_api,
            "driving": bool(live.get("driving")),
            "error": scrub(live.get("error") or entry.error, [entry.download_url]),
            "tags": entry.tags,
            "story": story,
            "worker": entry.worker,
            "file": {
                "path": entry.output_path,
                "exists": path is not None,
                "size_bytes": path.stat().st_size if path is not None else None,
                "deleted_at": entry.tags.get("deleted_at"),
            },
            "media": None,
            "video_url": f"/media/{quoted}/video{stamp}" if path else None,
            "poster_url": f"/media/{quoted}/poster.jpg{stamp}" if path else None,
            "preview_url": f"/media/{quoted}/preview.webm{stamp}" if path else None,
            "can_resume": can_resume,
            "resume_note": resume_note if state in _RUNNING_STATES | {"unknown"} else None,
            "can_rerun": rerun_note is None,
            "rerun_note": rerun_note,
            "can_delete": path is not None,
        }
        if probe is not None:
            view["media"] = {
                "duration_s": probe.duration_s,
                "width": probe.width,
                "height": probe.height,
                "video_codec": probe.video_codec,
                "audio_codec": probe.audio_codec,
                "source_type": probe.source_type,
            }
        if state in _RUNNING_STATES:
            view["progress"] = progress_fraction(entry, self.runner.progress_of(key))
            view["eta_s"] = live.get("eta_s")
            view["phase"] = live.get("phase")
            view["elapsed_s"] = elapsed_s(entry)
        if detail:
            view["request"] = public_request(request)
            view["queued_at"] = entry.queued_at
            view["downloaded_at"] = entry.downloaded_at
            view["elapsed_s"] = elapsed_s(entry)
        return view

    async def view_of(self, key: str, *, detail: bool = False) -> dict[str, Any] | None:
        def build() -> dict[str, Any] | None:
            entry = self.journal.get(key)
            if entry is None:
                return None
            return self.view(entry, detail=detail, story=self.stories.of_entry(entry))

        result: dict[str, Any] | None = await self.runner.blocking(build)
        return result

    # ------------------------------------------------------------------ the page

    def page(self) -> str:
        if self._page is None:
            self._page = resources.files(__package__).joinpath("static/index.html").read_text()
        return self._page.replace("__CSRF_TOKEN__", self.config.token)

    async def index(self, request: Request) -> Response:
        return Response(
            self.page(),
            media_type="text/html; charset=utf-8",
            headers={"Cache-Control": "no-store"},
        )

    async def info(self, request: Request) -> Response:
        return JSONResponse(
            {
                "api": api_label(self.client.base_url),
                "local_engine": self.config.local_engine,
                "output_dir": str(self.config.output_dir),
                "output_dir_shown": _shown_path(self.config.output_dir),
                "max_cost_usd": self.config.max_cost,
                "default_model": self.config.default_model,
                "states": list(STATES),
                "sorts": list(SORTS),
                "max_upload_bytes": self.config.max_upload_bytes,
                "csrf_header": CSRF_HEADER,
            }
        )

    async def models(self, request: Request) -> Response:
        try:
            catalog = await self.catalog()
        except VeniceVideoError as exc:
            return sdk_error_json(exc)
        return JSONResponse({"models": catalog_view(catalog), "cheapest": cheapest_view(catalog)})

    # ------------------------------------------------------------------ jobs

    async def jobs(self, request: Request) -> Response:
        try:
            flt = Filter.from_query(request.query_params)
        except ValueError as exc:
            return json_error(400, str(exc))
        try:
            limit = max(1, min(int(request.query_params.get("limit", "500")), 5000))
        except ValueError:
            return json_error(400, "limit must be a number")

        def build() -> dict[str, Any]:
            entries = self.journal.list()
            videos = self.stories.videos(entries, flt)
            found = videos.found
            return {
                "jobs": [self.view(e, story=videos.story(e)) for e in found[:limit]],
                "count": len(found),
                # The shots of stories that matched but were left out (they are in Stories).
                "story_shots_hidden": videos.hidden,
                "total_usd": spend_of(found),
                "local_total_usd": spend_of(found, local=True),
                "all_count": len(entries),
                "all_total_usd": spend_of(entries),
                "all_local_total_usd": spend_of(entries, local=True),
                "models": sorted({e.model for e in entries}),
            }

        return JSONResponse(await self.runner.blocking(build))

    async def job(self, request: Request) -> Response:
        view = await self.view_of(request.path_params["key"], detail=True)
        if view is None:
            return json_error(404, "no such job in the journal")
        return JSONResponse(view)

    async def events(self, request: Request) -> Response:
        changes = self.runner.changes
        interval = self.config.event_interval_s
        stream_s = self.config.event_stream_s

        async def stream() -> AsyncIterator[str]:
            yield "retry: 2000\n\n"
            version = changes.version
            ends = time.monotonic() + stream_s
            while time.monotonic() < ends and not self.runner.closing.is_set():
                if not await changes.wait(version, timeout_s=15.0):
                    yield ": still here\n\n"
                    continue
                keys = changes.since(version)
                version = changes.version
                for key in keys:
                    view = await self.view_of(key)
                    if view is not None:
                        yield f"event: job\ndata: {json.dumps(view)}\n\n"
                # Progress can be reported many times a second; the page needs a few.
                await anyio.sleep(interval)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def resume(self, request: Request) -> Response:
        entry = await self.entry(request.path_params["key"])
        if entry is None:
            return json_error(404, "no such job in the journal")
        ok, why = self.runner.resumable(entry)
        if not ok or not self.runner.drive(entry):
            return json_error(409, f"cannot resume: {why}")
        return JSONResponse(await self.view_of(entry.key), status_code=202)

    async def delete_file(self, request: Request) -> Response:
        key = request.path_params["key"]
        entry = await self.entry(key)
        if entry is None:
            return json_error(404, "no such job in the journal")
        if self.runner.is_driving(key):
            return json_error(409, "the job is still being saved; wait for it to finish")
        path = self.served_path(entry)
        if path is None:
            return json_error(404, "there is no file to delete")

        def remove() -> None:
            assert entry is not None and path is not None
            path.unlink()
            self.media.forget(key, path)
            # The journal keeps the path; the tag says the file was removed on purpose.
            self.journal.update(key, tags={**entry.tags, "deleted_at": time.time()})

        try:
            await self.runner.blocking(remove)
        except OSError as exc:
            return json_error(500, f"could not delete the file: {exc.strerror}")
        self.runner.changes.mark(key)
        return JSONResponse(await self.view_of(key))

    # ------------------------------------------------------------------ media

    async def video(self, request: Request) -> Response:
        path = self.served_path(await self.entry(request.path_params["key"]))
        if path is None:
            return json_error(404, "no video file for this job")
        return FileResponse(
            path, media_type=video_mime(path), headers={"Cache-Control": "no-cache"}
        )

    async def poster(self, request: Request) -> Response:
        key = request.path_params["key"]
        path = self.served_path(await self.entry(key))
        if path is None:
            return json_error(404, "no video file for this job")
        poster = await self.runner.blocking(self.media.poster, key, path)
        await self.runner.blocking(self.media.probe, path)
        if poster is None:
            return json_error(404, "no poster could be made for this video")
        return FileResponse(
            poster, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
        )

    async def preview(self, request: Request) -> Response:
        key = request.path_params["key"]
        path = self.served_path(await self.entry(key))
        if path is None:
            return json_error(404, "no video file for this job")
        preview = await self.runner.blocking(self.media.preview, key, path)
        if preview is None:
            return json_error(404, "no preview could be made for this video")
        return FileResponse(
            preview, media_type="video/webm", headers={"Cache-Control": "private, max-age=86400"}
        )

    # ------------------------------------------------------------------ the form

    async def upload(self, request: Request) -> Response:
        kinds: dict[str, Kind] = {"image": "image", "audio": "audio", "video": "video"}
        kind = kinds.get(request.query_params.get("kind", ""))
        if kind is None:
            return json_error(400, "kind must be image, audio or video")
        declared = request.headers.get("content-length")
        try:
            size = int(declared) if declared is not None else None
        except ValueError:
            size = None
        try:
            stored = await self.uploads.receive(request.stream(), kind=kind, declared_size=size)
        except UploadError as exc:
            return json_error(exc.status, str(exc))
        return JSONResponse(stored, status_code=201)

    async def resolved(
        self, fields: Any
    ) -> tuple[dict[str, Any] | None, list[dict[str, Any]], PricedModel | None]:
        """The form's queue body, everything wrong with it, and for the model `cheapest` the
        model chosen (named in the body, with the duration, resolution and sound priced)."""
        if not isinstance(fields, dict):
            return None, [{"field": "request", "message": "expected the form's fields"}], None
        try:
            body: dict[str, Any] = await self.runner.blocking(form_body, fields, self.resolver)
        except FormError as exc:
            return None, [{"field": exc.field, "message": exc.message}], None
        choice = None
        if body.get("model") == CHEAPEST:
            asked = cheapest_fields(body)
            try:
                choice = await self.cheapest(asked)
            except ValidationError as exc:
                if any(i.code == "no_matching_model" for i in exc.issues):
                    issue = {"field": "model", "message": no_model_message(asked)}
                    return None, [{**issue, "kind": "no_model"}], None
                raise
            fill_from_choice(body, choice)
            if not choice.model.audio_configurable:
                body.pop("audio", None)  # its sound is fixed, and was what was asked
        catalog = await self.catalog()
        issues = await self.runner.blocking(validate_queue, body, catalog)
        return body, [issue_view(i) for i in issues], choice

    async def check(self, request: Request) -> Response:
        try:
            payload = await self.body_json(request)
            body, issues, choice = await self.resolved(payload.get("fields"))
        except FormError as exc:
            return json_error(400, exc.message)
        except VeniceVideoError as exc:
            return sdk_error_json(exc)
        answer: dict[str, Any] = {
            "valid": not issues,
            "issues": issues,
            "quote_usd": None,
            "quote_error": None,
            "max_cost_usd": self.config.max_cost,
            "chosen_model": choice.id if choice is not None else None,
            "chosen_shape": choice.shape if choice is not None else None,
            "choice_error": choice_error(issues),
        }
        if body is not None and not issues:
            try:
                answer["quote_usd"] = await self.quote(body)
            except VeniceVideoError as exc:
                answer["quote_error"] = scrub(str(exc))
        return JSONResponse(answer)

    def _cap(self, price: float, confirmed: float | None) -> JSONResponse | float:
        """The most a job may cost: what the user saw, within the configured limit."""
        if confirmed is None:
            return json_error(400, "confirm the price first (max_cost_usd)", quote_usd=price)
        if price > confirmed + 1e-9:
            return json_error(
                409,
                f"the price is now ${price:.2f}, more than the ${confirmed:.2f} shown",
                kind="price_changed",
                quote_usd=price,
            )
        if self.config.max_cost is not None and price > self.config.max_cost + 1e-9:
            return json_error(
                409,
                f"${price:.2f} is over the ${self.config.max_cost:.2f} limit in the settings",
                kind="spend_limit",
                quote_usd=price,
            )
        return min(confirmed, self.config.max_cost) if self.config.max_cost else confirmed

    async def _start(
        self, body: dict[str, Any], confirmed: float | None, tags: Mapping[str, Any]
    ) -> Response:
        try:
            price = await self.quote(body)
        except VeniceVideoError as exc:
            return sdk_error_json(exc)
        cap = self._cap(price, confirmed)
        if isinstance(cap, JSONResponse):
            return cap
        key = uuid.uuid4().hex
        output = self.config.output_dir / _default_name(str(body["model"]), key)
        try:
            await self.runner.blocking(self.uploads.keep_inline, body)
            await self.runner.blocking(self.config.output_dir.mkdir, parents=True, exist_ok=True)
            await self.runner.submit(
                body, key=key, output=output, max_cost=cap, tags=tags, quote_usd=price
            )
        except VeniceVideoError as exc:
            self.runner.changes.mark(key)
            return sdk_error_json(exc)
        except OSError as exc:
            return json_error(500, f"cannot write to the output folder: {exc.strerror}")
        return JSONResponse(await self.view_of(key), status_code=201)

    async def generate(self, request: Request) -> Response:
        try:
            payload = await self.body_json(request)
            body, issues, choice = await self.resolved(payload.get("fields"))
        except FormError as exc:
            return json_error(400, exc.message)
        except VeniceVideoError as exc:
            return sdk_error_json(exc)
        if body is None or issues:
            no_model = choice_error(issues)
            if no_model is not None:
                return json_error(422, no_model, kind="no_model", issues=issues)
            return json_error(422, "the request is not valid", issues=issues)
        if choice is None:
            return await self._start(body, usd_value(payload.get("max_cost_usd")), {})
        # The model paid for is the one the user saw, at no more than the price shown.
        shown = payload.get("chosen_model")
        if not isinstance(shown, str) or not shown:
            return json_error(
                400, "confirm the model chosen first (chosen_model)", chosen_model=choice.id
            )
        if shown != choice.id:
            return json_error(
                409,
                f"the cheapest model is now {choice.id}, not the {shown} shown",
                kind="model_changed",
                chosen_model=choice.id,
            )
        tags = {"model_choice": CHEAPEST}
        return await self._start(body, usd_value(payload.get("max_cost_usd")), tags)

    async def _rerun_body(self, key: str) -> dict[str, Any] | JSONResponse:
        entry = await self.entry(key)
        if entry is None:
            return json_error(404, "no such job in the journal")
        try:
            body: dict[str, Any] = await self.runner.blocking(self.uploads.rehydrate, entry.request)
        except MissingInput as exc:
            return json_error(409, f"cannot run it again: {exc}")
        try:
            catalog = await self.catalog()
        except VeniceVideoError as exc:
            return sdk_error_json(exc)
        issues = validate_queue(body, catalog)
        if issues:
            return json_error(
                422, "the request is no longer valid", issues=[issue_view(i) for i in issues]
            )
        return body

    async def rerun_quote(self, request: Request) -> Response:
        body = await self._rerun_body(request.path_params["key"])
        if isinstance(body, JSONResponse):
            return body
        try:
            price = await self.quote(body)
        except VeniceVideoError as exc:
            return sdk_error_json(exc)
        return JSONResponse(
            {"quote_usd": price, "model": body["model"], "max_cost_usd": self.config.max_cost}
        )

    async def rerun(self, request: Request) -> Response:
        key = request.path_params["key"]
        try:
            payload = await self.body_json(request)
        except FormError as exc:
            return json_error(400, exc.message)
        body = await self._rerun_body(key)
        if isinstance(body, JSONResponse):
            return body
        return await self._start(body, usd_value(payload.get("max_cost_usd")), {"rerun_of": key})

    async def samples(self, request: Request) -> Response:
        """Three short clips on the local engine, so a new gallery has something to show."""
        if not self.config.local_engine:
            return json_error(403, "sample clips are made only on the local engine")
        try:
            catalog = await self.catalog()
        except VeniceVideoError as exc:
            return sdk_error_json(exc)
        model = next((catalog[m] for m in _SAMPLE_MODELS if m in catalog), None)
        if model is None:
            return json_error(404, "the local engine offers none of the sample models")
        started = []
        for index, prompt in enumerate(_SAMPLE_PROMPTS):
            body: dict[str, Any] = {"model": model.id, "prompt": prompt}
            if model.durations:
                body["duration"] = model.durations[min(index + 1, len(model.durations) - 1)]
            if model.resolutions:
                body["resolution"] = model.resolutions[0]
            if model.aspect_ratios:
                wide = "16:9" in model.aspect_ratios
                body["aspect_ratio"] = "16:9" if wide else model.aspect_ratios[0]
            try:
                price = await self.quote(body)
            except VeniceVideoError as exc:
                return sdk_error_json(exc)
            answer = await self._start(body, price, {"sample": True})
            if answer.status_code != 201:
                return answer
            started.append(json.loads(bytes(answer.body)))
        return JSONResponse({"jobs": started}, status_code=201)


def build_app(client: AsyncVeniceVideo, config: GalleryConfig) -> Starlette:
    """The gallery app for a client and a configuration. See `venice_video.ui.create_app`."""
    gallery = Gallery(client, config)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            async with (
                gallery.runner.running(resume=config.resume_on_start),
                gallery.stories.running(),
            ):
                yield
        finally:
            if config.close_client:
                await client.aclose()

    def post(path: str, endpoint: Callable[[Request], Any]) -> Route:
        return Route(path, endpoint, methods=["POST"])

    routes = [
        Route("/", gallery.index),
        Route("/api/info", gallery.info),
        Route("/api/models", gallery.models),
        Route("/api/jobs", gallery.jobs),
        Route("/api/jobs/{key}", gallery.job),
        Route("/api/events", gallery.events),
        post("/api/uploads", gallery.upload),
        post("/api/check", gallery.check),
        post("/api/generate", gallery.generate),
        post("/api/samples", gallery.samples),
        post("/api/jobs/{key}/resume", gallery.resume),
        post("/api/jobs/{key}/rerun-quote", gallery.rerun_quote),
        post("/api/jobs/{key}/rerun", gallery.rerun),
        post("/api/jobs/{key}/delete-file", gallery.delete_file),
        Route("/media/{key}/video", gallery.video),
        Route("/media/{key}/poster.jpg", gallery.poster),
        Route("/media/{key}/preview.webm", gallery.preview),
        *gallery.stories.routes(),
        Mount("/static", StaticFiles(packages=[("venice_video.ui", "static")]), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.gallery = gallery
    app.add_middleware(Guard, token=config.token, allowed_hosts=config.allowed_hosts)
    return app
