"""The shared request checks: spec first, then the model's own constraints."""

from __future__ import annotations

from typing import Any

import pytest

from venice_video._catalog import Catalog, VideoModel, bundled_catalog
from venice_video._validation import Issue, error_body, suggest, validate_queue, validate_quote

CATALOG = bundled_catalog()
T2V = "wan-2-7-text-to-video"


def queue(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": T2V, "prompt": "a lighthouse at dusk", "duration": "5s"}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def fields_of(issues: list[Issue]) -> list[str]:
    return [i.field for i in issues]


def test_bundled_catalog_has_every_snapshot_model() -> None:
    assert len(CATALOG) == 132  # every video model of the 2026-09-29 catalog
    assert CATALOG["topaz-video-upscale"].is_upscale
    assert CATALOG["topaz-video-upscale"].upscale_factors == (1, 2, 4)
    assert {m.id for m in CATALOG if m.vps_backed} == {
        "grok-imagine-text-to-video-private",
        "grok-imagine-image-to-video-private",
        "grok-imagine-video-to-video-private",
        "grok-imagine-reference-to-video-private",
    }


def test_catalog_round_trips_through_the_api_envelope() -> None:
    again = Catalog.from_api(CATALOG.to_api())
    assert again.ids == CATALOG.ids
    # The envelope carries what `GET /models` does: no family, no download-URL flag.
    assert again["minimax-h3-image-to-video"] == CATALOG["minimax-h3-image-to-video"].model_copy(
        update={"vps_backed": False, "family": ""}
    )


def test_suggest_finds_the_model_behind_dots_and_case() -> None:
    assert CATALOG.suggest("wan-2.7-text-to-video")[0] == T2V
    assert CATALOG.suggest("WAN-2-7-TEXT-TO-VIDEO")[0] == T2V


def test_filter_by_type_and_input() -> None:
    video_models = CATALOG.filter(model_type="video")
    assert {m.id for m in video_models} >= {"topaz-video-upscale", "wan-2-7-video-to-video"}
    assert all("audio" in m.inputs for m in CATALOG.filter(needs_input="audio"))


def test_valid_queue_body_has_no_issues() -> None:
    assert validate_queue(queue(resolution="720p", aspect_ratio="16:9"), CATALOG) == []


def test_unsupported_duration_names_allowed_values_and_nearest() -> None:
    (issue,) = validate_queue(queue(duration="6s"), CATALOG)
    assert issue.field == "duration"
    assert issue.allowed == ("5s", "10s", "15s")
    assert issue.suggestion == "5s"
    assert "'5s' | '10s' | '15s'" in issue.message


def test_wire_issue_matches_the_real_api_shape() -> None:
    body = error_body(validate_queue(queue(duration="6s", resolution="4k"), CATALOG))
    assert body["error"] == "Invalid request parameters"
    assert body["details"]["duration"]["_errors"]
    assert [i["path"] for i in body["issues"]] == [["duration"], ["resolution"]]
    assert body["issues"][0]["expected"] == "'5s' | '10s' | '15s'"
    assert Issue.from_wire(body["issues"][0]).allowed == ("5s", "10s", "15s")


def test_unknown_model_gets_a_suggestion() -> None:
    (issue,) = validate_queue(queue(model="wan-2.7-text-to-video"), CATALOG)
    assert issue.field == "model"
    assert issue.suggestion == T2V


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": T2V, "duration": "5s"}, "prompt"),
        ({"model": T2V, "prompt": "", "duration": "5s"}, "prompt"),
        ({"model": T2V, "prompt": 3, "duration": "5s"}, "prompt"),
        ({"prompt": "x", "duration": "5s"}, "model"),
        ({"model": T2V, "prompt": "x", "duration": 5}, "duration"),
        ({"model": T2V, "prompt": "x", "duration": "5s", "audio": "yes"}, "audio"),
        ({"model": T2V, "prompt": "x", "duration": "5s", "aspect_ratio": "17:9"}, "aspect_ratio"),
        ({"model": T2V, "prompt": "x", "duration": "5s", "image_url": "ftp://x"}, "image_url"),
        ({"model": T2V, "prompt": "x" * 2501, "duration": "5s"}, "prompt"),
    ],
)
def test_schema_and_limit_errors_name_the_field(body: dict[str, Any], field: str) -> None:
    assert field in fields_of(validate_queue(body, CATALOG))


def test_list_caps_follow_the_spec() -> None:
    model = "kling-o3-pro-reference-to-video"
    elements = [{"frontal_image_url": "https://a/b.png"}] * 5
    issues = validate_queue(queue(model=model, elements=elements, duration="5s"), CATALOG)
    assert "elements" in fields_of(issues)
    scenes = ["https://a/b.png"] * 5
    issues = validate_queue(queue(model=model, scene_image_urls=scenes), CATALOG)
    assert "scene_image_urls" in fields_of(issues)


def test_element_takes_images_or_video_not_both() -> None:
    element = {"frontal_image_url": "https://a/f.png", "video_url": "https://a/v.mp4"}
    issues = validate_queue(
        queue(model="kling-o3-pro-reference-to-video", elements=[element]), CATALOG
    )
    assert "elements.0" in fields_of(issues)


def test_image_to_video_requires_an_image() -> None:
    issues = validate_queue(queue(model="wan-2-7-image-to-video"), CATALOG)
    assert fields_of(issues) == ["image_url"]
    ok = queue(model="wan-2-7-image-to-video", image_url="data:image/png;base64,AAAA")
    assert validate_queue(ok, CATALOG) == []


def test_transition_models_require_an_end_image() -> None:
    body = queue(model="pixverse-v5.6-transition", image_url="https://a/b.png", resolution="720p")
    assert "end_image_url" in fields_of(validate_queue(body, CATALOG))


def test_text_model_refuses_an_image() -> None:
    issues = validate_queue(queue(image_url="https://a/b.png"), CATALOG)
    assert fields_of(issues) == ["image_url"]


def test_model_without_aspect_ratios_refuses_one() -> None:
    body = queue(model="seedance-2-0-image-to-video-basic", image_url="https://a/b.png",
                 aspect_ratio="16:9")  # fmt: skip
    assert fields_of(validate_queue(body, CATALOG)) == ["aspect_ratio"]


def test_upscaler_takes_a_factor_not_a_resolution_and_no_prompt() -> None:
    base = {"model": "topaz-video-upscale", "video_url": "data:video/mp4;base64,AAAA"}
    assert validate_queue({**base, "upscale_factor": 2}, CATALOG) == []
    (issue,) = validate_queue({**base, "resolution": "2x"}, CATALOG)
    assert issue.field == "resolution"
    assert issue.suggestion == 2
    assert fields_of(validate_queue(queue(upscale_factor=2), CATALOG)) == ["upscale_factor"]
    assert fields_of(validate_queue({**base, "duration": "5s"}, CATALOG)) == ["duration"]


def test_video_models_require_a_video() -> None:
    issues = validate_queue({"model": "topaz-video-upscale", "upscale_factor": 2}, CATALOG)
    assert fields_of(issues) == ["video_url"]


def test_silencing_an_always_audio_model_is_refused() -> None:
    issues = validate_queue(queue(model="veo3-fast-text-to-video", duration="4s", audio=False),
                            CATALOG)  # fmt: skip
    assert fields_of(issues) == ["audio"]
    # The spec's default is `audio: true`, so sending it to a silent model is harmless.
    assert validate_queue(queue(audio=True), CATALOG) == []


def test_keyframes_must_be_unique_and_within_the_clip() -> None:
    frames = [
        {"image_url": "https://a/1.png", "frame_index": 0},
        {"image_url": "https://a/2.png", "frame_index": 0},
        {"image_url": "https://a/3.png", "frame_index": 500},
    ]
    issues = validate_queue(queue(keyframes=frames), CATALOG)
    assert fields_of(issues) == ["keyframes.1.frame_index", "keyframes.2.frame_index"]


def test_reference_audio_needs_a_visual_reference() -> None:
    body = queue(model="seedance-2-0-reference-to-video-basic", duration="5s",
                 reference_audio_urls=["https://a/a.mp3"], image_url="https://a/b.png")  # fmt: skip
    assert "reference_audio_urls" in fields_of(validate_queue(body, CATALOG))


def test_consents_flags_must_all_be_true() -> None:
    body = queue(consents={"seedance": {"confirmed_terms_and_privacy": True}})
    assert fields_of(validate_queue(body, CATALOG)) == [
        "consents.seedance.confirmed_legal_right",
        "consents.seedance.confirmed_screening_acknowledged",
    ]


def test_quote_accepts_the_skill_recipe_and_rejects_bitrate_mode() -> None:
    recipe = {"model": T2V, "duration": "5s", "aspect_ratio": "16:9", "resolution": "720p",
              "audio": True}  # fmt: skip
    assert validate_quote(recipe, CATALOG) == []
    assert "bitrate_mode" in fields_of(validate_quote({**recipe, "bitrate_mode": "high"}, CATALOG))


def test_non_object_body_is_one_clear_issue() -> None:
    (issue,) = validate_queue([1, 2], CATALOG)  # type: ignore[arg-type]
    assert issue.code == "invalid_type"


def test_suggest_prefers_the_numerically_nearest_duration() -> None:
    assert suggest("9s", ("5s", "10s", "15s")) == "10s"
    assert suggest("16:10", ("16:9", "9:16")) == "16:9"
    assert suggest("anything", ()) is None


def test_custom_model_constraints_apply() -> None:
    model = VideoModel(id="m", model_type="text-to-video", durations=("3s",), resolutions=(),
                       aspect_ratios=(), prompt_character_limit=10)  # fmt: skip
    issues = validate_queue({"model": "m", "prompt": "x" * 11, "duration": "3s",
                             "resolution": "720p"}, Catalog([model]))  # fmt: skip
    assert fields_of(issues) == ["resolution", "prompt"]
