"""Downstream sinks for ad codes: one small class per destination behind :class:`AdCodeSink`.

A new destination is one module with an ``AdCodeSink`` subclass, named in
:data:`partnership_ads.sink_names.SINK_NAMES` and built in :func:`build_sinks`.
"""

from __future__ import annotations

from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID, DEFAULT_WEBHOOK_CONN_ID
from partnership_ads.sink_names import (
    DEFAULT_FILE_FORMAT,
    DEFAULT_SINK_NAMES,
    DEFAULT_SQL_TABLE,
    FILE_FORMATS,
    FILES_SINK,
    META_ADS_SINK,
    SINK_NAMES,
    SQL_SINK,
    WEBHOOK_SINK,
)
from partnership_ads.sinks.base import AdCodeSink, DeliveryContext
from partnership_ads.sinks.files import FileSink
from partnership_ads.sinks.meta_ads import MetaAdsConfig, MetaAdsSink
from partnership_ads.sinks.sql import SqlTableSink
from partnership_ads.sinks.webhook import WebhookSink, verify_signature

__all__ = [
    "DEFAULT_WEBHOOK_CONN_ID",
    "FILE_FORMATS",
    "SINK_NAMES",
    "AdCodeSink",
    "DeliveryContext",
    "FileSink",
    "MetaAdsConfig",
    "MetaAdsSink",
    "SqlTableSink",
    "WebhookSink",
    "build_sinks",
    "verify_signature",
]


def build_sinks(
    selection: list[str] | tuple[str, ...] | None,
    *,
    sql_conn_id: str = DEFAULT_LEDGER_CONN_ID,
    sql_table: str = DEFAULT_SQL_TABLE,
    webhook_conn_id: str = DEFAULT_WEBHOOK_CONN_ID,
    output_uri: str | None = None,
    file_format: str = DEFAULT_FILE_FORMAT,
    output_root: str | None = None,
    output_uri_configured: bool = True,
    meta_ads: MetaAdsConfig | None = None,
) -> list[AdCodeSink]:
    """The sinks a run delivers to.

    With no selection: every configured sink of :data:`DEFAULT_SINK_NAMES` (the SQL table always; the
    webhook when its connection exists; files when ``output_uri`` is set). ``meta_ads`` is never a default:
    it runs only when selected. A selection narrows or extends that; naming a sink that is not configured
    raises ValueError saying what to configure.

    :param output_root: the folder the files sink must stay in (default: ``output_uri`` itself).
    :param output_uri_configured: False when ``output_uri`` is a trigger's choice, not the configured folder.
    :param meta_ads: the brand's ad account settings (None: the brand has none; selecting ``meta_ads`` then
        raises). Only their shape is checked here; the sink checks them at Meta before any creative.
    """
    from partnership_ads.connections import connection_exists

    unknown = sorted(set(selection or ()) - set(SINK_NAMES))
    if unknown:
        raise ValueError(f"sinks: unknown sink(s) {unknown}; choose from {list(SINK_NAMES)}")
    wanted = list(dict.fromkeys(selection)) if selection else list(DEFAULT_SINK_NAMES)
    sinks: list[AdCodeSink] = []
    for name in wanted:
        if name == SQL_SINK:
            sinks.append(SqlTableSink(conn_id=sql_conn_id, table=sql_table))
        elif name == WEBHOOK_SINK:
            if connection_exists(webhook_conn_id):
                sinks.append(WebhookSink(conn_id=webhook_conn_id))
            elif selection:
                raise ValueError(
                    f"sinks: 'webhook' was selected but connection {webhook_conn_id!r} does not exist; "
                    "create it (type http, host = the receiver's URL, password = signing secret)"
                )
        elif name == FILES_SINK:
            if output_uri:
                sinks.append(
                    FileSink(
                        output_uri=output_uri,
                        file_format=file_format,
                        root=output_root,
                        at_configured_destination=output_uri_configured,
                    )
                )
            elif selection:
                raise ValueError(
                    "sinks: 'files' was selected but no output location is set; pass output_uri or set the "
                    "Variable partnership_ads_output_uri / env PARTNERSHIP_ADS_OUTPUT_URI"
                )
        elif name == META_ADS_SINK:
            if meta_ads is None:
                raise ValueError(
                    "sinks: 'meta_ads' was selected but the brand has no ad_account_id / adset_id; set them "
                    "in the brand list entry (or the trigger form's Brand section)"
                )
            sinks.append(MetaAdsSink(meta_ads))
    return sinks
