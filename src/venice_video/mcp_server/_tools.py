"""The tools, and the server that carries them.

The docstrings of the tool functions below are what a model reads to decide what to call, so
they are written for that reader: what the tool does, what it costs, and what to call next.
"""

# No `from __future__ import annotations` here: the SDK reads the tools' annotations when they
# are registered, and some of them use values local to `_register` (the wait limit).

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, ParamSpec

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from .._async_client import AsyncVeniceVideo
from .._catalog import VideoModel
from .._choose import CHEAPEST
from .._client import VeniceVideo
from .._exceptions import ValidationError, VeniceVideoError
from .._models import QueueRequest, QuoteRequest
from .._validation import Issue, validate_quote
from .._version import __version__
from ._backend import Backend
from ._budget import Budget, SpendRefused
from ._errors import JobNotFoundError, error_result, scrub_value
from ._jobs import STATES, JobRunner, default_video_name, new_key
from ._sandbox import Sandbox, SandboxError
from ._stories import StoryRunner, register_story_tools

__all__ = ["DEFAULT_MAX_WAIT_S", "build_server"]

logger = logging.getLogger("venice_video.mcp_server")

#: The longest one `wait_for_job` call blocks; larger timeouts are clamped to it.
DEFAULT_MAX_WAIT_S = 120.0
_MAX_SEGMENTS = 200

INSTRUCTIONS = """\
Make videos with the Venice.ai video API and save them as files.

Usual order: list_models (pick a model and see what it accepts) -> validate_request (a free \
check of the whole request) -> quote (the price in USD, free) -> start_generation (the only \
call that spends money; returns a job_id at once) -> wait_for_job or get_job until state is \
"done" -> the video is at file.path. transcribe_file and transcribe_url turn speech into text.

Paths are relative to the one directory this server may use; nothing outside it can be read or \
written. The operator may cap the cost of one generation and the total for this server; those \
limits cannot be changed through these tools.\
"""

P = ParamSpec("P")

# Argument types shared by several tools. Plain strings (not enums) for the model-specific
# fields, so a wrong value reaches the validator, which answers with that model's options.
ModelId = Annotated[
    str,
    Field(
        description="A video model id from list_models, e.g. 'wan-3-0-text-to-video', or "
        "'cheapest' for the cheapest model that can make this video (the answer names it)."
    ),
]
Prompt = Annotated[
    str | None,
    Field(description="What the video should show. Required except for upscale models."),
]
DurationArg = Annotated[
    str | None,
    Field(description="Length, e.g. '5s'. Allowed values depend on the model (list_models)."),
]
ResolutionArg = Annotated[
    str | None, Field(description="e.g. '480p', '720p', '1080p'; depends on the model.")
]
AspectArg = Annotated[str | None, Field(description="e.g. '16:9', '9:16', '1:1'; model-specific.")]
AudioArg = Annotated[
    bool | None,
    Field(description="Generate a soundtrack; only for models whose `audio` is true."),
]
UpscaleArg = Annotated[int | None, Field(description="Upscale models only: 1 (enhance), 2 or 4.")]
NegativeArg = Annotated[str | None, Field(description="What to avoid.")]
MediaArg = Annotated[
    str | None,
    Field(
        description="An http(s) URL, or a file path relative to the allowed directory "
        "(png/jpeg/webp images; mp4/mov/webm videos; wav/mp3 audio)."
    ),
]
MediaListArg = Annotated[
    list[str] | None,
    Field(description="URLs or file paths relative to the allowed directory."),
]
JobId = Annotated[str, Field(description="The job_id returned by start_generation or list_jobs.")]


def _tool_errors(
    fn: Callable[P, Awaitable[dict[str, Any]]],
) -> Callable[P, Awaitable[dict[str, Any] | CallToolResult]]:
    """Return the errors a model can act on as failed calls, and scrub every answer.

    The failed call carries the error as JSON text and as structured content, with no
    prefix, so a model or a program reads it the same way.
    """

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> dict[str, Any] | CallToolResult:
        try:
            result = await fn(*args, **kwargs)
        except (VeniceVideoError, SandboxError, SpendRefused) as exc:
            return error_result(exc)
        scrubbed: dict[str, Any] = scrub_value(result)
        return scrubbed

    return wrapper


def build_server(
    client: AsyncVeniceVideo | VeniceVideo,
    *,
    root: str | Path,
    max_cost_per_call: float | None = None,
    budget: float | None = None,
    max_wait_s: float = DEFAULT_MAX_WAIT_S,
    eta_wait_s: float = 2.0,
    name: str = "venice-video",
) -> MCPServer[Any]:
    """The MCP server with every tool; see `venice_video.mcp_server.create_server`."""
    backend = Backend(client)
    sandbox = Sandbox(root)
    gates = Budget(max_cost_per_call=max_cost_per_call, total=budget)
    runner = JobRunner(backend, sandbox, gates, eta_wait_s=eta_wait_s)
    stories = StoryRunner(backend, sandbox, gates)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        async with runner.running(), stories.running():
            yield {}

    server: MCPServer[Any] = MCPServer(
        name,
        title="Venice video",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan,
    )
    _register(server, runner, backend, sandbox, gates, max_wait_s=max_wait_s)
    register_story_tools(server, stories)
    return server


def _register(
    server: MCPServer[Any],
    runner: JobRunner,
    backend: Backend,
    sandbox: Sandbox,
    gates: Budget,
    *,
    max_wait_s: float,
) -> None:
    read_only = ToolAnnotations(readOnlyHint=True, openWorldHint=True)

    def media_fields(
        image: str | None,
        end_image: str | None,
        video: str | None,
        audio_input: str | None,
        reference_images: list[str] | None,
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for field, value in (
            ("image", image),
            ("end_image", end_image),
            ("video", video),
            ("audio_input", audio_input),
        ):
            if value is not None:
                fields[field] = sandbox.media(value, field)
        if reference_images is not None:
            fields["reference_images"] = [
                sandbox.media(v, f"reference_images.{i}") for i, v in enumerate(reference_images)
            ]
        return fields

    async def queue_request(fields: Mapping[str, Any]) -> QueueRequest:
        return await backend.prepare({k: v for k, v in fields.items() if v is not None})

    # ------------------------------------------------------------------ models

    @server.tool(annotations=read_only)
    @_tool_errors
    async def list_models(
        model_type: Annotated[
            Literal["text-to-video", "image-to-video", "video"] | None,
            Field(description="Only models of this type ('video' = upscale / video-to-video)."),
        ] = None,
        accepts: Annotated[
            Literal["text", "image", "end_image", "video", "audio", "reference_images"] | None,
            Field(description="Only models that take this kind of input."),
        ] = None,
        search: Annotated[
            str | None, Field(description="Only models whose id or name contains this text.")
        ] = None,
    ) -> dict[str, Any]:
        """List the video models and what each accepts. Free; nothing is generated.

        Each model lists its allowed durations, resolutions and aspect ratios, whether it makes
        audio, the inputs it takes (text, image, end_image, video, audio, reference_images)
        and its prompt length limit. Use these values in validate_request, quote and
        start_generation. Next: validate_request or quote with the chosen model.
        """
        catalog = await backend.catalog()
        models = catalog.filter(model_type=model_type, needs_input=accepts)
        if search:
            needle = search.lower()
            models = [m for m in models if needle in m.id.lower() or needle in m.name.lower()]
        return {
            "count": len(models),
            "models": [_model_view(m) for m in models],
            "next": "Call quote for a price, or validate_request to check a full request.",
        }

    # ------------------------------------------------------------------ checking

    @server.tool(annotations=read_only)
    @_tool_errors
    async def validate_request(
        model: ModelId,
        prompt: Prompt = None,
        duration: DurationArg = None,
        resolution: ResolutionArg = None,
        aspect_ratio: AspectArg = None,
        audio: AudioArg = None,
        negative_prompt: NegativeArg = None,
        image: MediaArg = None,
        end_image: MediaArg = None,
        video: MediaArg = None,
        audio_input: MediaArg = None,
        reference_images: MediaListArg = None,
        upscale_factor: UpscaleArg = None,
    ) -> dict[str, Any]:
        """Check a generation request against the model's rules without sending it. Free.

        Takes the same arguments as start_generation. When something is wrong the tool fails
        with every problem: the field, the value given, the allowed values, a suggested value
        and a one-line `fix`. Next: quote for the price, then start_generation.
        """
        fields = {
            "model": model,
            "prompt": prompt,
            "duration": duration,
            "resolution": resolution,
            "aspect_ratio": aspect_ratio,
            "audio": audio,
            "negative_prompt": negative_prompt,
            "upscale_factor": upscale_factor,
            **media_fields(image, end_image, video, audio_input, reference_images),
        }
        request = await queue_request(fields)
        return {
            "valid": True,
            "request": _summary(request.to_body()),
            "next": "Call quote for the price, then start_generation with the same arguments.",
        }

    @server.tool(annotations=read_only)
    @_tool_errors
    async def quote(
        model: ModelId,
        duration: DurationArg = None,
        resolution: ResolutionArg = None,
        aspect_ratio: AspectArg = None,
        audio: AudioArg = None,
        upscale_factor: UpscaleArg = None,
    ) -> dict[str, Any]:
        """Get the price in USD of one generation. Free; nothing is queued or charged.

        The price depends on the model, duration, resolution and audio. The answer also says
        whether the operator's limits (a maximum per generation, a total budget for this
        server) allow it. Next: start_generation with the same values.
        """
        asked = {
            "model": model,
            "duration": duration,
            "resolution": resolution,
            "aspect_ratio": aspect_ratio,
            "audio": audio,
            "upscale_factor": upscale_factor,
        }
        if model == CHEAPEST:
            await backend.cheapest(asked)
        body = {k: v for k, v in asked.items() if v is not None}
        catalog = await backend.catalog()
        issues: list[Issue] = validate_quote(body, catalog)
        if issues:
            raise ValidationError(issues)
        price = await backend.quote(QuoteRequest.model_validate(body))
        try:
            gates.check(price)
            allowed, refusal = True, None
        except SpendRefused as exc:
            allowed, refusal = False, exc.message
        answer: dict[str, Any] = {
            "quote_usd": price,
            "request": body,
            "allowed_by_limits": allowed,
            "limits": gates.describe(),
        }
        if refusal:
            answer["refusal"] = refusal
            answer["next"] = "Too expensive for the operator's limits: choose a shorter or "
            answer["next"] += "lower-resolution video, or a cheaper model, and quote again."
        else:
            answer["next"] = "Call start_generation with these values (and a prompt)."
        return answer

    # ------------------------------------------------------------------ generating

    @server.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False,
                                             idempotentHint=False, openWorldHint=True))  # fmt: skip
    @_tool_errors
    async def start_generation(
        model: ModelId,
        prompt: Prompt = None,
        duration: DurationArg = None,
        resolution: ResolutionArg = None,
        aspect_ratio: AspectArg = None,
        audio: AudioArg = None,
        negative_prompt: NegativeArg = None,
        image: MediaArg = None,
        end_image: MediaArg = None,
        video: MediaArg = None,
        audio_input: MediaArg = None,
        reference_images: MediaListArg = None,
        upscale_factor: UpscaleArg = None,
        output: Annotated[
            str | None,
            Field(
                description="Where to save the .mp4, relative to the allowed directory "
                "(a folder or a file name). Default: videos/<model>-<id>.mp4."
            ),
        ] = None,
        overwrite: Annotated[
            bool, Field(description="Replace `output` if that file already exists.")
        ] = False,
    ) -> dict[str, Any]:
        """Start making a video. THIS COSTS MONEY: the quoted price is charged when queued.

        Validates the request, quotes it, checks the operator's limits, queues it, and returns
        at once with job_id, quote_usd and eta_s (seconds, an estimate). The video renders in
        the background and is saved, verified, to `output`; the job survives a restart of this
        server. Do not call it again for the same video: follow the job instead. Next:
        wait_for_job(job_id) (blocks up to a bounded time) or get_job(job_id).
        """
        key = new_key()
        fields = {
            "model": model,
            "prompt": prompt,
            "duration": duration,
            "resolution": resolution,
            "aspect_ratio": aspect_ratio,
            "audio": audio,
            "negative_prompt": negative_prompt,
            "upscale_factor": upscale_factor,
            **media_fields(image, end_image, video, audio_input, reference_images),
        }
        if model == CHEAPEST:
            await backend.cheapest(fields)
        target = sandbox.output_file(
            output,
            default_video_name(str(fields["model"]), key),
            overwrite=overwrite,
            taken=runner.taken_outputs(),
        )
        request = await queue_request(fields)
        price = await backend.quote(request)
        gates.check(price)
        view = await runner.start(
            request, output=target, key=key, quote_usd=price, overwrite=overwrite
        )
        view["limits"] = gates.describe()
        return view

    # ------------------------------------------------------------------ following

    @server.tool(annotations=read_only)
    @_tool_errors
    async def get_job(job_id: JobId) -> dict[str, Any]:
        """Get a job's status now, without waiting. Free.

        state is one of queueing, running, downloading, done, failed, cancelled, unknown.
        While it runs: progress (0 to 1) and eta_s. When done: file with path (relative to the
        allowed directory), size_bytes, duration_s and resolution. Next: wait_for_job while it
        runs; nothing once done or failed.
        """
        entry = await runner.find(job_id)
        if entry is None:
            raise JobNotFoundError(job_id, f"No job {job_id!r} was started through this server.")
        return await runner.describe(entry)

    @server.tool(annotations=read_only)
    @_tool_errors
    async def wait_for_job(
        job_id: JobId,
        timeout_s: Annotated[
            float,
            Field(
                description=f"Most seconds to wait; at most {max_wait_s:g} (larger is clamped).",
                ge=0,
            ),
        ] = 60.0,
        ctx: Context[Any, Any] | None = None,
    ) -> dict[str, Any]:
        """Wait until a job finishes, or until timeout_s passes, then report it. Free.

        Returns what get_job returns, plus finished (true once nothing more will happen) and
        waited_s. If it is still running when the time is up, call wait_for_job again. A job
        whose download failed is retried here without paying again.
        """
        entry = await runner.find(job_id)
        if entry is None:
            raise JobNotFoundError(job_id, f"No job {job_id!r} was started through this server.")
        limit = min(max(timeout_s, 0.0), max_wait_s)
        started = runner.clock()
        finished = await _wait_reporting(runner, entry, limit, ctx)
        entry = await runner.find(job_id) or entry
        view = await runner.describe(entry)
        view["finished"] = finished and view["state"] not in ("queueing", "running", "downloading")
        view["waited_s"] = round(runner.clock() - started, 2)
        if timeout_s > max_wait_s:
            view["timeout_clamped_to_s"] = max_wait_s
        return view

    @server.tool(annotations=read_only)
    @_tool_errors
    async def list_jobs(
        state: Annotated[
            Literal["queueing", "running", "downloading", "done", "failed", "cancelled",
                    "unknown", "active"] | None,
            Field(description="Only jobs in this state ('active' = not finished yet)."),
        ] = None,
        limit: Annotated[int, Field(description="At most this many, newest first.", ge=1,
                                    le=100)] = 20,
    ) -> dict[str, Any]:  # fmt: skip
        """List the jobs started through this server (and earlier runs of it), newest first.

        Free. Each has job_id, state, model, prompt, quote_usd and the output path; the limits
        show what has been spent. Next: get_job or wait_for_job with a job_id.
        """
        states: set[str] | None
        if state == "active":
            states = {"queueing", "running", "downloading"}
        else:
            states = {state} if state is not None else None
        entries = await runner.entries(states=states, limit=limit)
        jobs = [await runner.describe(e, brief=True) for e in entries]
        return {
            "count": len(jobs),
            "jobs": jobs,
            "states": list(STATES),
            "limits": gates.describe(),
        }

    # ------------------------------------------------------------------ speech

    @server.tool(annotations=read_only)
    @_tool_errors
    async def transcribe_url(
        url: Annotated[
            str, Field(description="A public http(s) URL of a video (YouTube included).")
        ],
    ) -> dict[str, Any]:
        """Transcribe the speech of a video at a public URL into text.

        The API bills transcription by the minute of audio (a small fee, not counted by
        generation limits). Next: use the text; nothing else is needed.
        """
        if not url.startswith(("http://", "https://")):
            raise ValidationError(
                [Issue(("url",), "Must be an http(s) URL of a video", received=url[:200])],
            )
        result = await backend.transcribe(url)
        return {"transcript": result.transcript, "language": result.lang}

    @server.tool(annotations=read_only)
    @_tool_errors
    async def transcribe_file(
        path: Annotated[
            str,
            Field(
                description="An audio or video file relative to the allowed directory, e.g. "
                "a file.path from get_job."
            ),
        ],
        timestamps: Annotated[bool, Field(description="Also return timed segments.")] = False,
    ) -> dict[str, Any]:
        """Transcribe the speech of a local audio or video file into text.

        Only the audio is sent (a video's soundtrack is extracted first). The API bills
        transcription by the minute of audio (a small fee, not counted by generation limits).
        Next: use the text.
        """
        file = sandbox.input_file(path, "path")
        result = await backend.transcribe_audio(file, timestamps=timestamps)
        answer: dict[str, Any] = {
            "text": result.text,
            "duration_s": result.duration,
            "path": sandbox.show(file),
        }
        if timestamps and result.timestamps is not None:
            answer["segments"] = [
                {"start": s.start, "end": s.end, "text": s.text}
                for s in result.timestamps.segment[:_MAX_SEGMENTS]
            ]
        return answer


async def _wait_reporting(
    runner: JobRunner, entry: Any, limit: float, ctx: Context[Any, Any] | None
) -> bool:
    """Wait for the job, sending progress notifications to a client that asked for them."""
    if ctx is None:
        return await runner.wait(entry, limit)
    deadline = runner.clock() + limit
    while True:
        left = deadline - runner.clock()
        finished = await runner.wait(entry, min(max(left, 0.0), 1.0))
        if finished or left <= 1.0:
            return finished
        progress = runner.progress_of(entry.key)
        if progress is not None:
            fraction = 0.0
            if progress.average_execution_ms and progress.execution_ms is not None:
                fraction = min(progress.execution_ms / progress.average_execution_ms, 0.98)
            try:
                await ctx.report_progress(fraction, 1.0, progress.phase)
            except Exception:  # a client that cannot take progress still gets the answer
                logger.debug("progress notification failed", exc_info=True)


def _model_view(model: VideoModel) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": model.id,
        "name": model.name,
        "type": model.model_type,
        "inputs": list(model.inputs),
        "durations": list(model.durations),
        "resolutions": list(model.resolutions),
        "aspect_ratios": list(model.aspect_ratios),
        "audio": model.audio,
        "audio_configurable": model.audio_configurable,
        "prompt_character_limit": model.prompt_character_limit,
    }
    if model.is_upscale:
        view["upscale_factors"] = list(model.upscale_factors)
    if model.beta:
        view["beta"] = True
    if model.offline:
        view["offline"] = True
    if model.deprecation:
        view["deprecated"] = True
    return view


def _summary(body: Mapping[str, Any]) -> dict[str, Any]:
    """A queue body for display: inline media shown by size, not content."""

    def show(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("data:"):
            mime = value[5:].split(";", 1)[0] or "data"
            return f"<inline {mime}, {len(value) * 3 // 4} bytes>"
        if isinstance(value, list):
            return [show(v) for v in value]
        if isinstance(value, Mapping):
            return {k: show(v) for k, v in value.items()}
        return value

    return {k: show(v) for k, v in body.items()}
