"""Planning: each shot's resolved request, its identity, and the order shots can run in.

Everything here is offline and free. A shot is identified by a digest of what it asks the
model for: the resolved request (defaults applied, cast mapped, prompt rewritten) with each
local input replaced by the digest of its bytes, its take number, and, for a chained shot,
its predecessor's digest. Editing a shot changes its digest and the digests of the shots
chained after it, and nothing else, so only those are rendered again.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._catalog import Catalog, VideoModel
from .._exceptions import InputError
from .._inputs import is_url, resolve_media
from .._validation import Issue, validate_queue
from ._cast import map_cast
from ._errors import Problem, StoryError, problem_at
from ._frames import audio_seconds, image_size
from ._model import Shot, Story, Transition

__all__ = ["PlannedShot", "StoryPlan", "plan_story"]

#: Bumped when the meaning of a digest changes, so old shots are not reused by mistake.
DIGEST_VERSION = "venice-video-story-shot/1"
_PLACEHOLDER_IMAGE = "data:image/png;base64,iVBORw0KGgo="
_PLACEHOLDER_AUDIO = "data:audio/wav;base64,UklGRg=="
_QUOTED = ("model", "duration", "resolution", "aspect_ratio", "audio")


@dataclass(frozen=True)
class PlannedShot:
    """One shot, resolved: what will be asked for, and what it waits for.

    Attributes:
        index: the shot's place in the film, from 0.
        name: its name (`shot-N` when unnamed).
        model: the model it is rendered with.
        fields: the `generate()` arguments (local inputs as absolute paths), without the
            first frame of a chained shot, which exists only once its predecessor is done.
        after: the index of the shot whose last frame this one starts from, if any.
        digest: the shot's identity (hex SHA-256).
        duration_s: the requested length in seconds, when the model takes one.
        transition: into the next shot.
        trim: seconds dropped at the start and the end.
        line: the caption text.
        cast: the cast members the shot shows.
    """

    index: int
    name: str
    model: str
    fields: dict[str, Any]
    after: int | None
    digest: str
    duration_s: float | None
    transition: Transition
    trim: tuple[float, float]
    line: str | None
    cast: tuple[str, ...] = ()

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def quote_fields(self) -> dict[str, Any]:
        """The fields `/video/quote` prices."""
        return {k: self.fields[k] for k in _QUOTED if self.fields.get(k) is not None}

    def key(self, api_id: str) -> str:
        """The journal key (and `Idempotency-Key`) of this shot's job against one API (its
        API id: the cleaned base URL, or the local engine's folder)."""
        text = f"{self.digest}:{api_id.rstrip('/')}"
        return "story-" + hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class StoryPlan:
    """A checked story: its shots resolved, identified and ordered.

    Attributes:
        story: the story.
        shots: every shot, in film order.
        waves: groups of shot indexes that can run at once; each waits for the one before.
        story_id: a short id of the story file, kept in the journal's tags.
    """

    story: Story
    shots: tuple[PlannedShot, ...]
    waves: tuple[tuple[int, ...], ...]
    story_id: str
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> list[str]:
        """The plan in words: each shot, and which run at once."""
        out = []
        for shot in self.shots:
            inputs = _inputs_text(shot, self)
            length = f"{shot.duration_s:g}s" if shot.duration_s is not None else "auto"
            out.append(f"shot {shot.number} {shot.name}: {shot.model}, {length}{inputs}")
        first = ", ".join(str(i + 1) for i in self.waves[0]) if self.waves else ""
        out.append(f"at once: shot{'s' if len(self.waves[0]) > 1 else ''} {first}")
        for shot in self.shots:
            if shot.after is not None:
                out.append(f"shot {shot.number} waits for shot {shot.after + 1}")
        return out


def _inputs_text(shot: PlannedShot, plan: StoryPlan) -> str:
    parts = []
    if shot.after is not None:
        parts.append(f"starts from shot {shot.after + 1}'s last frame")
    for name in ("image", "end_image", "audio_input"):
        if shot.fields.get(name) is not None:
            parts.append(name.replace("_input", ""))
    if shot.cast:
        parts.append("cast " + ", ".join("@" + n for n in shot.cast))
    return f" ({'; '.join(parts)})" if parts else ""


# ------------------------------------------------------------------ planning


def plan_story(story: Story, catalog: Catalog, *, check_inputs: bool = True) -> StoryPlan:
    """Check a story against the models and resolve every shot. Offline and free.

    Raises:
        StoryError: every problem found, each with its file, line and shot.
    """
    return _Planner(story, catalog, check_inputs).run()


class _Planner:
    def __init__(self, story: Story, catalog: Catalog, check_inputs: bool) -> None:
        self.story = story
        self.catalog = catalog
        self.check_inputs = check_inputs
        self.problems: list[Problem] = []
        self.names = story.shot_names()
        self.hashes: dict[Path, str | None] = {}
        self.durations: dict[int, float | None] = {}

    def problem(
        self, path: tuple[str | int, ...], message: str, *, shot: int | None = None
    ) -> None:
        self.problems.append(problem_at(self.story, path, message, shot=shot))

    def run(self) -> StoryPlan:
        story = self.story
        self.check_names()
        after = self.chains()
        resolved: dict[int, tuple[dict[str, Any], VideoModel, tuple[str, ...]]] = {}
        for index, shot in enumerate(story.shots):
            found = self.resolve(index, shot, after.get(index))
            if found is not None:
                resolved[index] = found
        self.check_transitions()
        self.check_soundtrack()
        if self.problems:
            unique = list(dict.fromkeys(self.problems))  # a cast picture used by many shots
            unique.sort(key=lambda p: (p.line or 0, p.shot or 0))
            raise StoryError(unique)
        digests: dict[int, str] = {}
        for index in _topological(len(story.shots), after):
            fields, model, _ = resolved[index]
            digests[index] = self.digest(
                story.shots[index], fields, digests.get(after.get(index, -1))
            )
        shots = []
        for index, shot in enumerate(story.shots):
            fields, model, cast = resolved[index]
            trim = shot.trim
            shots.append(
                PlannedShot(
                    index=index,
                    name=self.names[index],
                    model=model.id,
                    fields=fields,
                    after=after.get(index),
                    digest=digests[index],
                    duration_s=_seconds(fields.get("duration")),
                    transition=shot.transition_out,
                    trim=(trim.start, trim.end) if trim is not None else (0.0, 0.0),
                    line=shot.line,
                    cast=cast,
                )
            )
        return StoryPlan(
            story=story,
            shots=tuple(shots),
            waves=_waves(len(shots), after),
            story_id=story_id(story),
        )

    # --- names and chains -----------------------------------------------------------

    def check_names(self) -> None:
        seen: dict[str, int] = {}
        for index, shot in enumerate(self.story.shots):
            if shot.name is None:
                continue
            if shot.name in seen:
                other = seen[shot.name] + 1
                self.problem(("shots", index, "name"), f"the name {shot.name!r} is shot {other}'s")
            seen.setdefault(shot.name, index)

    def chains(self) -> dict[int, int]:
        """`{shot: the shot it continues from}`; cycles and bad names are problems."""
        after: dict[int, int] = {}
        for index, shot in enumerate(self.story.shots):
            ref = shot.continue_from
            if ref is None:
                continue
            where = ("shots", index, "continue_from")
            if ref == "previous":
                if index == 0:
                    self.problem(where, "the first shot has no previous shot to continue from")
                    continue
                after[index] = index - 1
            elif ref in self.names:
                target = self.names.index(ref)
                if target == index:
                    self.problem(where, "a shot cannot continue from itself")
                    continue
                after[index] = target
            else:
                close = difflib.get_close_matches(ref, self.names, n=1, cutoff=0.5)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.problem(where, f"continue_from {ref!r} is neither 'previous' nor a shot's "
                             f"name{hint}")  # fmt: skip
        looping: set[int] = set()
        for start in after:
            seen = [start]
            node = after.get(start)
            while node is not None:
                if node in seen:
                    if node == start:
                        loop = " -> ".join(self.names[i] for i in [*seen, node])
                        self.problem(("shots", start, "continue_from"),
                                     f"continue_from makes a cycle: {loop}")  # fmt: skip
                    looping.add(start)
                    break
                seen.append(node)
                node = after.get(node)
        return {k: v for k, v in after.items() if k not in looping}

    # --- one shot -----------------------------------------------------------------------

    def value(self, index: int, name: str) -> tuple[Any, tuple[str | int, ...] | None]:
        """A request value and where it was set: on the shot, else in `defaults`."""
        shot = self.story.shots[index]
        own = getattr(shot, name, None)
        if name == "audio" and isinstance(own, str):
            own = None  # a file, not the flag
        if own is not None:
            return own, ("shots", index, name)
        default = getattr(self.story.defaults, name, None)
        if default is not None:
            return default, ("defaults", name)
        return None, None

    def resolve(
        self, index: int, shot: Shot, after: int | None
    ) -> tuple[dict[str, Any], VideoModel, tuple[str, ...]] | None:
        at = ("shots", index)
        model_id, _ = self.value(index, "model")
        if model_id is None:
            self.problem((*at, "model"), "no model: give the shot a model, or defaults.model")
            return None
        model = self.catalog.get(model_id)
        if model is None:
            hint = self.catalog.suggest(model_id, n=1)
            where = (*at, "model") if shot.model else ("defaults", "model")
            more = f" (did you mean {hint[0]!r}?)" if hint else ""
            self.problem(where, f"unknown model {model_id!r}{more}")
            return None
        fields: dict[str, Any] = {"model": model.id}
        origins: dict[str, tuple[str | int, ...]] = {"model": (*at, "model")}
        for name in ("duration", "resolution", "aspect_ratio", "audio", "negative_prompt"):
            value, origin = self.value(index, name)
            if value is None or origin is None:
                continue
            if origin[0] == "defaults" and not _takes(model, name):
                continue  # a default the model has no use for is left out, not an error
            fields[name] = value
            origins[name] = origin
        if "duration" not in fields and not model.auto_duration and model.durations:
            fields["duration"] = _shortest(model.durations)
        self.durations[index] = _seconds(fields.get("duration"))
        if after is not None and model.model_type != "image-to-video":
            self.problem((*at, "continue_from"), _chain_problem(model, self.catalog))
        frames = int(after is not None or shot.image is not None) + int(shot.end_image is not None)
        refs = map_cast(shot.prompt, self.story.cast, model, self.catalog, frames_given=frames)
        for message in refs.problems:
            self.problem((*at, "prompt"), message)
        fields["prompt"] = refs.prompt
        media_ok = True
        for name, value in (("image", shot.image), ("end_image", shot.end_image)):
            if value is not None:
                fields[name] = self.media(value, "image", (*at, name))
                media_ok &= fields[name] is not None
        if isinstance(shot.audio, str):
            fields["audio_input"] = self.media(shot.audio, "audio", (*at, "audio"))
            media_ok &= fields["audio_input"] is not None
        cast_images = [
            self.cast_image(value, name, model, at)
            for name in refs.used
            for value in self.story.cast[name].images
        ]
        media_ok &= all(v is not None for v in cast_images)
        place = self.local
        if refs.reference_images:
            fields["reference_images"] = [place(v) for v in refs.reference_images]
        if refs.scene_images:
            fields["scene_images"] = [place(v) for v in refs.scene_images]
        if refs.elements:
            elements: list[dict[str, Any]] = []
            for frontal, views in refs.elements:
                element: dict[str, Any] = {"frontal_image_url": place(frontal)}
                if views:
                    element["reference_image_urls"] = [place(v) for v in views]
                elements.append(element)
            fields["elements"] = elements
        if media_ok and not refs.problems:
            self.validate(index, shot, fields, origins, chained=after is not None)
        return fields, model, refs.used

    def local(self, value: str) -> str | Path:
        """A story's path made absolute; a URL as it is."""
        return value if is_url(value) else self.story.resolve_path(value)

    def media(self, value: str, kind: str, where: tuple[str | int, ...]) -> str | Path | None:
        if is_url(value):
            return value
        path = self.story.resolve_path(value)
        if not self.check_inputs:
            return path
        try:
            resolve_media(path, "image" if kind == "image" else "audio", field=where[-1].__str__())
            if kind == "image":
                image_size(path.read_bytes())
        except (InputError, ValueError, OSError) as exc:
            self.problem(where, _input_message(value, path, exc))
            return None
        return path

    def cast_image(
        self, value: str, name: str, model: VideoModel, at: tuple[str | int, ...]
    ) -> str | Path | None:
        if is_url(value):
            return value
        where = ("cast", name, "images")
        path = self.story.resolve_path(value)
        if not self.check_inputs:
            return path
        try:
            width, height = image_size(path.read_bytes())
        except FileNotFoundError:
            self.problem(where, f"@{name}'s picture {value} does not exist")
            return None
        except (ValueError, OSError) as exc:
            self.problem(where, f"@{name}'s picture {value} cannot be used: {exc}")
            return None
        low = model.reference_image_min_short_side_pixels
        if low is not None and min(width, height) < low:
            self.problem((*at, "prompt"), f"@{name}'s picture {value} is {width}x{height}; "
                         f"{model.id} needs at least {low} px on the short side")  # fmt: skip
        ratio = width / height
        lo, hi = model.reference_image_min_aspect_ratio, model.reference_image_max_aspect_ratio
        if (lo is not None and ratio < lo) or (hi is not None and ratio > hi):
            self.problem((*at, "prompt"), f"@{name}'s picture {value} has aspect ratio "
                         f"{ratio:.2f}; {model.id} takes {lo} to {hi}")  # fmt: skip
        return path

    def validate(
        self,
        index: int,
        shot: Shot,
        fields: Mapping[str, Any],
        origins: Mapping[str, tuple[str | int, ...]],
        *,
        chained: bool,
    ) -> None:
        """The SDK's own check of the request, with placeholders for media."""
        body: dict[str, Any] = {k: v for k, v in fields.items() if k in _WIRE}
        body["prompt"] = fields["prompt"]
        model = self.catalog.get(str(fields["model"]))
        if "image" in fields or (
            chained and model is not None and model.model_type != "text-to-video"
        ):
            body["image_url"] = _PLACEHOLDER_IMAGE
        if "end_image" in fields:
            body["end_image_url"] = _PLACEHOLDER_IMAGE
        if "audio_input" in fields:
            body["audio_url"] = _PLACEHOLDER_AUDIO
        if "reference_images" in fields:
            body["reference_image_urls"] = [_PLACEHOLDER_IMAGE] * len(fields["reference_images"])
        if "scene_images" in fields:
            body["scene_image_urls"] = [_PLACEHOLDER_IMAGE] * len(fields["scene_images"])
        if "elements" in fields:
            body["elements"] = [
                {"frontal_image_url": _PLACEHOLDER_IMAGE,
                 **({"reference_image_urls": [_PLACEHOLDER_IMAGE] * len(e["reference_image_urls"])}
                    if "reference_image_urls" in e else {})}
                for e in fields["elements"]
            ]  # fmt: skip
        at = ("shots", index)
        for issue in validate_queue(body, self.catalog):
            head = str(issue.path[0]) if issue.path else ""
            where = _ISSUE_FIELDS.get(head)
            path: tuple[str | int, ...]
            if where is None:
                path = at
            elif where in origins:
                path = origins[where]
            else:
                path = (*at, where)
            if head == "image_url" and chained and shot.image is None:
                path = (*at, "continue_from")
            self.problem(path, _issue_text(issue), shot=index)

    # --- transitions, soundtrack ------------------------------------------------------

    def check_transitions(self) -> None:
        shots = self.story.shots
        for index, shot in enumerate(shots):
            move = shot.transition_out
            where = ("shots", index, "transition")
            if move.kind == "crossfade" and index == len(shots) - 1:
                self.problem(where, "the last shot has no next shot to crossfade into "
                             "(a fade at the end fades the film out)")  # fmt: skip
            trim = shot.trim
            if trim is not None and trim.start + trim.end > 0:
                seconds = self.durations.get(index)
                if seconds is not None and trim.start + trim.end >= seconds:
                    self.problem(("shots", index, "trim"), f"trimming {trim.start + trim.end:g}s "
                                 f"leaves nothing of a {seconds:g}s shot")  # fmt: skip

    def check_soundtrack(self) -> None:
        track = self.story.soundtrack
        if track is None:
            return
        where = (
            ("soundtrack", "file")
            if ("soundtrack", "file") in self.story._lines
            else ("soundtrack",)
        )
        if is_url(track.file):
            self.problem(where, "the soundtrack is mixed in here, so it must be a local file")
            return
        if not self.check_inputs:
            return
        path = self.story.resolve_path(track.file)
        if not path.is_file():
            self.problem(where, f"the soundtrack {track.file} does not exist")
            return
        try:
            audio_seconds(path)
        except ValueError as exc:
            self.problem(where, f"the soundtrack {track.file} cannot be used: {exc}")

    # --- identity -----------------------------------------------------------------------

    def digest(self, shot: Shot, fields: Mapping[str, Any], before: str | None) -> str:
        content = {
            "version": DIGEST_VERSION,
            "request": _canonical(fields, self.file_digest),
            "take": shot.take,
            "continues": before,
        }
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def file_digest(self, path: Path) -> str:
        if path not in self.hashes:
            try:
                self.hashes[path] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                self.hashes[path] = None
        found = self.hashes[path]
        return f"sha256:{found}" if found else f"missing:{path}"


_WIRE = ("model", "duration", "resolution", "aspect_ratio", "audio", "negative_prompt")
#: Request fields the API names, and the story field that sets each.
_ISSUE_FIELDS = {
    "model": "model",
    "prompt": "prompt",
    "negative_prompt": "negative_prompt",
    "duration": "duration",
    "resolution": "resolution",
    "aspect_ratio": "aspect_ratio",
    "audio": "audio",
    "image_url": "image",
    "end_image_url": "end_image",
    "audio_url": "audio",
    "reference_image_urls": "prompt",
    "elements": "prompt",
    "scene_image_urls": "prompt",
}


def _takes(model: VideoModel, name: str) -> bool:
    """Whether a model has any use for a request field a story default sets."""
    if name == "aspect_ratio":
        return bool(model.aspect_ratios)
    if name == "resolution":
        return bool(model.resolutions) and not model.is_upscale
    if name == "audio":
        return model.audio
    return True


def _issue_text(issue: Issue) -> str:
    text = issue.message
    if issue.suggestion is not None and "did you mean" not in text:
        text += f" (did you mean {issue.suggestion!r}?)"
    return text


def _input_message(value: str, path: Path, exc: BaseException) -> str:
    text = str(exc).replace(str(path), value)
    # resolve_media's messages start with the field name; the location says that already.
    head, sep, rest = text.partition(": ")
    if sep and " " not in head:
        text = rest
    return f"{value}: {text}" if value not in text else text


def _chain_problem(model: VideoModel, catalog: Catalog) -> str:
    sibling = model.id.replace("text-to-video", "image-to-video")
    hint = ""
    if sibling != model.id and sibling in catalog:
        hint = f" (did you mean {sibling!r}?)"
    else:
        some = [m.id for m in catalog.filter(model_type="image-to-video")][:6]
        hint = f"; image-to-video models include {', '.join(some)}"
    return (
        f"continue_from starts this shot from the previous shot's last frame, which needs an "
        f"image-to-video model; {model.id} is {model.model_type}{hint}"
    )


def _canonical(value: Any, file_digest: Callable[[Path], str]) -> Any:
    if isinstance(value, Path):
        return file_digest(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical(v, file_digest) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v, file_digest) for v in value]
    return value


def _seconds(value: Any) -> float | None:
    if isinstance(value, str) and value.endswith("s") and value[:-1].replace(".", "").isdigit():
        return float(value[:-1])
    return None


def _shortest(durations: tuple[str, ...]) -> str:
    seconds = [d for d in durations if _seconds(d) is not None]
    return min(seconds, key=lambda d: _seconds(d) or 0.0) if seconds else durations[0]


def _topological(count: int, after: Mapping[int, int]) -> list[int]:
    order: list[int] = []
    done: set[int] = set()

    def visit(index: int) -> None:
        if index in done:
            return
        if index in after:
            visit(after[index])
        done.add(index)
        order.append(index)

    for index in range(count):
        visit(index)
    return order


def _waves(count: int, after: Mapping[int, int]) -> tuple[tuple[int, ...], ...]:
    depth: dict[int, int] = {}
    for index in _topological(count, after):
        depth[index] = depth[after[index]] + 1 if index in after else 0
    levels = max(depth.values(), default=-1) + 1
    return tuple(tuple(i for i in range(count) if depth[i] == level) for level in range(levels))


def story_id(story: Story) -> str:
    """A short, stable id for the story: its file's absolute path, else its title."""
    source = story.source
    text = str(source.resolve()) if source is not None else f"title:{story.title}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]
