"""Delivery: which sinks a task delivers to, and sending each sink what its destination has not received.

The push and revoke operators share it: :func:`build_delivery_sinks` checks the files sink's folder and builds
the selected sinks before any side effect; :func:`deliver_pending` sends a brand's pending records (the
ledger's outbox) to each of them, re-reading each batch just before sending (:func:`still_current`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID, DEFAULT_WEBHOOK_CONN_ID
from partnership_ads.sink_names import DEFAULT_FILE_FORMAT, DEFAULT_SQL_TABLE

if TYPE_CHECKING:
    from collections.abc import Sequence

    from partnership_ads.brand import Brand
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
    from partnership_ads.output_location import (
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
    the next normal run. Each sink's ``prepare`` runs first (the meta_ads sink checks the brand's ad account
    there, before any creative). A sink that raises keeps its remaining records pending and does not stop the
    others; records a sink hands back from ``deliver`` stay pending.
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
            sink.prepare(ledger, log=log)
            for start in range(0, len(pending), max(1, sink.batch_size)):
                batch = still_current(ledger, pending[start : start + sink.batch_size], log=log)
                if not batch:
                    continue
                refused = {r.content_id for r in sink.deliver(batch, context) or ()}
                batch = [r for r in batch if r.content_id not in refused]
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


def build_delivery_sinks(
    selection: Sequence[str] | None,
    *,
    output_uri: str | None,
    file_format: str | None = DEFAULT_FILE_FORMAT,
    sql_conn_id: str = DEFAULT_LEDGER_CONN_ID,
    sql_table: str = DEFAULT_SQL_TABLE,
    webhook_conn_id: str = DEFAULT_WEBHOOK_CONN_ID,
    brand: Brand | None = None,
) -> list[AdCodeSink]:
    """The sinks a task delivers to (:func:`partnership_ads.sinks.build_sinks`), the files sink's folder
    checked first (:func:`files_target`). Nothing is opened or written.

    :raises ValueError: a folder outside the output root, a scheme not allowed, or a selected sink that is
        not configured (the message names the parameter).
    """
    from partnership_ads.sinks import build_sinks
    from partnership_ads.sinks.meta_ads import meta_ads_config

    target = files_target(output_uri)
    meta_ads = None if brand is None else meta_ads_config(brand)
    return build_sinks(
        list(selection) if selection else None,
        sql_conn_id=sql_conn_id,
        sql_table=sql_table,
        webhook_conn_id=webhook_conn_id,
        output_uri=target.output_uri,
        file_format=file_format or DEFAULT_FILE_FORMAT,
        output_root=target.root,
        output_uri_configured=target.configured,
        meta_ads=meta_ads,
    )


def pending_counts(ledger: Ledger, sinks: Sequence[AdCodeSink], business_id: str) -> dict[str, int]:
    """Records pending per sink for a brand (a dry run's report: bookkeeping only, nothing is sent)."""
    for sink in sinks:
        if sink.at_configured_destination:  # migration 0004's adoption of the old per-sink outbox
            ledger.adopt_legacy_deliveries(business_id, sink.name, sink.destination)
    return {
        s.name: len(ledger.pending_deliveries(business_id, s.name, destination=s.destination)) for s in sinks
    }


def written_files(sinks: Sequence[AdCodeSink]) -> list[str]:
    """The files the files sink wrote in this task."""
    from partnership_ads.sinks import FileSink

    return [path for sink in sinks if isinstance(sink, FileSink) for path in sink.written]


def meta_ads_summaries(sinks: Sequence[AdCodeSink]) -> dict[str, Any]:
    """The meta_ads sink's counts of this task (``{}`` when it did not run)."""
    from partnership_ads.sinks import MetaAdsSink

    return next((s.summary() for s in sinks if isinstance(s, MetaAdsSink)), {})
