"""Type aliases that match the wire format of the Venice video API."""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = [
    "ASPECT_RATIOS",
    "DURATIONS",
    "JOB_STATUSES",
    "MODEL_TYPES",
    "RESOLUTIONS",
    "STAGES",
    "STAGE_OF_STATUS",
    "TERMINAL_STATUSES",
    "UNFINISHED_STATUSES",
    "UPSCALE_FACTORS",
    "AspectRatio",
    "Duration",
    "JobStatus",
    "ModelType",
    "Resolution",
    "RetrieveStatus",
    "TranscriptFormat",
    "UpscaleFactor",
]

# The values the spec's enums list, plus those the model catalog of 2026-09 uses beyond them
# (`2k`, `480P`, `1080P`). They help type checkers; requests are checked against the catalog
# in force, so a value a newer catalog adds is accepted at run time all the same.
Duration = Literal[
    "1s", "2s", "3s", "4s", "5s", "6s", "7s", "8s", "9s", "10s",
    "11s", "12s", "13s", "14s", "15s", "16s", "17s", "18s", "19s", "20s",
    "21s", "22s", "23s", "24s", "25s", "26s", "27s", "28s", "29s", "30s",
    "-1", "1 gen", "auto", "Auto",
]  # fmt: skip
AspectRatio = Literal[
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "9:21", "16:9", "21:9",
    "adaptive", "auto",
]  # fmt: skip
Resolution = Literal[
    "256p", "360p", "480p", "540p", "580p", "720p", "1080p", "1440p", "2160p",
    "4k", "2x", "4x", "2K", "768P", "true_1080p",
    "2k", "480P", "1080P",
]  # fmt: skip
UpscaleFactor = Literal[1, 2, 4]
ModelType = Literal["text-to-video", "image-to-video", "video"]
TranscriptFormat = Literal["json", "text"]

#: What `/video/retrieve` reports in its JSON body.
RetrieveStatus = Literal["PROCESSING", "COMPLETED"]

#: The life of a job as this package tracks it (the journal and `VideoJob`).
JobStatus = Literal[
    "QUOTED",  # priced, not yet queued
    "QUEUING",  # the queue request may have reached the server; outcome not yet known
    "QUEUED",  # the server returned a queue_id
    "PROCESSING",  # the server reported PROCESSING
    "READY",  # the server has the file (binary body or COMPLETED)
    "DOWNLOADED",  # the file is on disk, fsynced and verified
    "COMPLETED",  # the server's copy was deleted after a safe download
    "FAILED",  # the server reported a failure for this job
    "UNKNOWN",  # the queue outcome could not be determined
    "CANCELLED",  # the caller gave up before queueing
]

DURATIONS: Final[tuple[str, ...]] = get_args(Duration)
ASPECT_RATIOS: Final[tuple[str, ...]] = get_args(AspectRatio)
RESOLUTIONS: Final[tuple[str, ...]] = get_args(Resolution)
UPSCALE_FACTORS: Final[tuple[int, ...]] = get_args(UpscaleFactor)
MODEL_TYPES: Final[tuple[str, ...]] = get_args(ModelType)
JOB_STATUSES: Final[tuple[str, ...]] = get_args(JobStatus)

#: Statuses after which nothing more happens to a job. Listed by name, never inferred.
TERMINAL_STATUSES: Final[frozenset[str]] = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
UNFINISHED_STATUSES: Final[frozenset[str]] = frozenset(JOB_STATUSES) - TERMINAL_STATUSES

#: The stages a person or an agent follows a job through, in order (the gallery and the
#: MCP tools show and filter on these rather than the journal's finer statuses).
STAGES: Final[tuple[str, ...]] = (
    "queueing", "running", "downloading", "done", "failed", "cancelled", "unknown",
)  # fmt: skip
STAGE_OF_STATUS: Final[dict[str, str]] = {
    "QUOTED": "queueing",
    "QUEUING": "queueing",
    "QUEUED": "running",
    "PROCESSING": "running",
    "READY": "downloading",
    "DOWNLOADED": "done",
    "COMPLETED": "done",
    "FAILED": "failed",
    "CANCELLED": "cancelled",
    "UNKNOWN": "unknown",
}
