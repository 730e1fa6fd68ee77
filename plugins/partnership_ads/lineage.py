"""OpenLineage datasets of the pipeline, named by OpenLineage's naming conventions, never with a secret.

- the discovery endpoint (input of fetch): namespace = the ``meta_graph`` connection's base URL (scheme, host,
  port), name = ``<business_id>/<discovery edge>``;
- a snapshot or a files sink's folder: a local path is namespace ``file``, name = the absolute path; a URL is
  namespace ``<scheme>://<bucket or host>``, name = its path;
- a SQL table (the ledger's ``pa_ad_codes``, output of issue; the SQL sink's table): PostgreSQL as
  ``postgres://host:port`` + ``database.schema.table``; SQLite as ``sqlite://<file path>`` + ``main.table``;
- a webhook: namespace ``<scheme>://<host>[:port]``, name = the URL's path (no user info, query or fragment);
- the meta_ads sink's ads: namespace = the brand's ``meta_graph`` connection's base URL, as for discovery,
  name = ``<ad account id>/ads`` (the Marketing API edge the paused ads are created on).

The operators record what they touched while they run and return :func:`operator_lineage` from
``get_openlineage_facets_on_complete``. Everything OpenLineage is imported lazily: without
``apache-airflow-providers-openlineage`` these functions return None, and with it the provider emits nothing
unless a transport is configured (``[openlineage] transport``), as it always does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from partnership_ads.sink_names import FILES_SINK, META_ADS_SINK, SQL_SINK, WEBHOOK_SINK
from partnership_ads.url_safety import without_credentials

if TYPE_CHECKING:
    from collections.abc import Iterable

#: The ledger's table of codes: issue's output.
LEDGER_CODES_TABLE = "pa_ad_codes"


@dataclass(frozen=True)
class LineageDataset:
    """A dataset as OpenLineage names it."""

    namespace: str
    name: str


def location_dataset(location: str) -> LineageDataset:
    """A file or folder: local path → ``file`` + absolute path; URL → ``scheme://authority`` + path."""
    if "://" not in location:
        return LineageDataset("file", str(Path(location).absolute()))
    parts = urlsplit(without_credentials(location))
    if parts.scheme == "file":
        return LineageDataset("file", parts.path)
    authority = parts.hostname or ""
    if parts.port:
        authority = f"{authority}:{parts.port}"
    return LineageDataset(f"{parts.scheme}://{authority}", parts.path.lstrip("/") or "/")


def discovery_dataset(base_url: str, business_id: str, edge: str | None = None) -> LineageDataset:
    """The brand's discovery endpoint on the Graph host of its connection."""
    if edge is None:
        from partnership_ads.graph.discovery import DISCOVERY_EDGE

        edge = DISCOVERY_EDGE
    return LineageDataset(graph_namespace(base_url), f"{business_id}/{edge}")


def graph_namespace(base_url: str) -> str:
    """The namespace of a Graph API endpoint: the connection's scheme, host and port."""
    parts = urlsplit(without_credentials(base_url))
    authority = parts.hostname or ""
    if parts.port:
        authority = f"{authority}:{parts.port}"
    return f"{parts.scheme}://{authority}"


def ad_account_ads_dataset(base_url: str, ad_account_id: str) -> LineageDataset:
    """The ads of a brand's ad account (the meta_ads sink's output)."""
    return LineageDataset(graph_namespace(base_url), f"{ad_account_id}/ads")


def webhook_dataset(url: str) -> LineageDataset:
    """The webhook receiver: scheme, host and path only."""
    parts = urlsplit(without_credentials(url if "://" in url else f"https://{url}"))
    authority = parts.hostname or ""
    if parts.port:
        authority = f"{authority}:{parts.port}"
    return LineageDataset(f"{parts.scheme}://{authority}", parts.path or "/")


def sql_table_dataset(hook: Any, table: str) -> LineageDataset:
    """A table in the database of a common-sql hook (PostgreSQL or SQLite)."""
    schema, _, bare = table.rpartition(".")
    if getattr(hook, "conn_type", "") == "sqlite":
        path = getattr(hook, "path", None)
        if path is None:
            path = hook.get_connection(getattr(hook, hook.conn_name_attr)).host
        return LineageDataset(f"sqlite://{Path(str(path)).absolute()}", f"{schema or 'main'}.{bare}")
    conn = hook.get_connection(getattr(hook, hook.conn_name_attr))
    scheme = "postgres" if conn.conn_type in {"postgres", "postgresql"} else conn.conn_type
    port = conn.port or (5432 if scheme == "postgres" else None)
    authority = f"{conn.host}:{port}" if port else str(conn.host)
    database = conn.schema or ""
    return LineageDataset(f"{scheme}://{authority}", f"{database}.{schema or 'public'}.{bare}")


def ledger_codes_dataset(ledger_conn_id: str) -> LineageDataset:
    """The ledger's ``pa_ad_codes`` table."""
    from partnership_ads.ledger.database import sql_hook_for

    return sql_table_dataset(sql_hook_for(ledger_conn_id), LEDGER_CODES_TABLE)


def sink_dataset(sink: Any) -> LineageDataset:
    """Where a delivery sink writes: its SQL table, files folder, webhook URL or ad account's ads.

    :raises ValueError: for a sink this module cannot name (a new sink must add its naming here).
    """
    name = getattr(sink, "name", "")
    if name == SQL_SINK:
        return sql_table_dataset(sink.hook, sink.table)
    if name == FILES_SINK:
        return location_dataset(sink.location)
    if name == WEBHOOK_SINK:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(sink.conn_id)
        host = conn.host or ""
        if "://" not in host:
            host = f"{conn.schema or 'https'}://{host}" + (f":{conn.port}" if conn.port else "")
        return webhook_dataset(host)
    if name == META_ADS_SINK:
        return ad_account_ads_dataset(sink.hook.settings.base_url, sink.config.ad_account_id)
    raise ValueError(f"No lineage naming for sink {name!r}")


def fetch_datasets(
    base_url: str, business_id: str, snapshot: str | Path
) -> tuple[list[LineageDataset], list[LineageDataset]]:
    """Fetch's ``(inputs, outputs)``: the discovery endpoint in, the snapshot out."""
    return [discovery_dataset(base_url, business_id)], [location_dataset(str(snapshot))]


def issue_datasets(snapshot: str, ledger_conn_id: str) -> tuple[list[LineageDataset], list[LineageDataset]]:
    """Issue's ``(inputs, outputs)``: the snapshot in, the ledger's codes table out."""
    return [location_dataset(snapshot)], [ledger_codes_dataset(ledger_conn_id)]


def push_datasets(
    ledger_conn_id: str, sinks: Iterable[Any]
) -> tuple[list[LineageDataset], list[LineageDataset]]:
    """Push's ``(inputs, outputs)``: the ledger's codes table in, one dataset per sink out."""
    return [ledger_codes_dataset(ledger_conn_id)], [sink_dataset(sink) for sink in sinks]


def operator_lineage(inputs: Iterable[LineageDataset], outputs: Iterable[LineageDataset]) -> Any:
    """The provider's ``OperatorLineage`` of these datasets, or None without the OpenLineage provider."""
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import Dataset
    except ImportError:
        return None
    return OperatorLineage(
        inputs=[Dataset(namespace=d.namespace, name=d.name) for d in inputs],
        outputs=[Dataset(namespace=d.namespace, name=d.name) for d in outputs],
    )
