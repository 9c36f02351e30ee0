"""`venice-video batch`: many jobs from a JSONL or YAML file, resumable after a crash.

Each row gets a deterministic `Idempotency-Key` made from the batch file's path, the row's
number and its content. Run the same command again after a crash or Ctrl-C and every row
is found in the journal by that key: finished rows are skipped, queued ones are waited
for and downloaded, and nothing is queued twice.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from .._client import AsyncVeniceVideo
from .._client import _resolve_fields as resolve_fields
from .._models import VideoJob
from ..journal import JournalStore
from ._errors import CLIError
from ._options import request_fields

__all__ = ["BatchRow", "BatchSummary", "load_rows", "run_batch"]

FINISHED = ("COMPLETED", "DOWNLOADED")
ALIASES = {
    "aspect": "aspect_ratio",
    "negative": "negative_prompt",
    "audio_file": "audio_input",
    "end-image": "end_image",
    "refs": "reference_images",
    "ref": "reference_images",
    "scenes": "scene_images",
    "scene": "scene_images",
    "upscale": "upscale_factor",
}
KNOWN = {
    "prompt",
    "model",
    "duration",
    "aspect_ratio",
    "resolution",
    "audio",
    "negative_prompt",
    "image",
    "end_image",
    "audio_input",
    "video",
    "reference_images",
    "elements",
    "scene_images",
    "upscale_factor",
    "name",
    "output",
}


@dataclass
class BatchRow:
    index: int
    fields: dict[str, Any]
    name: str
    output: Path
    key: str
    status: str = "pending"  # pending, skipped, done, failed, unknown
    cost: float | None = None
    error: str | None = None
    path: Path | None = None


@dataclass
class BatchSummary:
    rows: list[BatchRow] = field(default_factory=list)
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def cost(self) -> float:
        return sum(r.cost or 0.0 for r in self.rows if r.status in ("done", "skipped"))

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(r.status in ("done", "skipped") for r in self.rows)

    def as_dict(self) -> dict[str, Any]:
        return {
            "done": self.count("done"),
            "skipped": self.count("skipped"),
            "failed": self.count("failed") + self.count("unknown"),
            "pending": self.count("pending"),
            "cost_usd": round(self.cost, 6),
            "rows": [
                {
                    "index": r.index,
                    "name": r.name,
                    "status": r.status,
                    "cost_usd": r.cost,
                    "path": str(r.path) if r.path else None,
                    "error": r.error,
                    "key": r.key,
                }
                for r in self.rows
            ],
        }


def _slug(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "video"


def _parse(path: Path) -> list[dict[str, Any]]:
    text = path.read_text("utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
        if isinstance(data, Mapping) and "jobs" in data:
            data = data["jobs"]
        if not isinstance(data, list):
            raise CLIError(f"{path}: expected a list of jobs (or a `jobs:` list)", family="usage")
        rows = data
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise CLIError(f"{path}:{number}: not JSON ({error.msg})", family="usage") from None
    for number, row in enumerate(rows, 1):
        if isinstance(row, str):
            rows[number - 1] = {"prompt": row}
        elif not isinstance(row, Mapping):
            raise CLIError(f"{path}: job {number} is not an object", family="usage")
    return [dict(r) for r in rows]


def load_rows(
    path: Path, *, default_model: str, out_dir: Path, template: str, defaults: Mapping[str, Any]
) -> list[BatchRow]:
    """Read and check every row before anything is sent."""
    batch_id = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    rows: list[BatchRow] = []
    for index, raw in enumerate(_parse(path)):
        values = {ALIASES.get(k, k).replace("-", "_"): v for k, v in raw.items()}
        unknown = sorted(set(values) - KNOWN)
        if unknown:
            raise CLIError(
                f"{path}: job {index + 1}: unknown field(s) {', '.join(unknown)}", family="usage"
            )
        merged = {**defaults, **{k: v for k, v in values.items() if v is not None}}
        if merged.get("duration") is not None:
            merged["duration"] = str(merged["duration"])
        if merged.get("upscale_factor") is not None:
            merged["upscale_factor"] = str(merged["upscale_factor"])
        fields = request_fields(merged, default_model=default_model)
        if merged.get("prompt"):
            fields["prompt"] = str(merged["prompt"])
        canonical = json.dumps(fields, sort_keys=True, default=str)
        key = hashlib.sha256(f"{batch_id}:{index}:{canonical}".encode()).hexdigest()[:32]
        name = str(merged.get("name") or _slug(str(merged.get("prompt") or fields["model"])))
        filename = merged.get("output") or template.format(
            index=index + 1,
            slug=_slug(str(merged.get("prompt") or "")),
            name=name,
            model=fields["model"],
            key=key[:8],
        )
        rows.append(
            BatchRow(
                index=index + 1, fields=fields, name=name, output=(out_dir / str(filename)), key=key
            )
        )
    outputs = [r.output for r in rows]
    if len(set(outputs)) != len(outputs):
        raise CLIError(
            "two jobs would write the same file; use {index} or {key} in --name", family="usage"
        )
    return rows


async def _price(client: AsyncVeniceVideo, row: BatchRow) -> float:
    body = await anyio.to_thread.run_sync(resolve_fields, row.fields)
    request = await client.validate(body)
    return float((await client.quote(request=request)).quote)


def _entry_state(journal: JournalStore, row: BatchRow) -> str | None:
    entry = journal.get(row.key)
    if entry is None:
        return None
    row.cost = entry.quote_usd
    if entry.status in FINISHED and entry.output_path and Path(entry.output_path).is_file():
        row.path = Path(entry.output_path)
        return "finished"
    return entry.status


async def run_batch(
    client: AsyncVeniceVideo,
    journal: JournalStore,
    rows: list[BatchRow],
    *,
    concurrency: int,
    max_total_cost: float | None,
    confirm: Any,
    on_row: Any,
    timeout: float | None = None,
) -> BatchSummary:
    """Quote every new row, check the budget, then run all rows `concurrency` at a time."""
    summary = BatchSummary(rows=rows)
    new: list[BatchRow] = []
    for row in rows:
        state = _entry_state(journal, row)
        if state == "finished":
            row.status = "skipped"
            on_row(row)
        elif state is None:
            new.append(row)
    committed = sum(r.cost or 0.0 for r in rows if r not in new)

    prices: dict[int, float] = {}

    async def price(row: BatchRow, limit: anyio.CapacityLimiter) -> None:
        async with limit:
            prices[row.index] = await _price(client, row)

    limiter = anyio.CapacityLimiter(max(1, concurrency))
    async with anyio.create_task_group() as tg:
        for row in new:
            tg.start_soon(price, row, limiter)
    planned = sum(prices.values())
    if max_total_cost is not None and committed + planned > max_total_cost + 1e-9:
        raise CLIError(
            f"the batch would cost ${committed + planned:.4f} (${planned:.4f} new, "
            f"${committed:.4f} already queued), over --max-total-cost ${max_total_cost:.4f}; "
            "nothing new was queued",
            family="money",
        )
    if new and not confirm(planned, len(new)):
        raise CLIError("declined; nothing new was queued", family="money")

    async def one(row: BatchRow) -> None:
        async with limiter:
            try:
                if row in new:
                    job = await client.generate(
                        **row.fields,
                        output=row.output,
                        idempotency_key=row.key,
                        max_cost=prices[row.index] * 1.0001 + 1e-9,
                        timeout=timeout,
                        tags={"batch_row": row.index, "batch_name": row.name},
                    )
                else:
                    resumed = await client.resume(keys=[row.key], timeout=timeout)
                    if not resumed:
                        raise CLIError(
                            "its journal entry belongs to another API; resume it "
                            "there with `venice-video jobs resume`"
                        )
                    job = resumed[0]
                _finish(row, job)
            except Exception as error:  # one row failing must not stop the others
                row.status = "failed"
                row.error = str(error) or type(error).__name__
            on_row(row)

    try:
        async with anyio.create_task_group() as tg:
            for row in rows:
                if row.status == "pending":
                    tg.start_soon(one, row)
    except BaseException:
        summary.interrupted = True
        raise
    return summary


def _finish(row: BatchRow, job: VideoJob) -> None:
    row.cost = job.cost if job.cost is not None else row.cost
    if job.status in FINISHED and job.path is not None:
        row.status = "done"
        row.path = job.path
    elif job.status == "UNKNOWN":
        row.status = "unknown"
        row.error = job.error or "queue outcome unknown"
    else:
        row.status = "failed"
        row.error = job.error or f"ended as {job.status}"


def print_summary(summary: BatchSummary, *, stream: Any = None) -> None:
    stream = stream or sys.stderr
    data = summary.as_dict()
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream)
    table = Table(title="batch summary")
    for column in ("done", "skipped", "failed", "pending", "cost"):
        table.add_column(column, justify="right")
    table.add_row(
        str(data["done"]),
        str(data["skipped"]),
        str(data["failed"]),
        str(data["pending"]),
        f"${data['cost_usd']:.4f}",
    )
    console.print(table)
    for row in summary.rows:
        if row.status in ("failed", "unknown"):
            console.print(f"row {row.index} ({row.name}): {row.error}", markup=False)
