#!/usr/bin/env python3
"""Rebuild the bundled model catalog, retired-model list and price table from Venice's data.

Inputs are the two files Venice's docs site generates from the live API
(`veniceai/api-docs` `data/model-catalog.json` and `data/video-pricing.json`; copies of the
2026-09-29 pair are in `tests/fixtures/venice-2026-09/`) and the catalog bundled so far.
Outputs, under `src/venice_video/data/`:

- `models-video.json`: every video model of the new catalog, in the `GET /models` constraint
  vocabulary. Fields the new catalog lacks (reference-image limits, traits, notes,
  per-reference audio) are kept from the previous bundle for models in both.
- `retired-models.json`: models of the previous bundle that the new catalog no longer lists,
  with the date they were retired (when a deprecation date was announced) and their last
  constraints, so a request for one can name similar live models.
- `video-prices.json`: the live `/video/quote` answer for every listed combination.

Running it again on its own output changes nothing. From the repository root:

    python3 scripts/build_catalog.py \
        --catalog tests/fixtures/venice-2026-09/model-catalog.json \
        --pricing tests/fixtures/venice-2026-09/video-pricing.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "src" / "venice_video" / "data"
ORIGIN = "veniceai/api-docs data/{name} @d89e20a5"
AUDIO = {"native": (True, False), "optional": (True, True), "none": (False, False)}
#: Constraints the new catalog does not describe, kept from the previous bundle.
KEPT_CONSTRAINTS = (
    "per_reference_audio",
    "reference_image_min_short_side_pixels",
    "reference_image_min_aspect_ratio",
    "reference_image_max_aspect_ratio",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", type=Path, required=True, help="model-catalog.json")
    parser.add_argument("--pricing", type=Path, required=True, help="video-pricing.json")
    parser.add_argument("--previous", type=Path, default=DATA / "models-video.json")
    parser.add_argument("--out", type=Path, default=DATA)
    args = parser.parse_args()

    catalog = json.loads(args.catalog.read_text("utf-8"))
    pricing = json.loads(args.pricing.read_text("utf-8"))
    previous_doc = json.loads(args.previous.read_text("utf-8"))
    previous = _previous_records(previous_doc)
    retired_path = args.out / "retired-models.json"
    retired_before = (
        json.loads(retired_path.read_text("utf-8"))["models"] if retired_path.exists() else []
    )

    videos = {k: m for k, m in catalog["models"].items() if m.get("type") == "video"}
    quotes = pricing["models"]
    if set(videos) != set(quotes):
        raise SystemExit("the catalog and the price list name different video models")
    models = [_merge(videos[k], quotes[k], previous.get(k)) for k in sorted(videos)]
    stamp = catalog["generatedAt"]
    header = {
        "source": (
            f"{ORIGIN.format(name='model-catalog.json')} (generated from the live API "
            f"{stamp}), merged with the previous bundle for fields it lacks"
        ),
        "generated_at": stamp,
        "previous": _previous_date(previous_doc, stamp),
    }
    _write(args.out / "models-video.json", {**header, "models": models})

    gone = _retired(previous, videos, retired_before, stamp[:10])
    _write(
        retired_path,
        {
            "source": (
                "Models of the previous bundle missing from "
                f"{ORIGIN.format(name='model-catalog.json')} ({stamp[:10]}); retirement dates "
                "from the deprecation notice each carried in the 2026-08-22 /models snapshot"
            ),
            "generated_at": stamp,
            "models": gone,
        },
    )

    table = {
        k: {
            "family": videos[k].get("family", ""),
            "input_dependent": bool(quotes[k].get("inputDependent")),
            "quotes": quotes[k]["quotes"],
        }
        for k in sorted(quotes)
    }
    _write(
        args.out / "video-prices.json",
        {
            "source": f"{pricing['source']} via {ORIGIN.format(name='video-pricing.json')}",
            "generated_at": pricing["generatedAt"],
            "currency": "USD",
            "key": "resolution|duration|audio ('-' for models that take no resolution)",
            "models": table,
        },
    )
    combos = sum(len(t["quotes"]) for t in table.values())
    print(f"{len(models)} models, {len(gone)} retired, {combos} priced combinations")


def _previous_date(doc: Any, stamp: str) -> str:
    if not isinstance(doc, dict):
        return "2026-08-22"  # the list bundled before the catalog had a header
    return str(doc["previous"] if doc.get("generated_at") == stamp else doc["generated_at"])


def _previous_records(doc: Any) -> dict[str, dict[str, Any]]:
    records = doc["models"] if isinstance(doc, dict) else doc
    return {r["id"]: r for r in records if r.get("constraints")}


def _merge(
    new: dict[str, Any], quote: dict[str, Any], old: dict[str, Any] | None
) -> dict[str, Any]:
    video = new["video"]
    fingerprint = json.loads(quote["fingerprint"])
    audio, configurable = AUDIO[video["audio"]]
    inputs = video.get("inputs") or {}
    constraints: dict[str, Any] = {
        "model_type": fingerprint[0],
        "aspect_ratios": list(video.get("aspectRatios") or []),
        "resolutions": [r["value"] for r in video.get("resolutions") or []],
        "durations": [d["value"] for d in video["durations"]],
        "audio": audio,
        "audio_configurable": configurable,
        "audio_input": bool(inputs.get("audio")),
        "per_reference_audio": False,
        "video_input": bool(inputs.get("video")),
    }
    if video.get("promptLimit"):
        constraints["prompt_character_limit"] = video["promptLimit"]
    kept: list[str] = []
    old_constraints = (old or {}).get("constraints") or {}
    for key in KEPT_CONSTRAINTS:
        if old_constraints.get(key) not in (None, False):
            constraints[key] = old_constraints[key]
            kept.append(key)
    record: dict[str, Any] = {
        "id": new["id"],
        "name": new["name"],
        "type": "video",
        "created": new["created"],
        "privacy": new["privacy"],
        "family": new.get("family", ""),
        "provider": new.get("provider", ""),
        "mode": video["mode"],
        "inputs": sorted(k for k, v in inputs.items() if v),
        "pricing": "input-dependent" if quote.get("inputDependent") else "quoted",
        "constraints": constraints,
    }
    if new.get("uncensored"):
        record["uncensored"] = True
    record["traits"] = list((old or {}).get("traits") or [])
    if old and old.get("traits"):
        kept.append("traits")
    for key in ("notes", "deprecation"):
        if old and old.get(key):
            record[key] = old[key]
            kept.append(key)
    record["source"] = {
        "catalog": ORIGIN.format(name="model-catalog.json") + " (model_type from the "
        "constraint fingerprint of data/video-pricing.json)",
        "kept_from_previous": kept,
    }
    return record


def _retired(
    previous: dict[str, dict[str, Any]],
    live: dict[str, Any],
    before: list[dict[str, Any]],
    gone_by: str,
) -> list[dict[str, Any]]:
    found = {r["id"]: r for r in before if r["id"] not in live}
    for model_id, old in previous.items():
        if model_id in live or model_id in found:
            continue
        deprecation = old.get("deprecation") or {}
        date = deprecation.get("removesAt") or deprecation.get("date")
        found[model_id] = {
            "id": model_id,
            "name": old.get("name", model_id),
            "retired_on": date[:10] if date else None,
            "gone_by": gone_by,
            "constraints": old["constraints"],
        }
    return [found[k] for k in sorted(found)]


def _write(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", "utf-8")


if __name__ == "__main__":
    main()
