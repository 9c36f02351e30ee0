"""The story file: a film as a list of shots, with its cast, soundtrack and captions.

A story is plain data. `Story.load()` reads YAML or JSON and remembers where every value
came from (file and line), so a problem found later, by the schema or by a model's own
constraints, is reported at the line that caused it. The JSON Schema that ships with the
package (`story.schema.json`) is generated from these models.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    WithJsonSchema,
    field_validator,
    model_validator,
)

__all__ = [
    "CASTING_NAME",
    "CastMember",
    "Captions",
    "Defaults",
    "Shot",
    "Soundtrack",
    "Story",
    "Transition",
    "Trim",
    "parse_seconds",
]

#: What a cast member's name may look like; a prompt names it as `@Name`.
CASTING_NAME = r"[A-Za-z][A-Za-z0-9_]*"
_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*s?\s*$")
#: The default length of a transition given without one.
DEFAULT_CROSSFADE_S = 0.5
DEFAULT_FADE_S = 0.3


def parse_seconds(value: Any) -> Any:
    """`0.5`, `"0.5"` and `"0.5s"` all mean half a second; anything else is left to fail."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _SECONDS.match(value)
        if match:
            return float(match.group(1))
    return value


Seconds = Annotated[
    float,
    BeforeValidator(parse_seconds),
    Field(ge=0),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^\d+(\.\d+)?s?$"},
            ],
            "description": "Seconds: a number, or a string such as '0.5s'.",
        }
    ),
]


def _duration(value: Any) -> Any:
    # `duration: 5` and `duration: 5s` (YAML reads both) mean the API's "5s".
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value}s"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value)}s"
    return value


DurationText = Annotated[
    str,
    BeforeValidator(_duration),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string"}, {"type": "integer", "minimum": 1}],
            "description": "The clip length the model offers, e.g. '5s' (or 5).",
        }
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Defaults(_Strict):
    """Request values every shot takes unless it gives its own."""

    model: str | None = Field(None, description="The video model id (see `venice-video models`).")
    resolution: str | None = Field(None, description="e.g. '720p'; depends on the model.")
    aspect_ratio: str | None = Field(None, description="e.g. '16:9'; depends on the model.")
    audio: bool | None = Field(None, description="Ask the model for sound (where it can make it).")
    duration: DurationText | None = None
    negative_prompt: str | None = Field(None, description="What to avoid, for every shot.")


class CastMember(_Strict):
    """A character, an object or a place that several shots show, with pictures of it."""

    images: list[str] = Field(
        min_length=1,
        description="Reference pictures: paths (relative to the story file) or URLs. The "
        "first is the main one (for characters and objects, a clear frontal view).",
    )
    kind: Literal["character", "object", "place"] = Field(
        "character",
        description="Places become scene images on models that take them; characters and "
        "objects become elements or reference images.",
    )
    description: str | None = Field(None, description="A note for people; not sent.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `Mara: cast/mara.png` and `Mara: [a.png, b.png]` are short for `images:`.
        if isinstance(value, str):
            return {"images": [value]}
        if isinstance(value, list):
            return {"images": value}
        return value


class Crossfade(_Strict):
    crossfade: Seconds = Field(description="Seconds the two shots overlap, blending.")


class Fade(_Strict):
    fade: Seconds = Field(description="Seconds to fade through black.")


class Transition(BaseModel):
    """How a shot passes to the next one: a cut, a crossfade or a fade through black."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["cut", "crossfade", "fade"] = "cut"
    seconds: float = 0.0


TransitionSpec = Annotated[
    Literal["cut", "crossfade", "fade"] | Crossfade | Fade,
    Field(
        description="Into the next shot: 'cut' (the default), {crossfade: 0.5s}, {fade: 0.3s}; "
        "'crossfade' and 'fade' alone take 0.5 s and 0.3 s."
    ),
]


class Trim(_Strict):
    """Seconds dropped from the start and the end of a shot's clip."""

    start: Seconds = 0.0
    end: Seconds = 0.0


class Shot(_Strict):
    """One clip of the film: one paid generation."""

    name: str | None = Field(
        None, description="A short name, unique in the story (default: shot-N)."
    )
    prompt: str = Field(
        min_length=1, description="What the shot shows; `@Name` brings in a cast member."
    )
    model: str | None = None
    duration: DurationText | None = None
    resolution: str | None = None
    aspect_ratio: str | None = None
    audio: bool | str | None = Field(
        None,
        description="true/false: ask the model for sound or not; a path or URL: an audio "
        "file for models with audio input.",
    )
    negative_prompt: str | None = None
    continue_from: str | None = Field(
        None,
        description="'previous' (or a shot's name): that shot's last frame becomes this "
        "shot's first, so it waits for it; needs an image-to-video model.",
    )
    image: str | None = Field(None, description="The first frame: a path or URL.")
    end_image: str | None = Field(None, description="The last frame: a path or URL.")
    transition: TransitionSpec = "cut"
    line: str | None = Field(None, description="Text spoken or shown in this shot (captions).")
    trim: Trim | None = None
    take: int = Field(1, ge=1, description="Change it to pay for a new take of an unchanged shot.")

    @property
    def transition_out(self) -> Transition:
        """The transition into the next shot, with its length."""
        spec = self.transition
        if isinstance(spec, Crossfade):
            return Transition(kind="crossfade", seconds=spec.crossfade)
        if isinstance(spec, Fade):
            return Transition(kind="fade", seconds=spec.fade)
        if spec == "crossfade":
            return Transition(kind="crossfade", seconds=DEFAULT_CROSSFADE_S)
        if spec == "fade":
            return Transition(kind="fade", seconds=DEFAULT_FADE_S)
        return Transition()

    @field_validator("transition", mode="before")
    @classmethod
    def _transition_text(cls, value: Any) -> Any:
        # `transition: crossfade 0.5s` reads as naturally as the mapping form.
        if isinstance(value, str):
            parts = value.split()
            if len(parts) == 2 and parts[0] in ("crossfade", "fade"):
                return {parts[0]: parts[1]}
        return value


class Soundtrack(_Strict):
    """Music under the whole film, mixed with the shots' own sound."""

    file: str = Field(description="A music file (MP3, WAV, ...): a path, relative to the story.")
    volume: float = Field(1.0, ge=0, le=4, description="Gain applied to the music (1 = as is).")
    fade_in: Seconds = 1.0
    fade_out: Seconds = 1.0
    duck_under_speech: bool = Field(
        False, description="Lower the music while the shots' own sound is loud (speech)."
    )
    duck_db: float = Field(-12.0, le=0, description="How far to lower it, in dB.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"file": value} if isinstance(value, str) else value


class Captions(_Strict):
    """Where captions come from and whether they are drawn into the picture."""

    mode: Literal["script", "transcribe", "none"] = Field(
        "script",
        description="script: each shot's `line`, timed to its shot; transcribe: the film's "
        "speech, transcribed; none: no captions.",
    )
    burn_in: bool = Field(False, description="Draw the captions into the picture.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"mode": value} if isinstance(value, str) else value


class Story(_Strict):
    """A film: shots rendered once each, joined, with music and captions.

    ```python
    story = Story.load("examples/harbour.yaml")
    with VeniceVideo() as client:
        film = client.render_story(story)
    print(film.path, film.cost)
    ```
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    schema_ref: str | None = Field(
        None, alias="$schema", description="The schema's URL, for editors; ignored."
    )
    title: str = Field(min_length=1)
    output: str | None = Field(
        None,
        description="The film's file, relative to the story file (default: the story's "
        "name with .mp4).",
    )
    budget: float | None = Field(
        None, ge=0, description="A hard cap in USD: a story that would cost more spends nothing."
    )
    defaults: Defaults = Field(default_factory=Defaults)
    cast: dict[Annotated[str, Field(pattern=f"^{CASTING_NAME}$")], CastMember] = Field(
        default_factory=dict
    )
    shots: list[Shot] = Field(min_length=1)
    soundtrack: Soundtrack | None = None
    captions: Captions | None = Field(
        None, description="Default: script when any shot has a line, else none."
    )
    fps: int | None = Field(
        None, ge=1, le=120, description="The film's frame rate (default: the first shot's)."
    )
    size: str | None = Field(
        None,
        pattern=r"^\d+x\d+$",
        description="The film's size as WIDTHxHEIGHT (default: the first shot's).",
    )

    _source: Path | None = PrivateAttr(None)
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Story:
        """Read a story from a YAML or JSON file.

        Raises:
            StoryError: the file is unreadable, not YAML/JSON, or breaks the schema; every
                problem is named with the file, the line and the shot.
        """
        from ._load import load_story

        return load_story(Path(path))

    @classmethod
    def from_text(cls, text: str, *, path: str | os.PathLike[str] = "story.yaml") -> Story:
        """Read a story from YAML or JSON text; `path` names it in errors and anchors
        relative paths."""
        from ._load import parse_story

        return parse_story(text, Path(path))

    # ------------------------------------------------------------------ where things are

    @property
    def source(self) -> Path | None:
        """The file the story was read from, if any."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """Relative paths in the story are taken from here: the story file's directory."""
        return (self._source.parent if self._source is not None else Path.cwd()).absolute()

    def line_of(self, *path: str | int) -> int | None:
        """The line of the file a value came from (its nearest known ancestor's if need be)."""
        for end in range(len(path), -1, -1):
            found = self._lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None

    def shot_names(self) -> list[str]:
        """Every shot's name, `shot-N` for the unnamed."""
        return [s.name or f"shot-{i + 1}" for i, s in enumerate(self.shots)]

    @property
    def captions_mode(self) -> Literal["script", "transcribe", "none"]:
        if self.captions is not None:
            return self.captions.mode
        return "script" if any(s.line for s in self.shots) else "none"

    def output_path(self) -> Path:
        """Where the film goes unless told otherwise."""
        if self.output:
            path = Path(self.output).expanduser()
            return path if path.is_absolute() else self.base_dir / path
        stem = self._source.stem if self._source is not None else _slug(self.title)
        return self.base_dir / f"{stem}.mp4"

    def resolve_path(self, value: str) -> Path:
        """A path given in the story, made absolute from the story file's directory."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "film"
