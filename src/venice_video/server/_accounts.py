"""Bearer-key accounts and their balances.

Keys are identified by their SHA-256 only: the raw key is hashed as it arrives and never kept,
stored or logged. Balances are integer micro-USD so sums never drift.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from ._clock import Clock
from ._config import AccountConfig
from ._store import AccountRow, Store

__all__ = ["Accounts", "hash_key", "micro", "usd"]

MAX_KEY_LENGTH = 512


def hash_key(key: str) -> str:
    """The account id of a Bearer key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def micro(amount_usd: float) -> int:
    return round(amount_usd * 1_000_000)


def usd(amount_micro: int) -> float:
    return amount_micro / 1_000_000


class Accounts:
    """The accounts known to the server, kept in memory and written through to the store.

    With `configured=None` (open mode) any non-empty key is accepted and becomes its own
    account with `starting_balance_usd`. Otherwise only the configured keys are accepted; a
    configured account's balance comes from the configuration the first time the data
    directory sees it and is kept from then on.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        configured: Iterable[AccountConfig] | None,
        starting_balance_usd: float,
    ) -> None:
        self._store = store
        self._clock = clock
        self._starting = micro(starting_balance_usd)
        self._rows: dict[str, AccountRow] = {row.key_hash: row for row in store.accounts()}
        self._allowed: set[str] | None = None
        if configured is not None:
            self._allowed = set()
            for account in configured:
                if account.key is not None:
                    key_hash = hash_key(account.key.get_secret_value())
                else:
                    assert account.key_sha256 is not None
                    key_hash = account.key_sha256
                self._allowed.add(key_hash)
                if key_hash not in self._rows:
                    self._add(key_hash, account.name, micro(account.balance_usd))

    @property
    def is_open(self) -> bool:
        return self._allowed is None

    def authenticate(self, authorization: str | None) -> AccountRow | None:
        """The account for an `Authorization: Bearer <key>` header value, or None."""
        if not authorization:
            return None
        scheme, _, key = authorization.strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key or len(key) > MAX_KEY_LENGTH:
            return None
        key_hash = hash_key(key)
        row = self._rows.get(key_hash)
        if self._allowed is not None:
            return row if key_hash in self._allowed else None
        if row is None:
            row = self._add(key_hash, "", self._starting)
        return row

    def get(self, key_hash: str) -> AccountRow | None:
        return self._rows.get(key_hash)

    def reserve(self, account: AccountRow, amount_micro: int) -> bool:
        """Take `amount_micro` from the balance if it is all there."""
        if amount_micro > account.balance_micro:
            return False
        account.balance_micro -= amount_micro
        self._store.save_account(account)
        return True

    def refund(self, account_id: str, amount_micro: int) -> None:
        account = self._rows.get(account_id)
        if account is not None and amount_micro > 0:
            account.balance_micro += amount_micro
            self._store.save_account(account)

    def charge_up_to(self, account: AccountRow, amount_micro: int) -> int:
        """Take `amount_micro`, or all that is left if less; return what was taken."""
        taken = max(0, min(amount_micro, account.balance_micro))
        account.balance_micro -= taken
        self._store.save_account(account)
        return taken

    def save(self, account: AccountRow) -> None:
        self._store.save_account(account)

    def _add(self, key_hash: str, name: str, balance_micro: int) -> AccountRow:
        row = AccountRow(key_hash, name, balance_micro, self._clock.wall())
        self._store.insert_account(row)
        self._rows[key_hash] = row
        return row
