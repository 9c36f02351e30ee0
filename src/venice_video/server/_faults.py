"""Seeded fault injection: errors, dropped connections, slow and truncated bodies."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from ._config import FaultConfig

__all__ = ["Fault", "FaultKind", "Faults"]

FaultKind = Literal["error_500", "error_503", "drop", "drop_after_create", "truncate"]
_KINDS: tuple[FaultKind, ...] = ("error_500", "error_503", "drop", "drop_after_create", "truncate")
# Faults that fire whatever the endpoint answers; the others depend on the reply (a 200 for
# drop_after_create, a binary body for truncate) and are counted by `note_fired`.
_ALWAYS = frozenset({"error_500", "error_503", "drop"})


@dataclass(frozen=True)
class Fault:
    """What to do to one request."""

    kind: FaultKind | None
    slow_s: float = 0.0
    slow_chunks: int = 4
    truncate_at: float = 0.5


class Faults:
    """Draws a fault (or none) per request and endpoint from a seeded generator.

    Each endpoint has its own generator, seeded from the configured seed and the endpoint
    name, and one number is drawn per request, so a given sequence of requests to an endpoint
    meets the same faults on every run.
    """

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rngs: dict[str, random.Random] = {}
        self._seen: Counter[str] = Counter()
        self.fired: Counter[str] = Counter()

    @property
    def enabled(self) -> bool:
        return bool(self.config.endpoints)

    def draw(self, endpoint: str) -> Fault | None:
        cfg = self.config.endpoints.get(endpoint)  # type: ignore[call-overload]
        if cfg is None:
            return None
        rng = self._rngs.get(endpoint)
        if rng is None:
            rng = self._rngs[endpoint] = random.Random(f"{self.config.seed}:{endpoint}")
        seen = self._seen[endpoint]
        self._seen[endpoint] += 1
        roll = rng.random()
        if seen < cfg.skip_first:
            return None
        kind: FaultKind | None = None
        if cfg.max_faults is None or self.fired[endpoint] < cfg.max_faults:
            edge = 0.0
            for name in _KINDS:
                if name == "drop_after_create" and endpoint != "queue":
                    continue
                edge += getattr(cfg, name)
                if roll < edge:
                    kind = name
                    break
        if kind is None and cfg.slow_body_s <= 0:
            return None
        if kind in _ALWAYS:
            self.fired[endpoint] += 1
        return Fault(kind, cfg.slow_body_s, cfg.slow_chunks, cfg.truncate_at)

    def note_fired(self, endpoint: str) -> None:
        """Count a fault whose firing depended on the reply (drop_after_create, truncate)."""
        self.fired[endpoint] += 1
