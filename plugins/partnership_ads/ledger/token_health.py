"""Token health: the last check of each subject's token per connection (table ``pa_token_health``).

Written by :class:`partnership_ads.token_health.TokenChecker` after each ``debug_token`` call or 190 answer,
read back to reuse a recent result. Rows hold ids, a state, times and a sentence: never a token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from partnership_ads.clock import iso, parse_iso
from partnership_ads.ledger.core import LedgerCore

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from partnership_ads.token_health import TokenHealth

_UPSERT = (
    "INSERT INTO pa_token_health (subject_id, conn_id, state, expires_at, days_left, detail, scope, "
    "token_fingerprint, checked_at, subject_kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (subject_id, conn_id) DO UPDATE SET state = excluded.state, "
    "expires_at = excluded.expires_at, "
    "days_left = excluded.days_left, detail = excluded.detail, scope = excluded.scope, "
    "token_fingerprint = excluded.token_fingerprint, checked_at = excluded.checked_at, "
    "subject_kind = excluded.subject_kind"
)
#: Subjects per read of :meth:`TokenHealthRecords.token_healths`.
_READ_CHUNK = 500
_COLUMNS = (
    "subject_id, conn_id, state, expires_at, days_left, detail, scope, token_fingerprint, checked_at, "
    "subject_kind"
)


class TokenHealthRecords(LedgerCore):
    """One row per (subject, connection): the latest finding wins."""

    def record_token_health(self, health: TokenHealth) -> None:
        """Keep ``health`` (replacing the subject's previous record for that connection)."""
        self.record_token_healths([health])

    def record_token_healths(self, healths: Sequence[TokenHealth]) -> None:
        """:meth:`record_token_health` for many, in one transaction."""
        if not healths:
            return
        with self._transaction() as cur:
            cur.executemany(self._sql(_UPSERT), [_row(health) for health in healths])

    def token_healths(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], TokenHealth]:
        """The recorded health of many ``(subject_id, conn_id)`` at once (absent keys: no record)."""
        wanted = {(str(subject), str(conn_id)) for subject, conn_id in keys}
        subjects = sorted({subject for subject, _conn_id in wanted})
        found: dict[tuple[str, str], TokenHealth] = {}
        for start in range(0, len(subjects), _READ_CHUNK):
            chunk = subjects[start : start + _READ_CHUNK]
            marks = ", ".join("?" for _ in chunk)
            for row in self._query(
                f"SELECT {_COLUMNS} FROM pa_token_health WHERE subject_id IN ({marks})",  # noqa: S608
                chunk,
            ):
                health = _health(row)
                if (health.subject_id, health.conn_id) in wanted:
                    found[(health.subject_id, health.conn_id)] = health
        return found

    def token_health(self, subject_id: str, conn_id: str) -> TokenHealth | None:
        """The recorded health of ``subject_id``'s token in ``conn_id``, or None."""
        return self.token_healths([(subject_id, conn_id)]).get((str(subject_id), str(conn_id)))

    def token_health_records(self) -> list[TokenHealth]:
        """Every record, by subject and connection."""
        rows = self._query(f"SELECT {_COLUMNS} FROM pa_token_health ORDER BY subject_id, conn_id")  # noqa: S608
        return [_health(row) for row in rows]


def _row(health: TokenHealth) -> tuple[object, ...]:
    from datetime import UTC, datetime

    expires = None if health.expires_at is None else iso(datetime.fromtimestamp(health.expires_at, UTC))
    return (
        health.subject_id,
        health.conn_id,
        health.state,
        expires,
        health.days_left,
        health.detail,
        health.scope,
        health.fingerprint,
        iso(health.checked_at),
        health.subject_kind,
    )


def _health(row: tuple[object, ...]) -> TokenHealth:
    """The row as a :class:`TokenHealth`; ``subject_kind`` is None for a row written before migration 0010."""
    from partnership_ads.token_health import TokenHealth

    subject_id, conn_id, state, expires_at, days_left, detail, scope, fingerprint, checked_at, kind = row
    return TokenHealth(
        subject_id=str(subject_id),
        conn_id=str(conn_id),
        state=str(state),
        detail=str(detail or ""),
        checked_at=parse_iso(str(checked_at)),
        expires_at=None if expires_at is None else parse_iso(str(expires_at)).timestamp(),
        days_left=None if days_left is None else int(str(days_left)),
        scope=None if scope is None else str(scope),
        fingerprint=None if fingerprint is None else str(fingerprint),
        subject_kind=None if kind is None else str(kind),
    )
