"""The operator's spend gates: a maximum per generation and a budget for the server's lifetime.

Both are fixed when the server starts; no tool can change them. A generation is checked
against its quote before anything is queued, and the amount is held (reserved) while the queue
request is in flight, so two calls at once cannot both squeeze under the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Budget", "SpendRefused"]

_SLACK = 1e-9  # float slack, so $0.30 of budget admits 0.1 + 0.2


class SpendRefused(Exception):
    """The operator's limits do not allow this generation. Nothing was queued.

    Attributes:
        reason: `"per_call_max"` or `"budget"`.
        quote_usd: the price of the refused generation.
        limits: the gates and what is left, for the refusal message.
    """

    def __init__(
        self,
        reason: Literal["per_call_max", "budget"],
        quote_usd: float,
        message: str,
        limits: dict[str, Any],
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.quote_usd = quote_usd
        self.message = message
        self.limits = limits


@dataclass
class Budget:
    """What this server may spend, and what it has spent.

    Args:
        max_cost_per_call: the most one generation may cost, in USD; `None` for no limit.
        total: the most all generations of this server's lifetime may cost; `None` for no limit.
    """

    max_cost_per_call: float | None = None
    total: float | None = None
    spent: float = 0.0
    reserved: float = 0.0

    def __post_init__(self) -> None:
        for name in ("max_cost_per_call", "total"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, got {value!r}")

    @property
    def is_limited(self) -> bool:
        return self.max_cost_per_call is not None or self.total is not None

    @property
    def remaining(self) -> float | None:
        """USD left under the budget, holds included; `None` without a budget."""
        if self.total is None:
            return None
        return max(0.0, round(self.total - self.spent - self.reserved, 6))

    def cap(self) -> float | None:
        """The most the next generation may cost (the tighter gate), or `None`."""
        caps = [c for c in (self.max_cost_per_call, self.remaining) if c is not None]
        return min(caps) if caps else None

    def check(self, quote_usd: float) -> None:
        """Refuse a generation the gates do not allow.

        Raises:
            SpendRefused: the quote is over the per-call maximum or what is left of the budget.
        """
        limit = self.max_cost_per_call
        if limit is not None and quote_usd > limit + _SLACK:
            raise SpendRefused(
                "per_call_max",
                quote_usd,
                f"The quote ${quote_usd:.2f} is over the operator's per-call maximum "
                f"${limit:.2f}; nothing was queued.",
                self.describe(),
            )
        remaining = self.remaining
        if remaining is not None and quote_usd > remaining + _SLACK:
            raise SpendRefused(
                "budget",
                quote_usd,
                f"The quote ${quote_usd:.2f} is over what is left of the operator's budget "
                f"(${remaining:.2f} of ${self.total:.2f}); nothing was queued.",
                self.describe(),
            )

    def hold(self, quote_usd: float) -> None:
        """Check, then set the amount aside while the queue request is in flight."""
        self.check(quote_usd)
        self.reserved = round(self.reserved + quote_usd, 6)

    def settle(self, held_usd: float, charged_usd: float | None) -> None:
        """Release a hold; `charged_usd` (when not `None`) counts as spent."""
        self.reserved = max(0.0, round(self.reserved - held_usd, 6))
        if charged_usd is not None:
            self.spent = round(self.spent + charged_usd, 6)

    def describe(self) -> dict[str, Any]:
        """The gates and the spending so far, as the tools report them."""
        return {
            "max_cost_per_call_usd": self.max_cost_per_call,
            "budget_usd": self.total,
            "spent_usd": round(self.spent, 6),
            "remaining_usd": self.remaining,
        }
