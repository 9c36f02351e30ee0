"""The cast: `@Name` in a prompt becomes the model's own reference fields and tokens.

Reference-to-video models take pictures in one of two ways (Venice's reference-to-video
guide and the queue spec):

- Kling O3 (and Kling V3) reference-to-video: `elements`, each a character or object with a
  frontal image and up to three more views, named `@Element1`, `@Element2`... in the prompt,
  and `scene_image_urls` for places, named `@Image1`...;
- the others (Grok Imagine, Seedance, Wan, PixVerse, MiniMax, HappyHorse, Gemini Omni):
  a flat `reference_image_urls` list, named `@Image1`... (Seedance: `<Image 1>`).

A cast member with several pictures sends them all; the prompt names its first.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from .._catalog import Catalog, VideoModel
from ._model import CASTING_NAME, CastMember

__all__ = ["CastRefs", "map_cast", "mentions", "reference_models", "reference_style"]

Style = Literal["elements", "reference_images"]

_MENTION = re.compile(rf"(?<![\w@])@({CASTING_NAME})")
#: A model's own tokens, left alone when no cast member has that name.
_OWN_TOKEN = re.compile(r"^(Element|Image|Video|Audio)\d+$")
ELEMENT_CAP = 4
SCENE_CAP = 4
ELEMENT_VIEWS_CAP = 3  # reference images per element, besides the frontal one
REFERENCE_CAP = 30
#: Per-family limits on reference images that are tighter than the spec's 30.
_FAMILY_CAPS: tuple[tuple[str, int], ...] = (
    ("grok-imagine", 7),
    ("seedance-2-0", 9),
)
#: Kling counts the first frame, the last frame, elements and scene images together.
_KLING_TOTAL = 7


@dataclass(frozen=True)
class CastRefs:
    """What a shot's cast becomes for its model.

    Attributes:
        prompt: the prompt with every `@Name` replaced by the model's token.
        reference_images: pictures for `reference_image_urls` (story values: paths or URLs).
        elements: `(frontal, (views...))` per element.
        scene_images: pictures for `scene_image_urls`.
        used: the cast members named, in order of first mention.
    """

    prompt: str
    reference_images: tuple[str, ...] = ()
    elements: tuple[tuple[str, tuple[str, ...]], ...] = ()
    scene_images: tuple[str, ...] = ()
    used: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=(), compare=False)


def reference_style(model: VideoModel) -> Style | None:
    """How the model takes reference pictures, or `None` when it takes none."""
    if not model.is_reference_to_video:
        return None
    return "elements" if model.id.startswith("kling-") else "reference_images"


def reference_models(catalog: Catalog) -> list[str]:
    """The ids of every model that takes reference pictures."""
    return sorted(m.id for m in catalog if reference_style(m) is not None)


def mentions(prompt: str) -> list[str]:
    """The names after `@` in a prompt, in order, each once."""
    found: list[str] = []
    for match in _MENTION.finditer(prompt):
        if match.group(1) not in found:
            found.append(match.group(1))
    return found


def _token(model: VideoModel, kind: Literal["element", "image"], n: int) -> str:
    if kind == "element":
        return f"@Element{n}"
    if model.id.startswith("seedance-"):
        return f"<Image {n}>"
    return f"@Image{n}"


def _cap(model: VideoModel) -> int:
    for prefix, cap in _FAMILY_CAPS:
        if model.id.startswith(prefix):
            return cap
    return REFERENCE_CAP


def map_cast(
    prompt: str,
    cast: dict[str, CastMember],
    model: VideoModel,
    catalog: Catalog,
    *,
    frames_given: int = 0,
) -> CastRefs:
    """Map the cast members a prompt names to `model`'s reference fields.

    Problems (an unknown name, a model that takes no references, too many pictures) are
    returned in `problems`, worded for the story's author, rather than raised.

    Args:
        frames_given: how many of the first and last frame the shot also sends (Kling
            counts them against its total).
    """
    problems: list[str] = []
    named: list[str] = []
    for name in mentions(prompt):
        if name in cast:
            named.append(name)
        elif not _OWN_TOKEN.match(name):
            close = difflib.get_close_matches(name, list(cast), n=1, cutoff=0.6)
            hint = f" (did you mean @{close[0]}?)" if close else ""
            known = ", ".join(f"@{n}" for n in cast) or "none: the story has no cast"
            problems.append(f"@{name} is not in the cast{hint}; the cast is {known}")
    if not named:
        return CastRefs(prompt=prompt, problems=tuple(problems))
    style = reference_style(model)
    if style is None:
        can = ", ".join(reference_models(catalog))
        problems.append(
            f"{model.id} cannot take reference pictures, so it cannot show "
            f"{', '.join('@' + n for n in named)}; models that can: {can}"
        )
        return CastRefs(prompt=prompt, used=tuple(named), problems=tuple(problems))
    if style == "elements":
        refs = _as_elements(prompt, named, cast, model, frames_given, problems)
    else:
        refs = _as_references(prompt, named, cast, model, problems)
    return CastRefs(
        prompt=refs.prompt,
        reference_images=refs.reference_images,
        elements=refs.elements,
        scene_images=refs.scene_images,
        used=tuple(named),
        problems=tuple(problems),
    )


def _replace(prompt: str, tokens: dict[str, str]) -> str:
    return _MENTION.sub(lambda m: tokens.get(m.group(1), m.group(0)), prompt)


def _as_elements(
    prompt: str,
    named: Sequence[str],
    cast: dict[str, CastMember],
    model: VideoModel,
    frames_given: int,
    problems: list[str],
) -> CastRefs:
    tokens: dict[str, str] = {}
    elements: list[tuple[str, tuple[str, ...]]] = []
    scenes: list[str] = []
    for name in named:
        member = cast[name]
        if member.kind == "place":
            scenes.append(member.images[0])
            tokens[name] = _token(model, "image", len(scenes))
            if len(member.images) > 1:
                problems.append(
                    f"@{name} is a place: {model.id} takes one scene image per place, "
                    f"and {len(member.images)} are given"
                )
            continue
        views = tuple(member.images[1:])
        if len(views) > ELEMENT_VIEWS_CAP:
            problems.append(
                f"@{name} has {len(member.images)} pictures; {model.id} takes a frontal "
                f"picture and at most {ELEMENT_VIEWS_CAP} more per element"
            )
        elements.append((member.images[0], views[:ELEMENT_VIEWS_CAP]))
        tokens[name] = _token(model, "element", len(elements))
    if len(elements) > ELEMENT_CAP:
        problems.append(
            f"the prompt names {len(elements)} characters or objects; {model.id} takes at "
            f"most {ELEMENT_CAP} elements"
        )
    if frames_given and len(elements) > 3:
        problems.append(f"{model.id} takes at most 3 elements when a first or last frame is given")
    if len(scenes) > SCENE_CAP:
        problems.append(f"the prompt names {len(scenes)} places; {model.id} takes at most 4")
    total = frames_given + len(elements) + len(scenes)
    if total > _KLING_TOTAL:
        problems.append(
            f"{model.id} takes at most {_KLING_TOTAL} first/last frames, elements and scene "
            f"images together; this shot has {total}"
        )
    return CastRefs(
        prompt=_replace(prompt, tokens), elements=tuple(elements), scene_images=tuple(scenes)
    )


def _as_references(
    prompt: str,
    named: Sequence[str],
    cast: dict[str, CastMember],
    model: VideoModel,
    problems: list[str],
) -> CastRefs:
    tokens: dict[str, str] = {}
    images: list[str] = []
    for name in named:
        tokens[name] = _token(model, "image", len(images) + 1)
        images.extend(cast[name].images)
    cap = _cap(model)
    if len(images) > cap:
        problems.append(
            f"the cast named here has {len(images)} pictures; {model.id} takes at most {cap}"
        )
    return CastRefs(prompt=_replace(prompt, tokens), reference_images=tuple(images))
