"""The running server's state, shared by the request handlers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._catalog import Catalog, VideoModel
from ._accounts import Accounts
from ._clock import Clock
from ._config import ServerConfig
from ._faults import Faults
from ._fetch import Fetcher, FetchPolicy
from ._http import Call
from ._jobs import Job, JobManager
from ._ratelimit import RateLimiter
from ._store import Store

__all__ = ["ServerState", "render_job"]


def render_job(
    queue_id: str,
    params: Mapping[str, Any],
    inputs: Mapping[str, list[str]],
    input_dir: Path,
    out_path: Path,
) -> int:
    """Render one job's placeholder clip (blocking, for the worker pool); returns its size."""
    from ._render import RenderSpec, render

    def blobs(name: str) -> tuple[bytes, ...]:
        return tuple((input_dir / f).read_bytes() for f in inputs.get(name, ()))

    def first(name: str) -> bytes | None:
        found = blobs(name)
        return found[0] if found else None

    spec = RenderSpec(
        width=int(params.get("width") or 0),
        height=int(params.get("height") or 0),
        duration_s=float(params.get("duration_s") or 5.0),
        prompt=str(params.get("prompt") or ""),
        seed=int(params.get("seed") or 0),
        fps=int(params.get("fps") or 24),
        audio=bool(params.get("audio")),
        image=first("image"),
        end_image=first("end_image"),
        audio_track=first("audio_track"),
        video=first("video"),
        upscale_factor=params.get("upscale_factor"),
        reference_images=blobs("reference_images"),
        scene_images=blobs("scene_images"),
        element_images=blobs("element_images"),
    )
    return render(spec, out_path).size_bytes


class ServerState:
    """Everything a handler needs; made at startup, closed at shutdown."""

    def __init__(self, config: ServerConfig, clock: Clock, catalog: Catalog) -> None:
        self.config = config
        self.clock = clock
        self.catalog = catalog
        self._tmp: Path | None = None
        if config.data_dir is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="venice-video-server-"))
        self.data_dir = config.data_dir or self._tmp
        assert self.data_dir is not None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.data_dir / "server.sqlite3")
        last = self.store.meta("clock_wall")
        if last is not None:
            # Time never runs backwards on a data directory, whatever the speed of the last run.
            advance_to = getattr(clock, "advance_to", None)
            if advance_to is not None:
                advance_to(float(last))
        self.accounts = Accounts(
            self.store,
            clock,
            configured=config.all_accounts(),
            starting_balance_usd=config.starting_balance_usd,
        )
        self.jobs = JobManager(
            config=config,
            clock=clock,
            store=self.store,
            accounts=self.accounts,
            data_dir=self.data_dir,
            model_lookup=catalog.get,
            render=render_job,
        )
        #: The one way the server reaches outside URLs (inputs, probes, transcriptions).
        self.fetcher = Fetcher(allow_private=config.allow_private_urls)
        self.limiter = RateLimiter(config.rate_limits, clock)
        self.faults = Faults(config.faults)
        self._secret = self.store.secret()
        vps = config.vps_models
        self.vps_models = (
            frozenset(vps) if vps is not None else frozenset(m.id for m in catalog if m.vps_backed)
        )
        self.inflight: dict[tuple[str, str], asyncio.Future[None]] = {}
        self.models_cache: dict[str, bytes] = {}
        self.speed = float(getattr(clock, "speed", 1.0))

    def start(self) -> None:
        self.jobs.start()

    async def close(self) -> None:
        await self.jobs.close()
        self.store.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    # --- helpers ---------------------------------------------------------------------------

    def model(self, model_id: object) -> VideoModel | None:
        return self.catalog.get(model_id) if isinstance(model_id, str) else None

    def is_vps(self, model: VideoModel) -> bool:
        return model.id in self.vps_models

    def fetch_policy(self) -> FetchPolicy:
        return FetchPolicy(
            max_bytes=self.config.max_input_bytes,
            timeout_s=self.config.fetch_timeout_s,
            allow_private=self.config.allow_private_urls,
            fetcher=self.fetcher,
        )

    # --- download tokens -------------------------------------------------------------------

    def token_for(self, queue_id: str) -> str:
        raw = uuid.UUID(queue_id).bytes
        mac = hmac.new(self._secret, b"download:" + raw, hashlib.sha256).digest()[:16]
        return f"{_b64(raw)}.{_b64(mac)}"

    def job_for_token(self, token: str) -> Job | None:
        if len(token) > 64 or token.count(".") != 1:
            return None
        left, right = token.split(".")
        try:
            raw = base64.urlsafe_b64decode(left + "==")
            mac = base64.urlsafe_b64decode(right + "==")
        except (ValueError, TypeError):
            return None
        if len(raw) != 16:
            return None
        want = hmac.new(self._secret, b"download:" + raw, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(mac, want):
            return None
        return self.jobs.jobs.get(str(uuid.UUID(bytes=raw)))

    def download_url(self, call: Call, queue_id: str) -> str:
        base = self.config.public_url
        if not base:
            host = call.header(b"host")
            if not host:
                server = call.scope.get("server") or ("127.0.0.1", 80)
                host = f"{server[0]}:{server[1]}"
            base = f"{call.scope.get('scheme', 'http')}://{host}"
        return f"{base.rstrip('/')}/media/{self.token_for(queue_id)}"

    def balance_header(self, balance_micro: int) -> tuple[bytes, bytes]:
        return (b"x-venice-balance-usd", f"{balance_micro / 1_000_000:.6f}".encode())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
