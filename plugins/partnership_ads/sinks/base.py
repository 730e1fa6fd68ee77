"""The one interface every downstream destination implements.

A sink receives :class:`~partnership_ads.ledger.DeliveryRecord` batches (active codes and revocations, told
apart by ``record.state``) and either takes all of a batch or raises. The push operator records delivery per
sink and destination (:attr:`AdCodeSink.destination`) in the ledger's outbox only after ``deliver`` returns,
so a failed sink is retried later without re-sending anything to the sinks that already have it, and a sink
pointed somewhere else (a trigger's ``output_uri``) never takes what its configured destination is owed.
Sinks must therefore accept a batch twice (a crash between ``deliver`` and the outbox write): upserts,
idempotency keys, and rewrite-in-place files do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from collections.abc import Sequence

    from partnership_ads.ledger import DeliveryRecord, Ledger


#: Columns of a delivered code, as the SQL table and the files carry them (``state`` is active | revoked;
#: times are ISO 8601 UTC text).
DELIVERED_COLUMNS: tuple[str, ...] = (
    "business_id",
    "content_id",
    "ig_user_id",
    "permalink",
    "ad_code",
    "state",
    "issued_at",
    "revoked_at",
    "delivered_at",
)


def delivered_rows(records: Sequence[DeliveryRecord], delivered_at: str) -> list[dict[str, Any]]:
    """The batch as rows of :data:`DELIVERED_COLUMNS`, each stamped with ``delivered_at``."""
    return [{**record.as_dict(), "delivered_at": delivered_at} for record in records]


@dataclass(frozen=True)
class DeliveryContext:
    """Where a batch comes from: the brand and the Airflow run delivering it."""

    business_id: str
    run_id: str
    dag_id: str = "partnership_ad_codes"


class AdCodeSink(ABC):
    """A destination for ad codes. Subclasses set ``name`` and implement :meth:`deliver`."""

    name: ClassVar[str]
    #: How many records one :meth:`deliver` call takes at most (the outbox is updated after each call).
    batch_size: int = 500
    #: Whether this sink delivers to its configured destination (not to one a trigger chose): only then may
    #: it adopt the outbox records from before destinations were tracked (ledger migration 0004).
    at_configured_destination: bool = True

    @property
    def destination(self) -> str:
        """Where this sink delivers, as the outbox keys it (never a secret; stable across runs).

        Default: the connection id (``conn_id``) of a sink that delivers through one connection, such as the
        webhook. A sink with more to its destination (a table, a folder) overrides this.
        """
        conn_id = getattr(self, "conn_id", None)
        if not conn_id:
            raise NotImplementedError(f"{type(self).__name__} must define its destination")
        return str(conn_id)

    def prepare(self, ledger: Ledger, *, log: Any) -> None:  # noqa: B027 - optional hook, no-op by default
        """Run once per task before the first batch (checks at the destination); raise to fail this sink
        with nothing delivered. Default: nothing to check."""

    @abstractmethod
    def deliver(
        self, records: Sequence[DeliveryRecord], context: DeliveryContext
    ) -> Sequence[DeliveryRecord] | None:
        """Deliver every record of the batch, or raise (nothing is then marked delivered for this sink).

        A sink may instead return the records it could not take (they stay pending; the rest is marked
        delivered); ``None`` means all of them.
        """

    def describe(self) -> str:
        """Where this sink writes, for the task log (never a secret)."""
        return self.name
