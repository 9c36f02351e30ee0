"""Handlers for the video endpoints, the model list and the download URLs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import uuid
from collections.abc import Mapping
from typing import Any

from .._validation import Issue, error_body, validate_queue, validate_quote
from ._accounts import micro
from ._http import (
    Call,
    FileBody,
    HTTPError,
    RangeNotSatisfiable,
    Reply,
    error,
    json_reply,
    parse_range,
    read_body,
)
from ._inputs import prepare, reference_total_s, render_params
from ._jobs import Job, Outcome
from ._json import loads as strict_loads
from ._pricing import quote_usd
from ._state import ServerState
from ._store import AccountRow, IdempotencyRow

__all__ = [
    "complete",
    "download",
    "models",
    "queue",
    "quote",
    "require_account",
    "retrieve",
]

NOT_FOUND = "Media could not be found. Request may be invalid, expired, or deleted."
INVALID_ID = "Request ID is invalid."
AT_CAPACITY = "The model is at capacity. Please try again later."
MODEL_TYPES = (
    "asr", "embedding", "image", "music", "text", "tts", "upscale", "inpaint", "video",
    "all", "code",
)  # fmt: skip
CONSENT_VERSION = "2026-06-10"
CONSENT_POLICY = (
    "Media that shows a real person may be used only with that person's consent. Confirm that "
    "you accept the terms and privacy policy, that you have the legal right to use the media, "
    "and that you understand it will be screened."
)
CONSENT_DOCS = "https://docs.venice.ai/guides/media/seedance-2-0"
IDEMPOTENCY_KEY_MAX = 255
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


# --- shared helpers ----------------------------------------------------------------------


def require_account(state: ServerState, call: Call) -> AccountRow:
    """The caller's account, or 401; adds the balance header (balance before the request)."""
    # Settle due jobs first, so refunds they bring show in the balance reported.
    state.jobs.tick()
    account = state.accounts.authenticate(call.header(b"authorization"))
    if account is None:
        raise error(401, "Authentication failed")
    call.account = account
    call.extra_headers.append(state.balance_header(account.balance_micro))
    return account


def optional_account(state: ServerState, call: Call) -> AccountRow | None:
    header = call.header(b"authorization")
    if not header:
        return None
    account = state.accounts.authenticate(header)
    if account is not None:
        call.account = account
        call.extra_headers.append(state.balance_header(account.balance_micro))
    return account


def parse_json(raw: bytes) -> Any:
    """Decode a JSON body, or 400 with a message saying what is wrong."""
    if not raw.strip():
        raise _invalid([Issue((), "The request body is empty; expected a JSON object",
                              code="invalid_type", expected="object")])  # fmt: skip
    try:
        return strict_loads(raw)
    except UnicodeDecodeError:
        raise _invalid(
            [Issue((), "The request body is not valid UTF-8", code="invalid_json")]
        ) from None
    except (ValueError, RecursionError) as exc:
        message = f"The request body is not valid JSON: {exc}"[:300]
        raise _invalid([Issue((), message, code="invalid_json")]) from None


def _invalid(issues: list[Issue]) -> HTTPError:
    return HTTPError(json_reply(400, error_body(issues)))


def _object_body(
    raw: bytes, fields: Mapping[str, str], required: tuple[str, ...]
) -> dict[str, Any]:
    """A small JSON object with `additionalProperties: false`; `fields` maps name to type."""
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise _invalid([Issue((), "Expected a JSON object", code="invalid_type",
                              expected="object")])  # fmt: skip
    if _well_formed(body, fields, required):
        return body
    issues: list[Issue] = []
    extra = sorted(k for k in body if k not in fields)
    if extra:
        issues.append(
            Issue(
                (),
                f"Unrecognized key(s) in object: {', '.join(map(repr, extra))[:200]}",
                code="unrecognized_keys",
            )  # fmt: skip
        )
    for name in required:
        if body.get(name) is None:
            issues.append(Issue((name,), "Required", code="invalid_type", received="undefined"))
    for name, kind in fields.items():
        value = body.get(name)
        if value is None:
            continue
        ok = isinstance(value, bool) if kind == "boolean" else isinstance(value, str)
        if ok and kind == "string" and not value:
            issues.append(Issue((name,), "String must contain at least 1 character(s)",
                                code="too_small"))  # fmt: skip
        elif not ok:
            issues.append(Issue((name,), f"Expected {kind}, received {_type(value)}",
                                code="invalid_type", expected=kind))  # fmt: skip
    if issues:
        raise _invalid(issues)
    return body


def _well_formed(
    body: dict[str, Any], fields: Mapping[str, str], required: tuple[str, ...]
) -> bool:
    # The common case, checked without building anything: polls arrive by the thousand.
    for name, value in body.items():
        kind = fields.get(name)
        if kind == "string":
            if value.__class__ is not str or not value:
                return False
        elif kind != "boolean" or value.__class__ is not bool:
            return False
    return all(name in body for name in required)


def _type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null" if value is None else "string"


def _find_job(state: ServerState, account: AccountRow, body: Mapping[str, Any]) -> Job:
    raw_id = body["queue_id"]
    if len(raw_id) > 64 or not _UUID.match(raw_id):
        if state.config.malformed_id_status == 400:
            raise error(400, INVALID_ID, code="REQUEST_ID_NOT_FOUND")
        raise error(404, NOT_FOUND)
    job = state.jobs.jobs.get(raw_id.lower())
    # Another account's job, or the right id under the wrong model, is as unknown as no job.
    if job is None or job.account != account.key_hash or job.model != body["model"]:
        raise error(404, NOT_FOUND)
    return job


def _rate_limit(state: ServerState, call: Call, account: AccountRow, kind: str) -> None:
    decision = state.limiter.check(account.key_hash, kind)
    if decision is None:
        return
    call.extra_headers += decision.headers()
    if not decision.allowed:
        retry = state.limiter.retry_after(decision)
        reply = json_reply(
            429,
            {"error": f"Rate limit exceeded: at most {decision.limit} video {kind} requests per "
             f"{state.config.rate_limits.window_s:g} s. Retry after {retry} s.",
             "code": "RATE_LIMIT_EXCEEDED"},
            [(b"retry-after", str(retry).encode())],
        )  # fmt: skip
        raise HTTPError(reply)


def _terms(text: str, terms: list[str]) -> list[str]:
    lowered = text.lower()
    return [t for t in terms if t and t.lower() in lowered]


def _without(text: str, terms: list[str]) -> str:
    for term in terms:
        text = re.sub(re.escape(term), "", text, flags=re.IGNORECASE)
    return re.sub(r"\s{2,}", " ", text).strip()


# --- GET /models -------------------------------------------------------------------------


async def models(state: ServerState, call: Call) -> Reply:
    kind = call.query().get("type")
    if kind is None:
        # The hosted API lists text models when no type is given.
        kind = "text"
    cached = state.models_cache.get(kind)
    if cached is None:
        if kind not in MODEL_TYPES:
            raise _invalid([Issue(("type",), f"Invalid enum value. Expected one of "
                                  f"{', '.join(MODEL_TYPES)}; received {kind[:50]!r}",
                                  code="invalid_enum_value", received=kind[:50],
                                  allowed=MODEL_TYPES)])  # fmt: skip
        envelope = state.catalog.to_api()
        envelope["type"] = kind
        if kind not in ("video", "all"):
            envelope["data"] = []
        cached = json.dumps(envelope, separators=(",", ":")).encode()
        state.models_cache[kind] = cached
    optional_account(state, call)
    return Reply(200, cached)


# --- POST /video/quote -------------------------------------------------------------------


async def quote(state: ServerState, call: Call) -> Reply:
    optional_account(state, call)
    body = parse_json(await read_body(call, state.config.max_queue_body_bytes))
    issues = validate_quote(body, state.catalog, strict_keys=state.config.strict_keys)
    if issues:
        raise _invalid(issues)
    model = state.catalog[body["model"]]
    input_duration: float | None = None
    if model.is_upscale or model.auto_duration:
        if isinstance(body.get("video_url"), str) and body["video_url"]:
            probe_body = {"video_url": body["video_url"]}
            prepared = await prepare(probe_body, model, policy=state.fetch_policy)
            if prepared.issues:
                raise _invalid(prepared.issues)
            input_duration = prepared.input_duration_s
        elif body.get("reference_video_total_duration") is not None:
            input_duration = reference_total_s(body)
        else:
            raise _invalid([Issue(("video_url",), f"Required: {model.id} prices by the length "
                                  "of the input video; send video_url", code="invalid_type",
                                  received="undefined")])  # fmt: skip
    elif body.get("duration") in ("-1", "auto") and body.get("reference_video_total_duration"):
        input_duration = reference_total_s(body)
    price = quote_usd(state.config.pricing, model, body, input_duration_s=input_duration)
    return json_reply(200, {"quote": price})


# --- POST /video/queue -------------------------------------------------------------------


async def queue(state: ServerState, call: Call) -> Reply:
    account = require_account(state, call)
    _rate_limit(state, call, account, "queue")
    account.queue_requests += 1
    state.accounts.save(account)
    body = parse_json(await read_body(call, state.config.max_queue_body_bytes))
    key = call.header(b"idempotency-key")
    if key is None:
        return await _queue(state, call, account, body, None)
    if not key or len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
        raise error(400, f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} printable "
                    "characters")  # fmt: skip
    digest = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    slot = (account.key_hash, key)
    while True:
        row = state.store.idempotency(account.key_hash, key)
        if row is not None:
            if row.body_hash != digest:
                raise error(
                    422,
                    "Idempotency-Key was already used with a different request "
                    "body; use a new key for a new request",
                    code="IDEMPOTENCY_MISMATCH",
                )
            row.requests += 1
            state.store.save_idempotency(row)
            account.queue_replays += 1
            state.accounts.save(account)
            return json_reply(row.status, row.response, [(b"idempotent-replayed", b"true")])
        running = state.inflight.get(slot)
        if running is None:
            break
        # The first request with this key is still being handled: wait for its outcome rather
        # than creating a second job.
        await asyncio.shield(running)
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    state.inflight[slot] = future
    try:
        return await _queue(state, call, account, body, key, digest)
    finally:
        del state.inflight[slot]
        future.set_result(None)


async def _queue(
    state: ServerState,
    call: Call,
    account: AccountRow,
    body: Any,
    key: str | None,
    digest: str = "",
) -> Reply:
    config = state.config
    issues = validate_queue(
        body,
        state.catalog,
        strict_keys=state.config.strict_keys,
        strict_aspect_ratio=config.strict_aspect_ratio,
    )
    if issues:
        raise _invalid(issues)
    model = state.catalog[body["model"]]
    if not model.aspect_ratios:
        body.pop("aspect_ratio", None)  # ignored: the output follows the input
    if model.id in config.consent_models:
        _check_consent(body)
    prompt = body.get("prompt") if isinstance(body.get("prompt"), str) else ""
    blocked = _terms(prompt, config.blocked_terms)
    if blocked:
        raise error(422, "Your prompt violates the content policy of Venice.ai or the model "
                    "provider", suggested_prompt=_without(prompt, blocked))  # fmt: skip
    prepared = await prepare(body, model, policy=state.fetch_policy)
    if prepared.issues:
        raise _invalid(prepared.issues)
    price = quote_usd(config.pricing, model, body, input_duration_s=prepared.input_duration_s)
    price_micro = micro(price)
    if price_micro > account.balance_micro:
        raise _insufficient(price, account)
    queue_id = state.jobs.new_queue_id()
    outcome: Outcome = "ok"
    if _terms(prompt, config.failing_terms):
        outcome = "inference_failed"
    if _terms(prompt, config.provider_blocked_terms):
        outcome = "provider_content_policy"
    params = render_params(model, body, prepared, seed=_seed(queue_id, key))
    vps = state.is_vps(model)
    response: dict[str, Any] = {"model": model.id, "queue_id": queue_id}
    if vps:
        response["download_url"] = state.download_url(call, queue_id)
    replay = None
    if key is not None:
        replay = IdempotencyRow(account.key_hash, key, digest, 200, response, queue_id,
                                state.clock.wall(), 1, 1)  # fmt: skip
    # The inputs go to disk first; the charge, the job and its idempotency record then commit
    # in one transaction, so a crash leaves all of them or none.
    inputs = await state.jobs.store_inputs(queue_id, prepared.media)
    job = state.jobs.create(
        queue_id=queue_id,
        account=account,
        model=model,
        vps=vps,
        params=params,
        inputs=inputs,
        price_micro=price_micro,
        outcome=outcome,
        idempotency=replay,
    )
    if job is None:  # other requests spent the balance while the inputs were written
        raise _insufficient(price, account)
    return json_reply(200, response)


def _seed(queue_id: str, key: str | None) -> int:
    """The render seed: from the Idempotency-Key when there is one, so the same keyed
    request renders the same clip on any account or server (reproducible tests and demos);
    else from the job's own id."""
    if key is not None:
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") & 0x7FFFFFFF
    return uuid.UUID(queue_id).int & 0x7FFFFFFF


def _insufficient(price: float, account: AccountRow) -> HTTPError:
    return error(402, f"Insufficient balance: this request costs ${price:.6f} and the "
                 f"balance is ${account.balance_micro / 1_000_000:.6f}",
                 code="INSUFFICIENT_BALANCE")  # fmt: skip


def _check_consent(body: Mapping[str, Any]) -> None:
    roles = []
    if body.get("image_url"):
        roles.append("image")
    if body.get("end_image_url"):
        roles.append("end_image")
    if body.get("reference_image_urls") or body.get("elements") or body.get("scene_image_urls"):
        roles.append("reference_image")
    if body.get("video_url"):
        roles.append("video")
    if body.get("reference_video_urls"):
        roles.append("reference_video")
    if not roles:
        return
    consents = body.get("consents")
    seedance = consents.get("seedance") if isinstance(consents, Mapping) else None
    if isinstance(seedance, Mapping) and all(
        seedance.get(flag) is True
        for flag in (
            "confirmed_terms_and_privacy",
            "confirmed_legal_right",
            "confirmed_screening_acknowledged",
        )
    ):
        return
    raise HTTPError(
        json_reply(
            409,
            {
                "error": {
                    "code": "needs_consent",
                    "message": "This model needs your consent before it can use media that may "
                    "show people. Resend the request with consents.seedance.",
                },
                "consent_flow": "seedance",
                "face_media_roles": roles,
                "consent": {"consent_version": CONSENT_VERSION, "policy_text": CONSENT_POLICY},
                "docs_url": CONSENT_DOCS,
            },
        )
    )


# --- POST /video/retrieve ----------------------------------------------------------------

_PROCESSING = b'{"status":"PROCESSING","average_execution_time":%d,"execution_duration":%d}'
_RETRIEVE_FIELDS = {
    "model": "string",
    "queue_id": "string",
    "delete_media_on_completion": "boolean",
}


async def retrieve(state: ServerState, call: Call) -> Reply:
    account = require_account(state, call)
    _rate_limit(state, call, account, "retrieve")
    raw = await read_body(call, state.config.max_json_body_bytes)
    body = _object_body(raw, _RETRIEVE_FIELDS, ("model", "queue_id"))
    job = _find_job(state, account, body)
    jobs = state.jobs
    status = job.state
    if status == "processing":
        model = state.catalog.get(job.model)
        average = jobs.average_ms(model) if model is not None else 0.0
        return Reply(200, _PROCESSING % (round(average), round(jobs.execution_ms(job))))
    if status == "queued":
        retry = _capacity_retry_after(state, job)
        raise HTTPError(json_reply(503, {"error": AT_CAPACITY, "code": "MODEL_AT_CAPACITY"},
                                   [(b"retry-after", str(retry).encode())]))  # fmt: skip
    if status == "failed":
        if job.outcome == "provider_content_policy":
            detail: dict[str, Any] = {
                "message": "The selected model provider rejected this request due to its "
                "content policies. Credits have been refunded.",
                "type": "provider_content_policy",
                "credits_refunded": True,
            }
            if state.config.provider_recommended_model:
                detail["recommended_model"] = state.config.provider_recommended_model
                detail["message"] += (
                    f" Try using {state.config.provider_recommended_model} instead."
                )
            raise HTTPError(json_reply(422, {"error": detail}))
        raise error(500, "Inference processing failed. Credits have been refunded.",
                    code="INFERENCE_FAILED", credits_refunded=True)  # fmt: skip
    if status != "ready":
        raise error(404, NOT_FOUND)
    delete_after = body.get("delete_media_on_completion") is True
    model = state.catalog.get(job.model)
    timings = {
        "average_execution_time": round(jobs.average_ms(model)) if model is not None else 0,
        "execution_duration": round(jobs.execution_ms(job)),
    }
    if job.vps:
        if delete_after and not job.delete_on_delivery:
            # The file is delivered through download_url: delete it after the first complete
            # download there.
            job.delete_on_delivery = True
            jobs.save(job)
        return json_reply(200, {"status": "COMPLETED", **timings})
    try:
        handle = jobs.media_path(job).open("rb")
    except OSError:
        raise error(404, NOT_FOUND) from None
    size = _size(handle)

    def finished() -> None:
        if delete_after:
            job.delete_on_delivery = True
        jobs.delivered(job)

    return Reply(
        200,
        content_type=b"video/mp4",
        headers=[(b"content-disposition", f'attachment; filename="{job.queue_id}.mp4"'.encode())],
        file=FileBody(handle, 0, size, finished),
    )


def _size(handle: Any) -> int:
    import os

    return os.fstat(handle.fileno()).st_size


def _capacity_retry_after(state: ServerState, job: Job) -> int:
    now = state.clock.wall()
    ends = [
        j.sim_end - now
        for j in state.jobs.jobs.values()
        if j.model == job.model and j.state == "processing" and j.sim_end is not None
    ]
    return max(1, math.ceil(min(ends))) if ends else 5


# --- POST /video/complete ----------------------------------------------------------------


async def complete(state: ServerState, call: Call) -> Reply:
    account = require_account(state, call)
    raw = await read_body(call, state.config.max_json_body_bytes)
    body = _object_body(raw, {"model": "string", "queue_id": "string"}, ("model", "queue_id"))
    job = _find_job(state, account, body)
    if job.vps and state.config.vps_complete_rejects:
        raise error(400, INVALID_ID, code="REQUEST_ID_NOT_FOUND")
    if job.state == "deleted":
        raise error(404, NOT_FOUND)
    state.jobs.delete(job)
    return json_reply(200, {"success": True})


# --- /media/{token}: the pre-signed download_url -----------------------------------------


async def download(state: ServerState, call: Call, token: str) -> Reply:
    job = state.job_for_token(token)
    if job is None:
        raise error(404, "Not found")
    jobs = state.jobs
    jobs.tick()
    if job.revoked:
        raise error(410, "This download link has been revoked")
    if state.clock.wall() >= job.created + state.config.download_url_ttl_s:
        raise error(410, "This download link has expired")
    if call.method == "DELETE":
        jobs.revoke(job)
        return Reply(204, content_type=None)
    if job.state != "ready":
        if job.state in ("queued", "processing"):
            raise error(404, "The video is not ready yet; poll /video/retrieve until COMPLETED")
        raise error(404, "The video no longer exists")
    limit = state.config.download_fetch_limit
    if limit is not None and job.downloads >= limit:
        raise HTTPError(json_reply(429, {"error": "This download link has been fetched too "
                                         "many times"}, [(b"retry-after", b"60")]))  # fmt: skip
    try:
        handle = jobs.media_path(job).open("rb")
    except OSError:
        raise error(404, "The video no longer exists") from None
    size = _size(handle)
    headers = [
        (b"accept-ranges", b"bytes"),
        (b"etag", f'"{job.queue_id}-{size}"'.encode()),
        (b"cache-control", b"private, max-age=0"),
    ]
    try:
        wanted = parse_range(call.header(b"range"), size)
    except RangeNotSatisfiable:
        handle.close()
        reply = json_reply(416, {"error": "Requested range not satisfiable"})
        reply.headers += [(b"content-range", f"bytes */{size}".encode()), *headers]
        raise HTTPError(reply) from None
    status, start, length = 200, 0, size
    if wanted is not None:
        status, (start, length) = 206, wanted
        headers.append((b"content-range", f"bytes {start}-{start + length - 1}/{size}".encode()))
    reaches_end = start + length == size

    def finished() -> None:
        job.downloads += 1
        if reaches_end:
            jobs.delivered(job)
        else:
            jobs.save(job)

    if call.method == "HEAD":
        handle.close()
        return Reply(status, content_type=b"video/mp4", headers=headers,
                     file=FileBody(None, start, length, None))  # fmt: skip
    return Reply(status, content_type=b"video/mp4", headers=headers,
                 file=FileBody(handle, start, length, finished))  # fmt: skip


# --- /_local: test support (an extension of this server) ---------------------------------


async def local_ping(state: ServerState, call: Call) -> Reply:
    return Reply(200, b'{"ok":true}')


async def local_stats(state: ServerState, call: Call) -> Reply:
    account = require_account(state, call)
    jobs = [j for j in state.jobs.jobs.values() if j.account == account.key_hash]
    keys = {
        row.key: {
            "requests": row.requests,
            "jobs_created": row.jobs_created,
            "queue_id": row.queue_id,
        }
        for row in state.store.idempotency_rows(account.key_hash)
    }
    states: dict[str, int] = {}
    for job in jobs:
        states[job.state] = states.get(job.state, 0) + 1
    return json_reply(
        200,
        {
            "account": {"name": account.name, "balance_usd": account.balance_micro / 1_000_000},
            "queue_requests": account.queue_requests,
            "queue_replays": account.queue_replays,
            "jobs_created": account.jobs_created,
            "jobs_total": len(jobs),
            "jobs_by_state": states,
            "idempotency_keys": keys,
            "rate_limited": {
                kind: state.limiter.rejected.get((account.key_hash, kind), 0)
                for kind in ("queue", "retrieve")
            },
            "server_time": state.clock.wall(),
            "speed": state.speed,
        },
    )


async def local_jobs(state: ServerState, call: Call) -> Reply:
    account = require_account(state, call)
    state.jobs.tick()
    data = [
        state.jobs.summary(job)
        for job in state.jobs.jobs.values()
        if job.account == account.key_hash
    ]
    return json_reply(200, {"object": "list", "data": data})
