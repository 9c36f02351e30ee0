"""`transcribe`: the speech of a video URL, or of a local audio or video file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .._subtitles import to_srt, to_vtt
from ._errors import CLIError
from ._group import State, pass_state

__all__ = ["transcribe"]


@click.command()
@click.argument("source")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["json", "text", "srt", "vtt"]),
    default="text",
    show_default=True,
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", "stt_model", default=None, help="Speech model for local files.")
@click.option("--language", default=None, help="ISO 639-1 hint for local files.")
@pass_state
def transcribe(
    state: State,
    source: str,
    fmt: str,
    output: Path | None,
    stt_model: str | None,
    language: str | None,
) -> None:
    """Transcribe a video URL, or a local audio or video file (its audio track is extracted)."""
    is_url = source.startswith(("http://", "https://"))
    if not is_url and not Path(source).expanduser().exists():
        raise CLIError(f"{source}: no such file, and not an http(s) URL", family="usage")
    if is_url and fmt in ("srt", "vtt"):
        raise CLIError(
            f"--format {fmt} needs timestamps, which /video/transcriptions does not "
            "give; download the video and transcribe the file",
            family="usage",
        )
    with state.client() as client:
        if is_url:
            result = client.transcribe(source, response_format="json")
            data: dict[str, Any] = result.model_dump(mode="json", exclude_none=True)
            text = result.transcript
        else:
            kw: dict[str, Any] = {"timestamps": fmt in ("srt", "vtt", "json")}
            if stt_model:
                kw["model"] = stt_model
            if language:
                kw["language"] = language
            audio = client.transcribe_audio(Path(source).expanduser(), **kw)
            data = audio.model_dump(mode="json", exclude_none=True)
            text = audio.text
    if fmt == "json":
        rendered = json.dumps(data, indent=2)
    elif fmt in ("srt", "vtt"):
        segments = (data.get("timestamps") or {}).get("segment") or []
        rendered = to_srt(segments) if fmt == "srt" else to_vtt(segments)
    else:
        rendered = text.strip() + "\n"
    if output is not None:
        output.write_text(rendered, "utf-8")
        state.say(f"saved {output}")
    else:
        click.echo(rendered, nl=not rendered.endswith("\n"))
