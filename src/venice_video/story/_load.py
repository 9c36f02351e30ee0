"""Reading a story file: YAML or JSON to a `Story`, keeping the line of every value.

The YAML is composed into nodes first (each knows its line), then turned into plain data
while a map from each value's path (`("shots", 2, "duration")`) to its line is filled in.
Schema errors from pydantic carry the same paths, so each is reported at its line, with the
shot it belongs to, and an unknown field with the closest known one.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import pydantic
from pydantic import BaseModel

from ._errors import Problem, StoryError, problem_at
from ._model import Story

__all__ = ["load_story", "parse_story"]

Path_ = tuple[str | int, ...]
_MAX_DEPTH = 64


def load_story(path: Path) -> Story:
    """Read and check the schema of the story at `path`."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise StoryError([Problem("no such story file", file=path)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StoryError([Problem(f"cannot read the story file: {exc}", file=path)]) from None
    return parse_story(text, path)


def parse_story(text: str, path: Path) -> Story:
    """Parse YAML or JSON `text` (named `path` in errors) into a `Story`."""
    data, lines = _parse(text, path)
    if not isinstance(data, Mapping):
        raise StoryError([Problem("a story is a mapping with title and shots", file=path, line=1)])
    try:
        story = Story.model_validate(data)
    except pydantic.ValidationError as exc:
        probe = Story.model_construct(title="", shots=[])
        probe._source = path
        probe._lines = lines
        # Shots are named in messages when the list at least parsed.
        shots = data.get("shots")
        if isinstance(shots, list):
            probe.shots = [_Named(s.get("name") if isinstance(s, Mapping) else None) for s in shots]  # type: ignore[misc]
        raise StoryError(_problems(exc, probe, data)) from None
    story._source = path
    story._lines = lines
    return story


class _Named:
    """Just enough of a shot to name it in an error, when the story did not validate."""

    def __init__(self, name: object) -> None:
        self.name = name if isinstance(name, str) else None


# ------------------------------------------------------------------ parsing with lines


def _parse(text: str, path: Path) -> tuple[Any, dict[Path_, int]]:

    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StoryError(
                [
                    Problem(
                        f"not valid JSON: {exc.msg} (column {exc.colno})",
                        file=path,
                        line=exc.lineno,
                    )
                ]  # fmt: skip
            ) from None
        try:  # JSON is YAML: read it again for the lines
            _, lines = _from_yaml(text, path)
        except StoryError:
            lines = {}
        return data, lines
    return _from_yaml(text, path)


def _from_yaml(text: str, path: Path) -> tuple[Any, dict[Path_, int]]:
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "invalid YAML"
        raise StoryError(
            [
                Problem(
                    f"not valid YAML: {reason}",
                    file=path,
                    line=mark.line + 1 if mark is not None else None,
                )
            ]  # fmt: skip
        ) from None
    except yaml.YAMLError as exc:
        raise StoryError([Problem(f"not valid YAML: {exc}", file=path)]) from None
    if node is None:
        raise StoryError([Problem("the story file is empty", file=path, line=1)])
    lines: dict[Path_, int] = {(): node.start_mark.line + 1}
    problems: list[Problem] = []
    builder = _Builder(yaml.SafeLoader(""), lines, problems, path)
    data = builder.build(node, ())
    if problems:
        raise StoryError(problems)
    return data, lines


class _Builder:
    def __init__(self, loader: Any, lines: dict[Path_, int], problems: list[Problem], file: Path):
        self.loader = loader
        self.lines = lines
        self.problems = problems
        self.file = file

    def build(self, node: Any, path: Path_) -> Any:
        import yaml

        if len(path) > _MAX_DEPTH:
            raise StoryError([Problem("the story nests too deeply", file=self.file)])
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) or key is None:
                    self.problems.append(
                        Problem(
                            "a key must be plain text",
                            file=self.file,
                            line=key_node.start_mark.line + 1,
                        )  # fmt: skip
                    )
                    continue
                name = str(key)
                line = key_node.start_mark.line + 1
                if name in out:
                    self.problems.append(
                        Problem(
                            f"{name!r} is given twice (also on line {self.lines[(*path, name)]})",
                            file=self.file,
                            line=line,
                        )  # fmt: skip
                    )
                    continue
                self.lines[(*path, name)] = line
                out[name] = self.build(value_node, (*path, name))
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.lines[(*path, index)] = item.start_mark.line + 1
                items.append(self.build(item, (*path, index)))
            return items
        return self.loader.construct_object(node, deep=True)


# ------------------------------------------------------------------ schema errors


def _problems(
    exc: pydantic.ValidationError, story: Story, data: Mapping[str, Any]
) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[Path_, str]] = set()
    for error in exc.errors():
        loc = _clean_loc(error["loc"])
        message = _message(error, loc, data)
        if message is None or (loc, message) in seen:
            continue
        seen.add((loc, message))
        problems.append(problem_at(story, loc, message))
    problems.sort(key=lambda p: p.line or 0)
    return problems


def _clean_loc(loc: tuple[Any, ...]) -> Path_:
    # pydantic adds the names of union members ("Crossfade", "literal['cut',...]") to paths.
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, int):
            out.append(part)
        elif isinstance(part, str) and not (
            part[:1].isupper() or part.startswith(("literal[", "function-", "str", "bool", "[key]"))
        ):
            out.append(part)
    return tuple(out)


def _message(error: Mapping[str, Any], loc: Path_, data: Mapping[str, Any]) -> str | None:
    kind = error["type"]
    field = str(loc[-1]) if loc else "story"
    if kind == "extra_forbidden":
        known = _known_fields(loc[:-1])
        close = difflib.get_close_matches(field, known, n=1, cutoff=0.5)
        where = _place(loc[:-1])
        if close:
            return f"unknown field {field!r} in {where} (did you mean {close[0]!r}?)"
        return f"unknown field {field!r} in {where}; known fields: {', '.join(known)}"
    if kind == "missing":
        return f"{field!r} is required in {_place(loc[:-1])}"
    if field == "transition" or "transition" in loc:
        value = _lookup(data, loc)
        return (
            f"transition {value!r} is not one of: cut, crossfade, fade, {{crossfade: 0.5s}}, "
            "{fade: 0.3s}"
        )
    if kind in ("literal_error", "enum"):
        expected = error.get("ctx", {}).get("expected", "")
        return f"{field}: {error['input']!r} is not one of {expected}"
    if kind == "string_pattern_mismatch" and len(loc) == 2 and loc[0] == "cast":
        return (
            f"cast name {loc[1]!r} must be a letter followed by letters, digits or _ "
            "(a prompt names it as @Name)"
        )
    return f"{field}: {error['msg']}"


def _place(loc: Path_) -> str:
    if not loc:
        return "the story"
    if loc[0] == "shots" and len(loc) >= 2:
        rest = ".".join(str(p) for p in loc[2:])
        return f"the shot's {rest}" if rest else "a shot"
    if loc[0] == "cast" and len(loc) >= 2:
        return f"cast member {loc[1]!r}"
    return ".".join(str(p) for p in loc)


def _lookup(data: Any, loc: Path_) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _known_fields(loc: Path_) -> list[str]:
    """The field names allowed at `loc`, found by walking the models' annotations."""
    current: Any = Story
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    models = [m for m in _members(current) if isinstance(m, type) and issubclass(m, BaseModel)]
    names: list[str] = []
    for model in models:
        for name, info in model.model_fields.items():
            names.append(info.alias or name)
    return sorted(set(names))


def _step(current: Any, part: str | int) -> Any:
    for member in _members(current):
        if isinstance(member, type) and issubclass(member, BaseModel) and isinstance(part, str):
            info = member.model_fields.get(part)
            if info is not None:
                return info.annotation
        origin = get_origin(member)
        if origin in (list, tuple) and isinstance(part, int):
            return get_args(member)[0]
        if origin is dict and isinstance(part, str):
            return get_args(member)[1]
    return None


def _members(annotation: Any) -> list[Any]:
    """The types an annotation may hold: union members, with `Annotated` unwrapped."""
    if get_origin(annotation) is typing.Annotated:
        return _members(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        found: list[Any] = []
        for arg in get_args(annotation):
            found += _members(arg)
        return found
    return [annotation]
