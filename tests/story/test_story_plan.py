"""Planning, offline: each shot checked against its model, the cast mapped to the model's own
fields and tokens, shot identities, and the order shots run in."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from story_helpers import copy_example, edit

from venice_video._catalog import bundled_catalog
from venice_video.story import Story, StoryError, StoryPlan, plan_story

CATALOG = bundled_catalog()


def plan(path: Path) -> StoryPlan:
    return plan_story(Story.load(path), CATALOG)


def problems(path: Path) -> list[str]:
    """The problems found, with the story's folder left out of the file names."""
    with pytest.raises(StoryError) as caught:
        plan(path)
    return [str(p).replace(f"{path.parent}/", "") for p in caught.value.problems]


def write(tmp_path: Path, text: str, name: str = "story.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def picture(path: Path, size: tuple[int, int] = (320, 320)) -> Path:
    Image.new("RGB", size, (200, 120, 40)).save(path)
    return path


def test_the_example_plans_six_shots_with_a_chain(story_file: Path) -> None:
    found = plan(story_file)
    assert [s.model for s in found.shots] == [
        "vidu-q3-text-to-video", "pixverse-c1-reference-to-video", "vidu-q3-text-to-video",
        "vidu-q3-image-to-video", "vidu-q3-image-to-video", "vidu-q3-text-to-video",
    ]  # fmt: skip
    assert [s.after for s in found.shots] == [None, None, None, 2, 3, None]
    assert found.waves == ((0, 1, 2, 5), (3,), (4,))
    keeper = found.shots[1]
    assert keeper.cast == ("Keeper", "Lighthouse")
    assert keeper.fields["prompt"] == "@Image1 climbs the spiral stairs of @Image2, lantern in hand"
    assert [p.name for p in keeper.fields["reference_images"]] == ["keeper.png", "lighthouse.png"]
    # A default the model has no use for (image-to-video models take no aspect ratio) is
    # left out rather than refused.
    assert "aspect_ratio" not in found.shots[3].fields
    assert found.shots[0].quote_fields == {
        "model": "vidu-q3-text-to-video", "duration": "3s", "resolution": "360p",
        "aspect_ratio": "16:9", "audio": True,
    }  # fmt: skip
    text = "\n".join(found.describe())
    assert "at once: shots 1, 2, 3, 6" in text and "shot 5 waits for shot 4" in text


def test_editing_an_unchained_shot_changes_only_its_identity(story_file: Path) -> None:
    before = [s.digest for s in plan(story_file).shots]
    edit(story_file, "gulls circle the tower", "gulls circle the lamp")
    after = [s.digest for s in plan(story_file).shots]
    assert [a != b for a, b in zip(before, after, strict=True)] == [False] * 5 + [True]


def test_editing_the_first_shot_of_a_chain_changes_the_whole_chain(story_file: Path) -> None:
    before = [s.digest for s in plan(story_file).shots]
    edit(story_file, "its beam sweeping", "its beam slowly sweeping")
    after = [s.digest for s in plan(story_file).shots]
    assert [a != b for a, b in zip(before, after, strict=True)] == [
        False, False, True, True, True, False,
    ]  # fmt: skip


def test_inputs_count_by_content_and_assembly_choices_not_at_all(story_file: Path) -> None:
    before = [s.digest for s in plan(story_file).shots]
    keeper = story_file.parent / "lighthouse/cast/keeper.png"
    keeper.write_bytes(keeper.read_bytes())  # touched, same bytes
    edit(story_file, "transition: cut\n    line: He climbed", "transition: {fade: 0.3s}\n"
         "    trim: {end: 0.2s}\n    line: He climbed")  # fmt: skip
    assert [s.digest for s in plan(story_file).shots] == before
    picture(keeper, (330, 320))
    changed = [s.digest for s in plan(story_file).shots]
    assert [a != b for a, b in zip(before, changed, strict=True)] == [
        False, True, False, False, False, False,
    ]  # fmt: skip


def test_a_new_take_is_a_new_shot(story_file: Path) -> None:
    before = plan(story_file).shots[0].digest
    edit(story_file, "  - name: cliff\n", "  - name: cliff\n    take: 2\n")
    assert plan(story_file).shots[0].digest != before


def test_kling_takes_cast_as_elements_and_places_as_scene_images(tmp_path: Path) -> None:
    picture(tmp_path / "mara.png")
    picture(tmp_path / "mara-side.png")
    picture(tmp_path / "dock.png", (480, 320))
    path = write(
        tmp_path,
        """\
title: Kling
cast:
  Mara: [mara.png, mara-side.png]
  Dock: {kind: place, images: [dock.png]}
shots:
  - model: kling-o3-pro-reference-to-video
    duration: 5s
    prompt: "@Mara walks along @Dock, then @Mara waves; @Element9 stays as written"
""",
    )
    shot = plan(path).shots[0]
    assert shot.fields["prompt"] == (
        "@Element1 walks along @Image1, then @Element1 waves; @Element9 stays as written"
    )
    (element,) = shot.fields["elements"]
    assert element["frontal_image_url"].name == "mara.png"
    assert [p.name for p in element["reference_image_urls"]] == ["mara-side.png"]
    assert [p.name for p in shot.fields["scene_images"]] == ["dock.png"]


def test_seedance_names_reference_images_its_own_way(tmp_path: Path) -> None:
    picture(tmp_path / "mara.png")
    path = write(
        tmp_path,
        """\
title: Seedance
cast: {Mara: mara.png}
shots:
  - model: seedance-2-0-fast-reference-to-video-basic
    duration: 5s
    prompt: "@Mara looks at the sea"
""",
    )
    assert plan(path).shots[0].fields["prompt"] == "<Image 1> looks at the sea"


def test_bad_stories_get_every_problem_with_file_line_and_shot(tmp_path: Path) -> None:
    picture(tmp_path / "keeper.png")
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    path = write(
        tmp_path,
        """\
title: Bad
defaults:
  model: vidu-q3-text-to-video
  resolution: 360p
cast:
  Keeper: keeper.png
  Ghost: missing.png
  Junk: broken.png
shots:
  - name: one
    prompt: A quiet sea
    duration: 7s
  - name: two
    prompt: The sea again
    continue_from: previous
  - name: three
    model: pixverse-c1-reference-to-video
    prompt: "@Keper waves while @Ghost and @Junk watch"
  - name: four
    prompt: "@Keeper walks"
  - name: five
    model: vidu-q3-image-to-video
    image: nowhere.png
    prompt: A door opens
    continue_from: seven
""",
        "bad.yaml",
    )
    found = problems(path)
    expected = [
        "bad.yaml:7: @Ghost's picture missing.png does not exist",
        "bad.yaml:8: @Junk's picture broken.png cannot be used: not a picture Pillow can read",
        "bad.yaml:12: shot 1 (one): vidu-q3-text-to-video does not support duration '7s'",
        "bad.yaml:15: shot 2 (two): continue_from starts this shot from the previous shot's "
        "last frame, which needs an image-to-video model; vidu-q3-text-to-video is "
        "text-to-video (did you mean 'vidu-q3-image-to-video'?)",
        "bad.yaml:18: shot 3 (three): @Keper is not in the cast (did you mean @Keeper?)",
        "bad.yaml:20: shot 4 (four): vidu-q3-text-to-video cannot take reference pictures, so "
        "it cannot show @Keeper; models that can: ",
        "bad.yaml:23: shot 5 (five): ",
        "bad.yaml:25: shot 5 (five): continue_from 'seven' is neither 'previous' nor a shot's",
    ]
    for start in expected:
        assert any(p.startswith(start) for p in found), (start, found)
    assert "(did you mean '8s'?)" in next(p for p in found if ":12:" in p)
    assert "kling-o3-pro-reference-to-video" in next(p for p in found if ":20:" in p)
    assert "nowhere.png" in next(p for p in found if ":23:" in p)


def test_a_chain_that_loops_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
title: Loop
defaults: {model: vidu-q3-image-to-video, duration: 3s}
shots:
  - {name: a, prompt: one, continue_from: b}
  - {name: b, prompt: two, continue_from: a}
""",
    )
    found = problems(path)
    assert any(":4: shot 1 (a): continue_from makes a cycle: a -> b -> a" in p for p in found)


def test_a_default_that_fits_no_model_points_at_the_default_and_names_the_shot(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        """\
title: Defaults
defaults:
  model: vidu-q3-text-to-video
  duration: 4s
shots:
  - name: first
    prompt: one
""",
    )
    (found,) = problems(path)
    assert found.startswith("story.yaml:4: shot 1 (first): vidu-q3-text-to-video does not "
                            "support duration '4s'")  # fmt: skip


def test_a_crossfade_out_of_the_last_shot_and_a_trim_longer_than_the_shot(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
title: Ends
defaults: {model: vidu-q3-text-to-video, duration: 3s}
shots:
  - prompt: one
    trim: {start: 2, end: 1.5}
  - prompt: two
    transition: {crossfade: 0.5s}
""",
    )
    found = problems(path)
    assert any(p.startswith("story.yaml:5: shot 1: trimming 3.5s leaves nothing") for p in found)
    assert any(p.startswith("story.yaml:7: shot 2: the last shot has no next shot") for p in found)


def test_the_example_copy_checks_without_a_server(tmp_path: Path) -> None:
    story_file = copy_example(tmp_path / "copy")
    assert len(plan(story_file).shots) == 6


def test_a_story_built_in_code_plans_and_reports_without_a_file() -> None:
    from venice_video.story import Shot

    story = Story(
        title="In code",
        shots=[
            Shot(prompt="A kite", model="vidu-q3-text-to-video", duration="3s"),
            Shot(prompt="It falls", model="vidu-q3-text-to-video", continue_from="previous"),
        ],
    )
    assert story.output_path() == Path.cwd().absolute() / "in-code.mp4"
    with pytest.raises(StoryError) as caught:
        plan_story(story, CATALOG)
    (problem,) = caught.value.problems
    assert str(problem).startswith("story: shot 2: continue_from starts this shot")
    story.shots[1].model = "vidu-q3-image-to-video"
    assert plan_story(story, CATALOG).shots[1].after == 0


def test_transcribed_segments_become_cues_within_the_film() -> None:
    from venice_video._models import AudioTranscription
    from venice_video.story._film import transcript_cues

    heard = AudioTranscription.model_validate(
        {
            "text": "Hello there. ...",
            "timestamps": {
                "segment": [
                    {"start": 0.4, "end": 1.6, "text": " Hello there. "},
                    {"start": 2.0, "end": 2.5, "text": " ... "},
                    {"start": 5.5, "end": 7.0, "text": "Goodbye."},
                ],
                "word": [],
            },
        }
    )
    cues = transcript_cues(heard, duration=6.0)
    assert [(c.start, c.end, c.text) for c in cues] == [
        (0.4, 1.6, "Hello there."),
        (5.5, 6.0, "Goodbye."),
    ]


def test_the_soundtrack_must_be_a_local_file_that_decodes(story_file: Path) -> None:
    edit(story_file, "file: lighthouse/music/theme.mp3", "file: https://example.com/theme.mp3")
    (found,) = problems(story_file)
    assert (
        found == "lighthouse.yaml:66: the soundtrack is mixed in here, so it must be a local file"
    )
    edit(story_file, "file: https://example.com/theme.mp3", "file: lighthouse/cast/keeper.png")
    (found,) = problems(story_file)
    assert found.startswith("lighthouse.yaml:66: the soundtrack lighthouse/cast/keeper.png cannot")
