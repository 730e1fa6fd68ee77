"""PushAdCodesOperator: deliver every code not yet delivered to each configured sink (the outbox)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID, DEFAULT_WEBHOOK_CONN_ID

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

    from partnership_ads.ledger import DeliveryRecord, Ledger
    from partnership_ads.sinks import AdCodeSink


@dataclass(frozen=True)
class FilesTarget:
    """Where the files sink writes in this task.

    ``output_uri`` is the folder (None: the files sink is not configured), ``root`` the folder it must stay
    in, ``configured`` whether it is the deployment's configured folder (not one a trigger chose).
    """

    output_uri: str | None
    root: str | None
    configured: bool


def files_target(output_uri: str | None) -> FilesTarget:
    """The files sink's folder: a trigger's ``output_uri``, checked again here against the deployment's
    output root and schemes (the first task checked it already: this is the second line), else the configured
    folder (Variable ``partnership_ads_output_uri``, else env ``PARTNERSHIP_ADS_OUTPUT_URI``).

    A Variable that cannot be read raises (it is never taken for "not set").

    :raises ValueError: ``output_uri`` resolves outside the root, or uses a scheme the deployment does not
        allow (the message starts with ``output_uri``).
    """
    from partnership_ads.deployment import get_variable
    from partnership_ads.params import (
        canonical_location,
        configured_output_uri,
        output_root,
        output_schemes,
        resolve_output_uri,
    )

    configured = configured_output_uri(get_variable=get_variable, environ=os.environ)
    if not output_uri:
        return FilesTarget(configured, configured, True)
    root = output_root(get_variable=get_variable, environ=os.environ)
    folder = resolve_output_uri(
        output_uri, root=root, schemes=output_schemes(get_variable=get_variable, environ=os.environ)
    )
    return FilesTarget(folder, root, configured is not None and canonical_location(configured) == folder)


def still_current(ledger: Ledger, batch: Sequence[DeliveryRecord], *, log: Any) -> list[DeliveryRecord]:
    """The records of ``batch`` whose code and state are still the ledger's, read just before sending.

    Revocation is final: a code revoked (or replaced) since the batch was read is never delivered as it was.
    """
    rows = ledger.codes_for([r.content_id for r in batch])
    kept: list[DeliveryRecord] = []
    for record in batch:
        row = rows.get(record.content_id)
        state = None if row is None else ("revoked" if row.state == "revoked" else "active")
        if row is not None and row.ad_code == record.ad_code and state == record.state:
            kept.append(record)
        else:
            log.warning(
                "Media %s changed since this push read it (now %s): not delivered as %s",
                record.content_id,
                state or "without a code",
                record.state,
            )
    return kept


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

    What is pending is what the sink's destination (``sink.destination``) has not received: a files sink
    pointed at a trigger's folder gets the brand's codes there, and the configured folder still gets them on
    the next normal run. A sink that raises keeps its remaining records pending and does not stop the others.
    """
    from partnership_ads.sinks import DeliveryContext

    context = DeliveryContext(business_id=business_id, run_id=run_id, dag_id=dag_id)
    delivered: dict[str, int] = {}
    errors: dict[str, str] = {}
    for sink in sinks:
        destination = sink.destination
        if sink.at_configured_destination:
            ledger.adopt_legacy_deliveries(business_id, sink.name, destination)
        pending = ledger.pending_deliveries(business_id, sink.name, destination=destination)
        delivered[sink.name] = 0
        log.info("Sink %s: %s record(s) pending for business %s", sink.describe(), len(pending), business_id)
        try:
            for start in range(0, len(pending), max(1, sink.batch_size)):
                batch = still_current(ledger, pending[start : start + sink.batch_size], log=log)
                if not batch:
                    continue
                sink.deliver(batch, context)
                ledger.mark_delivered(sink.name, batch, destination=destination, run_id=run_id)
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
    :param output_uri: files sink folder (local path or URL), which must resolve inside the deployment's
        output root (Variable ``partnership_ads_output_root``, default the configured folder) with an allowed
        scheme; its deliveries are recorded under that folder. Default: the configured folder, Variable
        ``partnership_ads_output_uri`` or env ``PARTNERSHIP_ADS_OUTPUT_URI``.
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
        ledger_id: str | None = None,
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
        self.ledger_id = ledger_id

    def execute(self, context: Context) -> dict[str, Any]:
        """Deliver; returns ``{"business_id", "delivered": {sink: n}, "sinks": [...], "files": [...]}``."""
        # Imported here, not at module level: the DAG file imports this module at parse time.
        from partnership_ads.ledger import Ledger
        from partnership_ads.sinks import FileSink, build_sinks

        business_id = str(self.business_id)
        try:
            # Before the ledger is opened: a folder outside the root fails the task with nothing written.
            target = files_target(self.output_uri)
            sinks = build_sinks(
                list(self.sinks) if self.sinks else None,
                sql_conn_id=self.sql_conn_id,
                sql_table=self.sql_table,
                webhook_conn_id=self.webhook_conn_id,
                output_uri=target.output_uri,
                file_format=self.file_format or "csv",
                output_root=target.root,
                output_uri_configured=target.configured,
            )
        except ValueError as exc:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(exc)) from None
        ledger = Ledger.from_conn_id(self.ledger_conn_id)
        ledger.migrate()
        ledger.check_identity(self.ledger_id, conn_id=self.ledger_conn_id)
        self.log.info("Business %s: sinks %s", business_id, ", ".join(s.describe() for s in sinks))
        if self.dry_run:
            for sink in sinks:
                if sink.at_configured_destination:  # bookkeeping only (migration 0004), nothing is sent
                    ledger.adopt_legacy_deliveries(business_id, sink.name, sink.destination)
            pending = {
                s.name: len(ledger.pending_deliveries(business_id, s.name, destination=s.destination))
                for s in sinks
            }
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
