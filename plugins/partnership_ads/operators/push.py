"""PushAdCodesOperator: deliver every code not yet delivered to each configured sink (the outbox)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID, DEFAULT_WEBHOOK_CONN_ID

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

    from partnership_ads.ledger import Ledger
    from partnership_ads.sinks import AdCodeSink


def default_output_uri() -> str | None:
    """The files sink's location from deployment settings: Variable, then environment, else None."""
    from airflow.sdk import Variable

    from partnership_ads.params import OUTPUT_URI_ENV, OUTPUT_URI_VARIABLE

    try:
        value = Variable.get(OUTPUT_URI_VARIABLE, default=None)
    except Exception:  # no metadata access (a plain script): fall back to the environment
        value = None
    return value or os.environ.get(OUTPUT_URI_ENV) or None


def deliver_pending(
    ledger: Ledger,
    sinks: Sequence[AdCodeSink],
    business_id: str,
    *,
    run_id: str,
    dag_id: str,
    log: Any,
) -> tuple[dict[str, int], dict[str, str]]:
    """Deliver a brand's pending records to each sink; returns ``(delivered per sink, errors per sink)``.

    A sink that raises keeps its remaining records pending and does not stop the other sinks.
    """
    from partnership_ads.sinks import DeliveryContext

    context = DeliveryContext(business_id=business_id, run_id=run_id, dag_id=dag_id)
    delivered: dict[str, int] = {}
    errors: dict[str, str] = {}
    for sink in sinks:
        pending = ledger.pending_deliveries(business_id, sink.name)
        delivered[sink.name] = 0
        log.info("Sink %s: %s record(s) pending for business %s", sink.describe(), len(pending), business_id)
        try:
            for start in range(0, len(pending), max(1, sink.batch_size)):
                batch = pending[start : start + sink.batch_size]
                sink.deliver(batch, context)
                ledger.mark_delivered(sink.name, batch, run_id=run_id)
                delivered[sink.name] += len(batch)
                log.info(
                    "Sink %s: batch of %s delivered (%s/%s)",
                    sink.name,
                    len(batch),
                    delivered[sink.name],
                    len(pending),
                )
        except Exception as exc:
            from partnership_ads.graph.errors import scrub

            # A driver's or an HTTP client's error may quote a URI with its password or query string.
            errors[sink.name] = scrub(f"{type(exc).__name__}: {exc}")
            log.error(
                "Sink %s failed after %s/%s record(s): %s; the rest stay pending for the next try",
                sink.name,
                delivered[sink.name],
                len(pending),
                errors[sink.name],
            )
    return delivered, errors


class PushAdCodesOperator(BaseOperator):
    """Deliver a brand's codes to every selected sink, recording delivery per sink in the ledger's outbox.

    A code goes to a sink once (per code and state); a sink that fails keeps its records pending and the
    task fails after trying the other sinks, so the retry (or the next run) sends only what is missing.

    :param business_id: the brand.
    :param sinks: names to deliver to (``sql``, ``webhook``, ``files``); None or empty: every configured sink
        (sql always; webhook when ``webhook_conn_id`` exists; files when an output location is set).
    :param output_uri: files sink folder (local path or URL); default: Variable ``partnership_ads_output_uri``
        or env ``PARTNERSHIP_ADS_OUTPUT_URI``.
    :param file_format: ``csv``, ``parquet`` or ``jsonl``.
    :param dry_run: report what is pending, deliver nothing.
    """

    template_fields: Sequence[str] = ("business_id", "sinks", "output_uri", "file_format", "dry_run")
    ui_color = "#e9f7ec"

    def __init__(
        self,
        *,
        business_id: str,
        sinks: list[str] | None = None,
        output_uri: str | None = None,
        file_format: str = "csv",
        dry_run: bool = False,
        ledger_conn_id: str = DEFAULT_LEDGER_CONN_ID,
        sql_conn_id: str = DEFAULT_LEDGER_CONN_ID,
        sql_table: str = "partnership_ad_codes",
        webhook_conn_id: str = DEFAULT_WEBHOOK_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.business_id = business_id
        self.sinks = sinks
        self.output_uri = output_uri
        self.file_format = file_format
        self.dry_run = dry_run
        self.ledger_conn_id = ledger_conn_id
        self.sql_conn_id = sql_conn_id
        self.sql_table = sql_table
        self.webhook_conn_id = webhook_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        """Deliver; returns ``{"business_id", "delivered": {sink: n}, "sinks": [...], "files": [...]}``."""
        # Imported here, not at module level: the DAG file imports this module at parse time.
        from partnership_ads.ledger import Ledger
        from partnership_ads.sinks import FileSink, build_sinks

        business_id = str(self.business_id)
        ledger = Ledger.from_conn_id(self.ledger_conn_id)
        ledger.migrate()
        try:
            sinks = build_sinks(
                list(self.sinks) if self.sinks else None,
                sql_conn_id=self.sql_conn_id,
                sql_table=self.sql_table,
                webhook_conn_id=self.webhook_conn_id,
                output_uri=self.output_uri or default_output_uri(),
                file_format=self.file_format or "csv",
            )
        except ValueError as exc:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(exc)) from None
        self.log.info("Business %s: sinks %s", business_id, ", ".join(s.describe() for s in sinks))
        if self.dry_run:
            pending = {s.name: len(ledger.pending_deliveries(business_id, s.name)) for s in sinks}
            self.log.info("Dry run: nothing delivered; pending per sink %s", pending)
            return {"business_id": business_id, "delivered": {}, "pending": pending, "sinks": [], "files": []}
        delivered, errors = deliver_pending(
            ledger, sinks, business_id, run_id=context["run_id"], dag_id=context["ti"].dag_id, log=self.log
        )
        files = [path for s in sinks if isinstance(s, FileSink) for path in s.written]
        if errors:
            raise AirflowException(
                f"Delivery failed for business {business_id} on sink(s) {sorted(errors)}: {errors}. "
                f"Delivered this try: {delivered}; those are recorded and will not be sent again."
            )
        return {
            "business_id": business_id,
            "delivered": delivered,
            "sinks": [s.name for s in sinks],
            "files": files,
        }
