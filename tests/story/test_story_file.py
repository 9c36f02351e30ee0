"""The story file: YAML and JSON, short forms, the shipped schema, and errors at their line."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from story_helpers import EXAMPLES

from venice_video.story import Story, StoryError
from venice_video.story._schema import schema, schema_text

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "src/venice_video/story/story.schema.json"

MINIMAL = """\
title: Two shots
shots:
  - prompt: A quiet harbour
  - prompt: Boats leave at dawn
"""


def test_the_shipped_schema_is_the_generated_one() -> None:
    assert SCHEMA_FILE.read_text("utf-8") == schema_text(), (
        "regenerate it: venice-video story schema > src/venice_video/story/story.schema.json"
    )


def test_the_example_and_the_short_forms_validate_against_the_schema() -> None:
    checker = jsonschema.Draft202012Validator(schema())
    example = yaml.safe_load((EXAMPLES / "lighthouse.yaml").read_text("utf-8"))
    assert list(checker.iter_errors(example)) == []
    short = {
        "title": "t",
        "cast": {"Mara": "mara.png", "Harbour": ["a.png", "b.png"]},
        "shots": [{"prompt": "p", "transition": "crossfade 0.5s", "duration": 5}],
        "soundtrack": "music.mp3",
        "captions": "transcribe",
    }
    assert list(checker.iter_errors(short)) == []
    assert list(checker.iter_errors({"title": "t", "shots": [{"prompt": "p", "nope": 1}]}))


def test_short_forms_mean_the_long_ones(tmp_path: Path) -> None:
    story = Story.from_text(
        """\
title: Short
cast:
  Mara: mara.png
soundtrack: music.mp3
captions: script
shots:
  - prompt: "@Mara waves"
    duration: 5
    transition: crossfade 0.75s
  - prompt: two
    transition: {fade: 0.4s}
  - prompt: three
    transition: crossfade
    trim: {start: 0.5, end: 0.25s}
""",
        path=tmp_path / "short.yaml",
    )
    assert story.cast["Mara"].images == ["mara.png"]
    assert story.soundtrack is not None and story.soundtrack.file == "music.mp3"
    assert story.captions_mode == "script"
    first, second, third = story.shots
    assert first.duration == "5s"
    assert (first.transition_out.kind, first.transition_out.seconds) == ("crossfade", 0.75)
    assert (second.transition_out.kind, second.transition_out.seconds) == ("fade", 0.4)
    assert third.transition_out.seconds == 0.5  # the default crossfade
    assert third.trim is not None and (third.trim.start, third.trim.end) == (0.5, 0.25)
    assert story.output_path() == tmp_path.absolute() / "short.mp4"
    assert story.resolve_path("mara.png") == tmp_path.absolute() / "mara.png"


def test_json_is_accepted_and_keeps_lines(tmp_path: Path) -> None:
    path = tmp_path / "story.json"
    path.write_text(json.dumps(yaml.safe_load(MINIMAL), indent=2), "utf-8")
    story = Story.load(path)
    assert [s.prompt for s in story.shots] == ["A quiet harbour", "Boats leave at dawn"]
    assert story.line_of("shots", 1, "prompt") == 8


def test_captions_default_to_script_only_when_a_shot_has_a_line() -> None:
    assert Story.from_text(MINIMAL).captions_mode == "none"
    with_line = MINIMAL.replace("  - prompt: A quiet harbour", "  - prompt: A quiet harbour\n"
                                "    line: Hello")  # fmt: skip
    assert Story.from_text(with_line).captions_mode == "script"


def _problems(text: str, name: str = "bad.yaml") -> list[str]:
    with pytest.raises(StoryError) as caught:
        Story.from_text(text, path=name)
    return [str(p) for p in caught.value.problems]


def test_unknown_fields_are_named_at_their_line_with_a_close_match() -> None:
    found = _problems(
        """\
title: Typos
defaults:
  duraton: 5s
shots:
  - prompt: one
  - name: second
    prompt: two
    continue_form: previous
"""
    )
    assert found == [
        "bad.yaml:3: unknown field 'duraton' in defaults (did you mean 'duration'?)",
        "bad.yaml:8: shot 2 (second): unknown field 'continue_form' in a shot "
        "(did you mean 'continue_from'?)",
    ]


def test_yaml_errors_name_the_line() -> None:
    (found,) = _problems("title: Broken\nshots:\n  - prompt: [unclosed\n  - prompt: two\n")
    assert found.startswith("bad.yaml:4: not valid YAML")


def test_json_errors_name_the_line(tmp_path: Path) -> None:
    (found,) = _problems('{"title": "x",\n "shots": [\n  {"prompt": "a",}\n ]}', "bad.json")
    assert found.startswith("bad.json:3: not valid JSON")


def test_bad_values_and_duplicate_keys_are_reported_together() -> None:
    found = _problems(
        """\
title: Values
cast:
  2fast: a.png
shots:
  - prompt: one
    transition: wipe
    prompt: again
  - prompt: ""
"""
    )
    assert any(p.startswith("bad.yaml:7:") and "given twice" in p for p in found), found
    found = _problems(MINIMAL + "cast:\n  2fast: a.png\n  - bad\n")
    assert found and all(p.startswith("bad.yaml:") for p in found)
    found = _problems(
        "title: Values\ncast:\n  2fast: a.png\nshots:\n  - prompt: one\n    transition: wipe\n"
        "  - prompt: ''\n    take: 0\n"
    )
    assert "bad.yaml:3: cast name '2fast' must be a letter" in found[0]
    assert found[1].startswith("bad.yaml:6: shot 1: transition 'wipe' is not one of")
    assert found[2].startswith("bad.yaml:7: shot 2: prompt:")
    assert found[3].startswith("bad.yaml:8: shot 2: take:")


def test_a_missing_file_is_a_story_error(tmp_path: Path) -> None:
    with pytest.raises(StoryError, match="no such story file"):
        Story.load(tmp_path / "nowhere.yaml")
