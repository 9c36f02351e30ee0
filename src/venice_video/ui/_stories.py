"""Stories in the gallery: one film with the strip of its shots, what it cost, and a new take
of one shot.

A story is found in the journal: its shots' entries carry the tags `story` (the story's id),
`story_title`, `story_shot` and `story_film` (the film's path; for entries written before that
tag, the film is found from the shot's own file, which is saved in `<film>.shots/`). The film's
manifest (`<film>.film.json`) says which take of each shot is in the film and where it sits on
the timeline. A film is served only when a manifest of the same story names it, and only if
it is a video file; shots are served as any job is, by their journal entry.

A new take of a shot (`POST /api/stories/{id}/shots/{n}/rerender`) is priced first; nothing is
spent until the price is confirmed, and never more than the price shown (nor more than the
gallery's cost limit). It renders through the SDK's `render_story(rerender=[n])`: the new take
(and the shots chained after it) journaled and queued once, the old take's file kept, and the
film replaced only once the new one is written and checked.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from .._exceptions import VeniceVideoError
from ..journal import JournalEntry, spent
from ._answers import json_error, sdk_error_json, usd_value
from ._media import video_mime
from ._story_index import Found, attention, find, group, served
from ._views import Filter, filter_entries, scrub, state_of, story_of, without_story_shots

if TYPE_CHECKING:
    from ..story import ShotProgress, Story, StoryError
    from ._app import Gallery

# `venice_video.story` (its models, the planner) is loaded on first use: the gallery starts
# without it.

__all__ = ["Stories"]

logger = logging.getLogger("venice_video.ui")

_LIVE = frozenset({"queued", "processing", "downloading"})


# ------------------------------------------------------------------ a render in the background


@dataclass
class Task:
    """A new take rendering in the background."""

    story: str
    #: The shot a new take is of; `None` when the render finishes the film.
    number: int | None
    cancel: anyio.Event = field(default_factory=anyio.Event)
    done: anyio.Event = field(default_factory=anyio.Event)
    shots: dict[int, ShotProgress] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Videos:
    """What the Videos grid lists (`Stories.videos`): the jobs, how many story shots were
    left out, and what each listed shot says of its story."""

    stories: Stories
    found: list[JournalEntry]
    hidden: int
    groups: dict[str, list[JournalEntry]]
    needing: dict[str, str]
    _found: dict[str, Found] = field(default_factory=dict)

    def story(self, entry: JournalEntry) -> dict[str, Any] | None:
        """`Stories.of_shot` for a listed job, `None` for a plain one (each story read once)."""
        story = story_of(entry)
        if story is None:
            return None
        if story not in self._found:
            self._found[story] = find(story, self.groups[story])
        return self.stories.of_shot(entry, self._found[story], self.needing.get(entry.key))


class Stories:
    """The gallery's stories: views, the film and the new-take flow. Strictly private."""

    def __init__(self, gallery: Gallery) -> None:
        self.gallery = gallery
        self.tasks: dict[str, Task] = {}
        self._busy: set[str] = set()
        self._tg: anyio.abc.TaskGroup | None = None

    def routes(self) -> list[Route]:
        return [
            Route("/api/stories", self.listing),
            Route("/api/stories/{id}", self.detail),
            Route("/api/stories/{id}/shots/{n:int}/rerender", self.rerender, methods=["POST"]),
            Route("/api/stories/{id}/finish", self.finish, methods=["POST"]),
            Route("/media/stories/{id}/film", self.film),
            Route("/media/stories/{id}/poster.jpg", self.poster),
            Route("/media/stories/{id}/preview.webm", self.preview),
            Route("/media/stories/{id}/captions.vtt", self.captions),
        ]

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Stories]:
        """Run new takes while the app runs; on the way out their waits stop (every shot
        stays journaled: `venice-video story render` picks them up)."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                yield self
            finally:
                self._tg = None
                for task in self.tasks.values():
                    task.cancel.set()
                tg.cancel_scope.cancel()

    def running_task(self, story: str) -> Task | None:
        task = self.tasks.get(story)
        return task if task is not None and not task.done.is_set() else None

    # ------------------------------------------------------------------ views

    def _shot_urls(self, entry: JournalEntry | None) -> dict[str, str | None]:
        path = self.gallery.served_path(entry)
        if entry is None or path is None:
            return {"video_url": None, "poster_url": None}
        stat = path.stat()
        stamp = f"?v={stat.st_size}-{stat.st_mtime_ns}"
        quoted = urllib.parse.quote(entry.key, safe="")
        return {
            "video_url": f"/media/{quoted}/video{stamp}",
            "poster_url": f"/media/{quoted}/poster.jpg{stamp}",
        }

    def _newer_take(self, found: Found, record: dict[str, Any], entry: JournalEntry | None) -> bool:
        """Whether the journal has a take of this shot newer than the film's that a render
        would use: finished with its file there, or still in flight."""
        digest = str(record.get("digest") or "")[:16]
        newest = next(
            (e for e in found.entries
             if e.tags.get("story_shot") == record.get("number")
             and e.tags.get("story_digest") == digest),
            None,
        )  # fmt: skip
        if newest is None or newest.key == record.get("key"):
            return False
        if entry is not None and newest.created_at <= entry.created_at:
            return False
        if newest.status in ("FAILED", "CANCELLED"):
            return False
        if newest.status in ("DOWNLOADED", "COMPLETED"):
            return self.gallery.served_path(newest) is not None
        return True

    def _unfinished(self, found: Found) -> bool:
        """Whether some shot has a take newer than the film's (blocking)."""
        records = (found.manifest or {}).get("shots") or []
        journal = self.gallery.journal
        return any(
            self._newer_take(found, r, journal.get(str(r.get("key") or "")))
            for r in records
            if isinstance(r, dict)
        )

    def _shots(self, found: Found) -> list[dict[str, Any]]:
        """The film's shots in timeline order (blocking: reads the journal)."""
        journal = self.gallery.journal
        shots: list[dict[str, Any]] = []
        records = (found.manifest or {}).get("shots")
        if isinstance(records, list) and records:
            for record in records:
                if not isinstance(record, dict):
                    continue
                key = str(record.get("key") or "")
                entry = journal.get(key) if key else None
                home, name = found.home, record.get("file")
                file = home / str(name) if home is not None and name else None
                request = record.get("request") if isinstance(record.get("request"), dict) else {}
                if entry is not None:
                    state = state_of(entry.status)
                else:
                    state = "done" if file is not None and file.is_file() else "missing"
                newer = self._newer_take(found, record, entry)
                shots.append(
                    {
                        "number": record.get("number"),
                        "name": record.get("name"),
                        "model": record.get("model"),
                        "key": key or None,
                        "duration": (request or {}).get("duration"),
                        "cost_usd": record.get("cost_usd"),
                        "start": record.get("start"),
                        "end": record.get("end"),
                        "continues_from": record.get("continues_from"),
                        "line": record.get("line"),
                        "state": state,
                        # A take newer than the film's, done or in flight (a render stopped
                        # before the film was assembled again): Finish puts it in.
                        "newer_take": newer,
                        **self._shot_urls(entry),
                    }
                )
        else:
            # No film yet: the newest take of each shot the journal knows.
            newest: dict[int, JournalEntry] = {}
            for entry in found.entries:
                number = entry.tags.get("story_shot")
                if isinstance(number, int) and number not in newest:
                    newest[number] = entry
            for number in sorted(newest):
                entry = newest[number]
                shots.append(
                    {
                        "number": number,
                        "name": entry.tags.get("story_shot_name"),
                        "model": entry.model,
                        "key": entry.key,
                        "duration": entry.request.get("duration"),
                        "cost_usd": entry.quote_usd,
                        "start": None,
                        "end": None,
                        "continues_from": None,
                        "line": None,
                        "state": state_of(entry.status),
                        "newer_take": False,
                        **self._shot_urls(entry),
                    }
                )
        task = self.running_task(found.id)
        for shot in shots:
            progress = task.shots.get(shot["number"]) if task is not None else None
            shot["phase"] = progress.phase if progress is not None else None
            if progress is not None and progress.phase in _LIVE:
                shot["state"] = "running"
        return shots

    def view(self, found: Found, *, detail: bool = False) -> dict[str, Any]:
        """A story as the page shows it (blocking: reads the journal and the film's header)."""
        shots = self._shots(found)
        quoted = urllib.parse.quote(found.id, safe="")
        film: dict[str, Any] | None = None
        path = found.film
        real = served(path, video=True) if path is not None else None
        if path is not None:
            film = {"path": str(path), "ready": found.film_ready}
            if real is not None:
                stat = real.stat()
                stamp = f"?v={stat.st_size}-{stat.st_mtime_ns}"
                probe = self.gallery.media.probe(real)
                record = (found.manifest or {}).get("film") or {}
                vtt = served(found.captions, video=False)
                film.update(
                    url=f"/media/stories/{quoted}/film{stamp}",
                    poster_url=f"/media/stories/{quoted}/poster.jpg{stamp}",
                    preview_url=f"/media/stories/{quoted}/preview.webm{stamp}",
                    captions_url=f"/media/stories/{quoted}/captions.vtt{stamp}" if vtt else None,
                    source_type=probe.source_type if probe is not None else "video/mp4",
                    duration_s=record.get("duration_s") if isinstance(record, dict) else None,
                )
        task = self.tasks.get(found.id)
        rendering = task is not None and not task.done.is_set()
        done = sum(1 for s in shots if s["state"] == "done")
        source = found.source
        finishable = any(s["newer_take"] for s in shots)
        note = None
        if rendering:
            note = "the story is rendering"
        elif finishable:
            note = "a newer take is not in the film yet: Finish the film first"
        elif not found.film_ready:
            note = "the film is not rendered yet: render the story first"
        elif source is None or not source.is_file():
            note = "the story file is not where the film's manifest says"
        status = "rendering" if rendering else "incomplete"
        if not rendering and found.manifest is not None:
            status = "done" if found.film_ready else str(found.manifest.get("status") or status)
        view: dict[str, Any] = {
            "id": found.id,
            "title": found.title,
            "story_file": str(source) if source is not None else None,
            "status": status,
            "shot_count": len(shots),
            "shots_done": done,
            # What the film's shots cost: the take of each that is in it.
            "total_usd": round(sum(float(s["cost_usd"] or 0.0) for s in shots), 6),
            # Everything the story's jobs cost, earlier takes included.
            "spent_usd": spent(found.entries, local=None),
            "local": all(e.is_local_engine for e in found.entries),
            "film": film,
            "rendering": rendering,
            "error": task.error if task is not None and not rendering else None,
            "can_rerender": note is None,
            "rerender_note": note,
            "can_finish": not rendering and finishable and source is not None and source.is_file(),
            "updated_at": max((e.updated_at for e in found.entries), default=0.0),
        }
        if detail:
            view["shots"] = shots
        else:
            view["shots"] = [
                {k: s[k] for k in ("number", "name", "state", "poster_url", "start")} for s in shots
            ]
        return view

    def found(self, story: str) -> Found | None:
        entries = self.gallery.journal.list(tag=("story", story))
        return find(story, entries) if entries else None

    # ------------------------------------------------------------------ a shot among the videos

    def needing_you(self, stories: dict[str, list[JournalEntry]]) -> dict[str, str]:
        """The shots of these stories (their entries by story, as `group` gives them) that
        need the user, by key, with why."""
        reasons: dict[str, str] = {}
        for story, takes in stories.items():
            followed = self.running_task(story) is not None
            for entry in takes:
                why = attention(entry, takes, followed=followed)
                if why is not None:
                    reasons[entry.key] = why
        return reasons

    def videos(self, entries: list[JournalEntry], flt: Filter) -> Videos:
        """The jobs the Videos grid lists for `flt` (blocking). A story is one card of its own:
        its shots are listed only when asked for, or when one needs the user."""
        groups = group(entries)
        needing = self.needing_you(groups)
        matching = filter_entries(entries, replace(flt, stories=True))
        found = matching if flt.stories else without_story_shots(matching, needing)
        return Videos(self, found, len(matching) - len(found), groups, needing)

    def of_shot(self, entry: JournalEntry, found: Found, why: str | None) -> dict[str, Any]:
        """What a job's view says of the story it is a shot of (blocking)."""
        number = entry.tags.get("story_shot")
        name = entry.tags.get("story_shot_name")
        return {
            "id": found.id,
            "title": found.title,
            "shot": number if isinstance(number, int) else None,
            "shot_name": name if isinstance(name, str) and name else None,
            # Whether this take is the one in the film; `None` before there is a film.
            "in_film": found.in_film(entry),
            # Why it is listed among the videos by default too, if it is.
            "attention": why,
        }

    def of_entry(self, entry: JournalEntry) -> dict[str, Any] | None:
        """`of_shot` for one job, or `None` for a plain job (blocking: reads the journal)."""
        story = story_of(entry)
        if story is None:
            return None
        takes = self.gallery.journal.list(tag=("story", story))
        followed = self.running_task(story) is not None
        why = attention(entry, takes, followed=followed)
        return self.of_shot(entry, find(story, takes or [entry]), why)

    # ------------------------------------------------------------------ endpoints

    async def listing(self, request: Request) -> Response:
        def build() -> dict[str, Any]:
            stories = [find(k, v) for k, v in group(self.gallery.journal.list()).items()]
            views = [self.view(s) for s in stories]
            views.sort(key=lambda v: (v["updated_at"], v["id"]), reverse=True)
            return {"stories": views}

        return JSONResponse(await self.gallery.runner.blocking(build))

    async def detail(self, request: Request) -> Response:
        story = request.path_params["id"]

        def build() -> dict[str, Any] | None:
            found = self.found(story)
            return self.view(found, detail=True) if found is not None else None

        view = await self.gallery.runner.blocking(build)
        if view is None:
            return json_error(404, "no such story in the journal")
        return JSONResponse(view)

    async def _served(self, request: Request, what: str) -> Path | None:
        found = await self.gallery.runner.blocking(self.found, request.path_params["id"])
        if found is None:
            return None
        if what == "captions":
            return served(found.captions, video=False)
        return served(found.film, video=True)

    async def film(self, request: Request) -> Response:
        path = await self._served(request, "film")
        if path is None:
            return json_error(404, "no film for this story")
        return FileResponse(
            path, media_type=video_mime(path), headers={"Cache-Control": "no-cache"}
        )

    async def poster(self, request: Request) -> Response:
        return await self._made_from_film(request, "poster", "image/jpeg")

    async def preview(self, request: Request) -> Response:
        return await self._made_from_film(request, "preview", "video/webm")

    async def _made_from_film(self, request: Request, what: str, media_type: str) -> Response:
        """A file the media cache makes from the film (its poster, its WebM preview)."""
        path = await self._served(request, "film")
        if path is None:
            return json_error(404, "no film for this story")
        media = self.gallery.media
        make = media.poster if what == "poster" else media.preview
        made = await self.gallery.runner.blocking(make, f"story:{request.path_params['id']}", path)
        if made is None:
            return json_error(404, f"no {what} could be made for this film")
        return FileResponse(
            made, media_type=media_type, headers={"Cache-Control": "private, max-age=86400"}
        )

    async def captions(self, request: Request) -> Response:
        path = await self._served(request, "captions")
        if path is None:
            return json_error(404, "no captions for this story's film")
        return FileResponse(
            path, media_type="text/vtt; charset=utf-8", headers={"Cache-Control": "no-cache"}
        )

    # ------------------------------------------------------------------ a new take

    async def rerender(self, request: Request) -> Response:
        """Without `max_cost_usd`: the price of a new take of shot `n` (and the shots chained
        after it), to confirm. With it: start that render, if it costs no more."""
        story, number = request.path_params["id"], int(request.path_params["n"])
        payload = await self._payload(request)
        if isinstance(payload, Response):
            return payload
        confirmed = usd_value(payload.get("max_cost_usd"))
        answer: dict[str, Any] = {}

        async def start() -> Response | None:
            prepared = await self._prepare(story, [number])
            if isinstance(prepared, Response):
                return prepared
            if prepared.run.shots[number - 1].state != "new":
                return json_error(
                    409,
                    f"shot {number} has a take in flight: Finish puts it in the film "
                    "(nothing is paid twice)",
                    kind="in_flight",
                )
            take = prepared.take(number)
            new = [s for s in prepared.run.shots if s.state == "new"]
            price = prepared.run.new_usd
            answer.update(
                story=story,
                number=number,
                take=take,
                quote_usd=price,
                max_cost_usd=self.gallery.config.max_cost,
                shots=[
                    {
                        "number": s.shot.number,
                        "name": s.shot.name,
                        "model": s.shot.model,
                        "cost_usd": s.price,
                    }
                    for s in new
                ],
                confirmed=False,
            )
            if confirmed is None:
                return JSONResponse(answer)
            given = payload.get("take")
            if given is not None and given != take:
                return json_error(
                    409,
                    f"shot {number} has a new take since the price was shown; look again",
                    kind="stale",
                )
            cap = self.gallery._cap(price, confirmed)
            if isinstance(cap, JSONResponse):
                return cap
            self._start(story, number, prepared, cap, {s.shot.number for s in new})
            answer["confirmed"] = True
            return None

        return await self._once(story, start, answer)

    async def finish(self, request: Request) -> Response:
        """Assemble the film again with the takes the journal has that it lacks (a render
        stopped before that), following those in flight. Never pays: a story that needs a
        new shot is refused."""
        story = request.path_params["id"]
        answer: dict[str, Any] = {}

        async def start() -> Response | None:
            prepared = await self._prepare(story, [])
            if isinstance(prepared, Response):
                return prepared
            new = [s.shot for s in prepared.run.shots if s.state == "new"]
            if new:
                shots = ", ".join(f"shot {s.number} ({s.name})" for s in new)
                return json_error(
                    409,
                    f"finishing would pay for {shots}: the story file changed since; "
                    f"render it with `venice-video story render {prepared.source}`",
                    kind="would_pay",
                )
            self._start(story, None, prepared, 0.0, set())
            answer.update(story=story, quote_usd=0.0, confirmed=True)
            return None

        return await self._once(story, start, answer)

    async def _payload(self, request: Request) -> dict[str, Any] | Response:
        from ._form import FormError

        try:
            payload: dict[str, Any] = await self.gallery.body_json(request)
        except FormError as exc:
            return json_error(400, exc.message)
        return payload

    async def _once(
        self,
        story: str,
        start: Callable[[], Awaitable[Response | None]],
        answer: dict[str, Any],
    ) -> Response:
        """Run `start` unless a render of this story is running or starting: one confirmation
        starts one render. `start` answers a refusal or a quote, or `None` once started."""
        if story in self._busy or self.running_task(story) is not None:
            return json_error(409, "a render of this story is already running", kind="busy")
        self._busy.add(story)
        try:
            refused = await start()
        except VeniceVideoError as exc:
            return sdk_error_json(exc)
        finally:
            self._busy.discard(story)  # a started render is in `tasks` from here on
        if refused is not None:
            return refused
        view = await self.gallery.runner.blocking(self._view_of, story)
        return JSONResponse({**answer, "story_view": view}, status_code=202)

    def _view_of(self, story: str) -> dict[str, Any] | None:
        found = self.found(story)
        return self.view(found, detail=True) if found is not None else None

    async def _prepare(self, story: str, rerender: list[int]) -> Response | Prepared:
        """The story, its film and its run (with new takes of the `rerender` shots), or why
        not."""
        from ..story import Story, StoryBudgetError, StoryError, adrive, prepare_flow, story_id

        found = await self.gallery.runner.blocking(self.found, story)
        if found is None:
            return json_error(404, "no such story in the journal")
        film = found.film
        if film is None or found.manifest is None:
            return json_error(409, "the film is not rendered yet: render the story first")
        if rerender and not found.film_ready:
            return json_error(409, "the film is not assembled yet: Finish it or render the story")
        if rerender and await self.gallery.runner.blocking(self._unfinished, found):
            return json_error(
                409, "a newer take is not in the film yet: Finish the film first", kind="unfinished"
            )
        source = found.source
        if source is None or not source.is_file():
            return json_error(409, f"the story file is not there any more ({source})")
        try:
            loaded: Story = await self.gallery.runner.blocking(Story.load, source)
        except StoryError as exc:
            return _story_error(exc)
        if story_id(loaded) != story:
            return json_error(409, "the story file at the manifest's path is another story")
        client = self.gallery.client
        flow = prepare_flow(
            loaded, api_id=client.api_id, journal=self.gallery.journal, output=film,
            rerender=rerender,
        )  # fmt: skip
        try:
            run = await adrive(client, flow)
        except StoryBudgetError as exc:
            return json_error(409, scrub(str(exc)) or "over the story's budget", kind="budget")
        except StoryError as exc:
            return _story_error(exc)
        return Prepared(found, loaded, source, film, run)

    def _start(
        self, story: str, number: int | None, prepared: Prepared, cap: float, new: set[int]
    ) -> None:
        if self._tg is None:
            raise RuntimeError("the gallery is not running (its lifespan has not started)")
        task = Task(story, number)
        self.tasks[story] = task
        self._tg.start_soon(self._render, task, prepared, cap, new)

    async def _render(self, task: Task, prepared: Prepared, cap: float, new: set[int]) -> None:
        from ..story import StoryQuote, arender_story

        def seen(progress: ShotProgress) -> None:
            task.shots[progress.number] = progress

        def confirm(quote: StoryQuote) -> bool:
            # Priced again as it starts: only the shots confirmed, for no more than confirmed.
            wanted = {s.number for s in quote.shots if s.state == "new"}
            return wanted == new and quote.new <= cap + 1e-9

        what = f"the new take of shot {task.number}" if task.number else "finishing the film"
        try:
            film = await arender_story(
                self.gallery.client,
                prepared.story,
                output=prepared.film,
                rerender=[task.number] if task.number else [],
                on_shot=seen,
                confirm=confirm,
                cancel=task.cancel,
            )
            logger.info("story %s: %s is done; film %s", task.story, what, film.path)
        except Exception as exc:
            task.error = scrub(str(exc)) or type(exc).__name__
            logger.warning("story %s: %s did not finish: %s", task.story, what, task.error)
        finally:
            task.done.set()
            self.gallery.runner.changes.mark()


@dataclass
class Prepared:
    """A story ready to render: where it was found, the story, its file, the film, the run."""

    found: Found
    story: Story
    source: Path
    film: Path
    run: Any

    def take(self, number: int) -> str | None:
        """The key of the shot's take in the film, as its manifest records it."""
        records = (self.found.manifest or {}).get("shots") or []
        for record in records:
            if isinstance(record, dict) and record.get("number") == number:
                key = record.get("key")
                return str(key) if key else None
        return None


def _story_error(exc: StoryError) -> JSONResponse:
    problems = [
        {"message": p.message, "line": p.line, "shot": p.shot, "field": p.field}
        for p in exc.problems
    ]
    return json_error(422, scrub(str(exc)) or "invalid story", kind="story", problems=problems)
