"""A small story for the gallery's tests: three one-second shots rendered on the local server
into the gallery's journal, and the server's own count of queue requests."""

from __future__ import annotations

from pathlib import Path

from local_checks import local_stats as stats  # noqa: F401  (for the tests)
from venice_video import VeniceVideo
from venice_video.server import ServerThread
from venice_video.story import Film

#: Three one-second shots on the local engine's fastest models; the third continues the second.
THREE = """\
title: Three Shots
defaults: {model: grok-imagine-text-to-video-private, resolution: 480p, duration: 1s,
           aspect_ratio: "16:9"}
shots:
  - name: kite
    prompt: A red kite over the dunes
    line: Up it goes.
  - name: boat
    prompt: A small boat on a grey sea
  - name: harbour
    model: grok-imagine-image-to-video-private
    continue_from: previous
    prompt: The boat reaches the harbour
captions: script
"""


def render_three(folder: Path, server: ServerThread, api_key: str, journal: Path) -> Film:
    """The three-shot story rendered into `folder` with the CLI's client, on `journal`."""
    folder.mkdir(parents=True, exist_ok=True)
    story = folder / "three.yaml"
    story.write_text(THREE, "utf-8")
    with VeniceVideo(api_key=api_key, base_url=server.base_url, journal=journal,
                     cache_dir=False, idempotent_queue_retries=True) as client:  # fmt: skip
        return client.render_story(story)
