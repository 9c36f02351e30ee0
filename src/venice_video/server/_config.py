"""Settings of the local server, loadable from a JSON file.

Every field has a default that makes the server behave like the hosted API with no surprises:
no faults, no rate limits, unlimited capacity, any Bearer key accepted with a starting balance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = [
    "ENDPOINTS",
    "AccountConfig",
    "EndpointFaults",
    "FaultConfig",
    "PricingTable",
    "RateLimitConfig",
    "ServerConfig",
    "load_accounts_file",
]

MIB = 1024 * 1024
#: Sizes the API documents ("35 MB", "25 MB") are decimal megabytes.
MB = 1_000_000

#: Names used to address endpoints in fault settings.
Endpoint = Literal[
    "quote", "queue", "retrieve", "complete", "download", "transcriptions", "models"
]  # fmt: skip
ENDPOINTS: tuple[str, ...] = (
    "quote", "queue", "retrieve", "complete", "download", "transcriptions", "models"
)  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class AccountConfig(_Strict):
    """One account: a Bearer key (or its SHA-256) and a starting balance.

    The key is held as a secret and hashed on load; the server never stores or logs it.
    """

    key: SecretStr | None = None
    key_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    balance_usd: float = Field(default=100.0, ge=0)
    name: str = ""

    @model_validator(mode="after")
    def _one_key(self) -> AccountConfig:
        if (self.key is None) == (self.key_sha256 is None):
            raise ValueError("give exactly one of 'key' and 'key_sha256'")
        if self.key is not None and not self.key.get_secret_value().strip():
            raise ValueError("'key' must not be empty")
        return self


class PricingTable(_Strict):
    """What the server charges, in USD.

    With `listed_prices` (the default) a generation costs what Venice's `/video/quote`
    answered on 2026-09-29 for that model, resolution, duration and audio setting (the list
    ships with the package), and a combination the list lacks follows a rule fitted to it
    (see docs/server.md), times `model_multipliers[model id]` when set.

    Without it, a generation costs `duration x (per_second_usd[resolution] +
    audio_per_second_usd if the clip has audio) x multiplier`, placeholder numbers, where the
    multiplier is `model_multipliers[model id]` when set, else the first `family_multipliers`
    entry whose key occurs in the model id, else 1. Either way an upscale costs `input duration
    x upscale_per_second_usd[factor]`.
    """

    #: Charge Venice's listed prices (and the rule fitted to them) rather than the formula.
    listed_prices: bool = True

    per_second_usd: dict[str, float] = Field(
        default_factory=lambda: {
            "256p": 0.02,
            "360p": 0.03,
            "480p": 0.05,
            "540p": 0.06,
            "580p": 0.06,
            "720p": 0.08,
            "768p": 0.08,
            "1080p": 0.12,
            "true_1080p": 0.15,
            "1440p": 0.18,
            "2k": 0.18,
            "2160p": 0.30,
            "4k": 0.30,
        }  # fmt: skip
    )
    #: Used for models that take no resolution, and for labels missing from the table.
    default_per_second_usd: float = 0.08
    audio_per_second_usd: float = 0.02
    upscale_per_second_usd: dict[int, float] = Field(
        default_factory=lambda: {1: 0.013, 2: 0.025, 4: 0.10}
    )
    model_multipliers: dict[str, float] = Field(default_factory=dict)
    family_multipliers: dict[str, float] = Field(
        default_factory=lambda: {
            "fast": 0.6,
            "turbo": 0.7,
            "mini": 0.5,
            "distilled": 0.5,
            "flash": 0.6,
            "-pro": 1.4,
            "-full": 1.5,
            "4k": 2.0,
        }  # fmt: skip
    )
    minimum_usd: float = 0.001
    audio_transcription_per_second_usd: float = 0.0001
    video_transcription_per_second_usd: float = 0.0001


class RateLimitConfig(_Strict):
    """Per-account request limits over fixed windows of server time (off by default)."""

    enabled: bool = False
    queue_per_window: int = Field(default=40, ge=1)
    retrieve_per_window: int = Field(default=120, ge=1)
    window_s: float = Field(default=60.0, gt=0)


class EndpointFaults(_Strict):
    """Faults injected at one endpoint. Rates are probabilities per request (0 to 1).

    At most one of `error_500`, `error_503`, `drop`, `drop_after_create` and `truncate` fires
    per request; `slow_body_s` applies on its own.
    """

    #: Answer 500 `{error}` without running the endpoint.
    error_500: float = Field(default=0.0, ge=0, le=1)
    #: Answer 503 `{error}` with Retry-After without running the endpoint.
    error_503: float = Field(default=0.0, ge=0, le=1)
    #: Read the request, send the response head, then close the connection: nothing ran.
    drop: float = Field(default=0.0, ge=0, le=1)
    #: Queue only: run the endpoint (the job is created and charged), then close the
    #: connection before the client sees the body. Fires only on a 200.
    drop_after_create: float = Field(default=0.0, ge=0, le=1)
    #: Send only `truncate_at` of the body, then close the connection.
    truncate: float = Field(default=0.0, ge=0, le=1)
    truncate_at: float = Field(default=0.5, ge=0, lt=1)
    #: Real seconds to wait between body chunks (0: no delay).
    slow_body_s: float = Field(default=0.0, ge=0)
    slow_chunks: int = Field(default=4, ge=2)
    #: Let this many requests through untouched before faults may fire.
    skip_first: int = Field(default=0, ge=0)
    #: Stop injecting after this many faults (None: no limit).
    max_faults: int | None = Field(default=None, ge=0)


class FaultConfig(_Strict):
    """Fault injection for tests, per endpoint; reproducible for a given seed."""

    seed: int = 0
    endpoints: dict[Endpoint, EndpointFaults] = Field(default_factory=dict)


class ServerConfig(_Strict):
    """Everything the local server can be told. All fields are optional.

    ```python
    config = ServerConfig(data_dir=Path("state"), speed=100, blocked_terms=["forbidden"])
    config = ServerConfig.from_file("server.json")  # the same fields, as JSON
    ```
    """

    #: Where `server.sqlite3`, `media/` and `inputs/` live. None: a temporary directory,
    #: removed when the app shuts down.
    data_dir: Path | None = None
    #: Server time runs this many times faster than real time.
    speed: float = Field(default=1.0, gt=0)
    #: Render threads (None: the CPU count).
    workers: int | None = Field(default=None, ge=1)
    #: Seeds the simulated execution times.
    seed: int = 0

    # Accounts
    #: Balance given to a key seen for the first time when no accounts are configured.
    starting_balance_usd: float = Field(default=100.0, ge=0)
    accounts: list[AccountConfig] | None = None
    accounts_file: Path | None = None

    # Inputs and limits
    #: Let queue inputs and transcription URLs point at loopback/private hosts (tests).
    allow_private_urls: bool = False
    #: 35 MB (35,000,000 bytes): the queue's documented limit; quote bodies too.
    max_queue_body_bytes: int = Field(default=35 * MB, ge=1)
    #: 25 MB (25,000,000 bytes): the spec's limit for an uploaded audio file.
    max_audio_body_bytes: int = Field(default=25 * MB, ge=1)
    max_json_body_bytes: int = Field(default=1 * MIB, ge=1)
    #: Largest single fetched input (image, video, audio URL).
    max_input_bytes: int = Field(default=50 * MIB, ge=1)
    #: Largest media `/video/transcriptions` downloads from its URL.
    max_transcription_url_bytes: int = Field(default=200 * MIB, ge=1)
    fetch_timeout_s: float = Field(default=30.0, gt=0)

    # Emulation choices where the sources disagree (see docs/server.md)
    #: Status for a queue_id that is not a UUID: 404 (like unknown ids) or 400
    #: `REQUEST_ID_NOT_FOUND` "Request ID is invalid.".
    malformed_id_status: Literal[404, 400] = 404
    #: Answer `/video/complete` for download_url jobs with 400 "Request ID is invalid.".
    vps_complete_rejects: bool = False
    #: Models whose queue returns a download_url (None: the catalog's `vps_backed` models).
    vps_models: list[str] | None = None
    download_url_ttl_s: float = Field(default=86_400.0, gt=0)
    #: Complete downloads allowed per download_url before 429 (None: unlimited).
    download_fetch_limit: int | None = Field(default=None, ge=1)

    # Capacity and outcomes
    #: Max jobs of a model processing at once; later jobs wait, and their retrieves get 503.
    model_capacity: dict[str, int] = Field(default_factory=dict)
    default_capacity: int | None = Field(default=None, ge=1)
    #: Prompt terms refused at queue time: 422 `{error, suggested_prompt}`.
    blocked_terms: list[str] = Field(default_factory=list)
    #: Prompt terms the "provider" rejects when the job finishes: retrieve 422, refunded.
    provider_blocked_terms: list[str] = Field(default_factory=list)
    provider_recommended_model: str | None = None
    #: Prompt terms that make inference fail when the job finishes: retrieve 500, refunded.
    failing_terms: list[str] = Field(default_factory=list)
    #: Refuse `aspect_ratio` sent to a model that lists none (400), as Seedance image-to-video
    #: does; by default it is accepted and ignored, as the API's guide says such models do.
    strict_aspect_ratio: bool = False
    #: Models that need `consents.seedance` when sent image or video media (409).
    consent_models: list[str] = Field(default_factory=list)

    #: Refuse queue and quote keys the request schema lacks (400 "Unrecognized key(s) in
    #: object"), as the live API does; off, unknown keys are ignored.
    strict_keys: bool = True

    rate_limits: RateLimitConfig = Field(default_factory=RateLimitConfig)
    faults: FaultConfig = Field(default_factory=FaultConfig)
    pricing: PricingTable = Field(default_factory=PricingTable)

    # Simulated execution time
    execution_time_scale: float = Field(default=1.0, ge=0)
    #: Seeded random spread: each job takes base x uniform(1 - spread, 1 + spread).
    execution_time_spread: float = Field(default=0.25, ge=0, lt=1)
    #: average_execution_time is the P80 of this many recent jobs of the model.
    average_window: int = Field(default=50, ge=1)

    #: Sent as `x-venice-version`.
    api_version: str = "20260821.193530"
    #: Base for download_url links, e.g. "https://videos.example". None: the request's host.
    public_url: str | None = None

    @classmethod
    def from_file(cls, path: str | Path) -> ServerConfig:
        """Read a JSON object with the same field names (paths relative to the file)."""
        path = Path(path)
        data = json.loads(path.read_text("utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object")
        for name in ("data_dir", "accounts_file"):
            if isinstance(data.get(name), str) and not Path(data[name]).is_absolute():
                data[name] = str(path.parent / data[name])
        return cls.model_validate(data)

    def all_accounts(self) -> list[AccountConfig] | None:
        """The configured accounts, from `accounts` and `accounts_file`; None for open mode."""
        if self.accounts is None and self.accounts_file is None:
            return None
        found = list(self.accounts or ())
        if self.accounts_file is not None:
            found += load_accounts_file(self.accounts_file)
        return found


def load_accounts_file(path: str | Path) -> list[AccountConfig]:
    """Parse `{"accounts": [{"key": "...", "balance_usd": 10.0, "name": "..."}]}`."""
    data: Any = json.loads(Path(path).read_text("utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), list):
        raise ValueError(f'{path}: expected {{"accounts": [...]}}')
    return [AccountConfig.model_validate(item) for item in data["accounts"]]
