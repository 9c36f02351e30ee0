"""The story file's JSON Schema, generated from the models and shipped with the package.

`story.schema.json` beside this module is the generated schema, committed so editors can
point at it (`# yaml-language-server: $schema=...`); a test keeps it equal to `schema()`.
Regenerate it with `venice-video story schema > src/venice_video/story/story.schema.json`.
"""

from __future__ import annotations

import json
from typing import Any

from ._model import CASTING_NAME, Story

__all__ = ["schema", "schema_text"]

_NAMES = {"type": "array", "items": {"type": "string"}, "minItems": 1}


def schema() -> dict[str, Any]:
    """The JSON Schema of a story file, shorthand forms included."""
    generated = Story.model_json_schema(by_alias=True)
    generated.pop("$schema", None)
    props = generated["properties"]
    # The short forms the models accept before validation: `Mara: mara.png`,
    # `soundtrack: music.mp3`, `captions: script`, `transition: crossfade 0.5s`.
    member = {"anyOf": [{"$ref": "#/$defs/CastMember"}, {"type": "string"}, _NAMES]}
    props["cast"]["patternProperties"] = {f"^{CASTING_NAME}$": member}
    props["cast"]["additionalProperties"] = False
    props["soundtrack"]["anyOf"].insert(1, {"type": "string"})
    props["captions"]["anyOf"].insert(1, {"enum": ["script", "transcribe", "none"]})
    transition = generated["$defs"]["Shot"]["properties"]["transition"]
    transition["anyOf"].insert(
        1, {"type": "string", "pattern": r"^(crossfade|fade)\s+\d+(\.\d+)?s?$"}
    )
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **generated}


def schema_text() -> str:
    """The schema as the committed file holds it."""
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"
