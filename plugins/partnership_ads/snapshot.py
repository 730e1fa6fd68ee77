"""Columnar snapshots of discovery: one Parquet file per run and brand, written page by page.

Nested fields are flattened into named columns (``author_display_name``, ``organic_insights_likes``...).
``partnership_info`` becomes the brand's own entry flattened (``ad_eligibility``, ``ad_code``...; matched on
the brand's ig_user_id / fb_page_id, never blindly the first entry) plus ``partnership_info_json`` with every
entry. ``organic_insights`` metrics stay nullable: null means unknown, not zero.
"""

from __future__ import annotations

import json
import os
import uuid
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Mapping, Sequence

    import pyarrow as pa

SNAPSHOT_ROOT_ENV = "PARTNERSHIP_ADS_SNAPSHOT_ROOT"

#: Fields the pipeline asks discovery for (the Graph ``fields`` syntax).
DEFAULT_FIELDS = (
    "content_id,platform,media_type,post_type,caption,permalink,creation_time,"
    "author{display_name,ig_user_id,fb_page_id,profile_picture_url},is_recommended,ad_usage,"
    "partnership_info{ad_eligibility,tagged_partner{display_name,ig_user_id,fb_page_id},permission_status,"
    "permission_type,ad_code,content_types},"
    "organic_insights{likes,comments,views,reach,shares,interaction,saves}"
)
#: Rows per Parquet row group of a snapshot (40 pages of 50): few row groups keep the footer small.
ROW_GROUP_ROWS = 2000
INSIGHT_METRICS = ("likes", "comments", "views", "reach", "shares", "interaction", "saves")

COLUMNS: tuple[tuple[str, str], ...] = (
    ("business_id", "string"),
    ("content_id", "string"),
    ("platform", "string"),
    ("media_type", "string"),
    ("post_type", "string"),
    ("caption", "string"),
    ("permalink", "string"),
    ("creation_time", "string"),
    ("author_display_name", "string"),
    ("author_ig_user_id", "string"),
    ("author_fb_page_id", "string"),
    ("author_profile_picture_url", "string"),
    ("is_recommended", "bool"),
    ("ad_usage", "string"),
    ("ad_eligibility", "string"),
    ("permission_status", "string"),
    ("permission_type", "string"),
    ("ad_code", "string"),
    ("partner_content_types", "string"),
    ("partnership_info_json", "string"),
    *((f"organic_insights_{m}", "int64") for m in INSIGHT_METRICS),
    # How the row came: "discovery" (the run's walk) or "lookup" (a pending item re-examined by content_id);
    # visible is false for a looked-up item Graph no longer returns for the brand (every other column null).
    ("source", "string"),
    ("visible", "bool"),
)
#: Values of the ``source`` column.
SOURCE_DISCOVERY = "discovery"
SOURCE_LOOKUP = "lookup"


@cache
def schema() -> pa.Schema:
    """The snapshot's Arrow schema (pyarrow is imported on first use, never at DAG parse time)."""
    import pyarrow as pa

    return pa.schema([(name, pa.type_for_alias(kind)) for name, kind in COLUMNS])


def default_snapshot_root() -> Path:
    """``$PARTNERSHIP_ADS_SNAPSHOT_ROOT`` or ``$AIRFLOW_HOME/partnership_ads/snapshots``."""
    explicit = os.environ.get(SNAPSHOT_ROOT_ENV)
    if explicit:
        return Path(explicit)
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home) / "partnership_ads" / "snapshots"


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def brand_entry(
    partnership_info: Sequence[Mapping[str, Any]] | None, *, ig_user_id: str | None, fb_page_id: str | None
) -> Mapping[str, Any] | None:
    """The ``partnership_info`` entry whose tagged_partner is this brand (by ig_user_id or fb_page_id)."""
    for entry in partnership_info or ():
        partner = entry.get("tagged_partner") or {}
        if ig_user_id and str(partner.get("ig_user_id") or "") == str(ig_user_id):
            return entry
        if fb_page_id and str(partner.get("fb_page_id") or "") == str(fb_page_id):
            return entry
    return None


def flatten(
    item: Mapping[str, Any],
    *,
    business_id: str,
    ig_user_id: str | None,
    fb_page_id: str | None,
    source: str = SOURCE_DISCOVERY,
) -> dict[str, Any]:
    """One discovery item as a flat row of :func:`schema`."""
    author = item.get("author") or {}
    info = item.get("partnership_info") or []
    entry = brand_entry(info, ig_user_id=ig_user_id, fb_page_id=fb_page_id) or {}
    insights = item.get("organic_insights") or {}
    content_types = entry.get("content_types")
    row: dict[str, Any] = {
        "business_id": business_id,
        "content_id": _str(item.get("content_id")),
        "platform": _str(item.get("platform")),
        "media_type": _str(item.get("media_type")),
        "post_type": _str(item.get("post_type")),
        "caption": _str(item.get("caption")),
        "permalink": _str(item.get("permalink")),
        "creation_time": _str(item.get("creation_time")),
        "author_display_name": _str(author.get("display_name")),
        "author_ig_user_id": _str(author.get("ig_user_id")),
        "author_fb_page_id": _str(author.get("fb_page_id")),
        "author_profile_picture_url": _str(author.get("profile_picture_url")),
        "is_recommended": item.get("is_recommended")
        if isinstance(item.get("is_recommended"), bool)
        else None,
        "ad_usage": _str(item.get("ad_usage")),
        "ad_eligibility": _str(entry.get("ad_eligibility")),
        "permission_status": _str(entry.get("permission_status")),
        "permission_type": _str(entry.get("permission_type")),
        "ad_code": _str(entry.get("ad_code")) or None,
        "partner_content_types": json.dumps(content_types) if content_types is not None else None,
        "partnership_info_json": json.dumps(info, sort_keys=True, separators=(",", ":")),
    }
    for metric in INSIGHT_METRICS:
        row[f"organic_insights_{metric}"] = _int(insights.get(metric))
    row["source"] = source
    row["visible"] = True
    return row


def not_visible(content_id: str, *, business_id: str) -> dict[str, Any]:
    """The row of a looked-up item Graph did not return for the brand (deleted, untagged, or access lost)."""
    row: dict[str, Any] = dict.fromkeys(name for name, _kind in COLUMNS)
    row.update(business_id=business_id, content_id=content_id, source=SOURCE_LOOKUP, visible=False)
    return row


class SnapshotWriter:
    """Write pages of flat rows to one Parquet file with bounded memory; the file appears on :meth:`close`.

    Pages are converted to Arrow at once and written in row groups of ``row_group_rows`` rows (a page of
    50 rows per row group made the writer keep per-row-group metadata and column statistics for the
    footer, so memory grew with the item count: 438 MB of peak RSS at 200,000 items against 247 MB at
    20,000). At most one row group is buffered.

    Rows go to a temporary file in the same folder, renamed into place at the end, so a crashed attempt
    never leaves a half snapshot under the final name and a retry simply writes it again.
    """

    def __init__(self, path: Path, *, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(str(self._tmp), schema(), compression="zstd")
        self._row_group_rows = max(1, row_group_rows)
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self.rows = 0

    def write_page(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append one page of rows (written out once a row group's worth is buffered)."""
        if not rows:
            return
        import pyarrow as pa

        self._pending.append(pa.RecordBatch.from_pylist(list(rows), schema=schema()))
        self._pending_rows += len(rows)
        self.rows += len(rows)
        if self._pending_rows >= self._row_group_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        import pyarrow as pa

        table = pa.Table.from_batches(self._pending, schema=schema())
        self._writer.write_table(table, row_group_size=self._pending_rows)
        self._pending = []
        self._pending_rows = 0

    def close(self) -> Path:
        """Finish the file and move it into place."""
        self._flush()
        self._writer.close()
        self._tmp.replace(self.path)
        return self.path

    def set_aside(self, path: Path) -> Path:
        """Finish the rows written so far as the file ``path`` instead of the snapshot (a deferred
        discovery keeps them there for its resumption; the snapshot's own name never holds a part)."""
        self._flush()
        self._writer.close()
        self._tmp.replace(path)
        return path

    def abort(self) -> None:
        """Drop the temporary file (on failure)."""
        self._pending = []
        self._writer.close()
        self._tmp.unlink(missing_ok=True)


def iter_rows(
    path: str | Path,
    *,
    columns: Sequence[str],
    batch_size: int = 1000,
    content_ids: Collection[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows of a snapshot, a batch at a time (only the columns asked for).

    :param content_ids: only the rows of these items (a shard's): the others are dropped column by column,
        never turned into Python dicts (``columns`` must then hold ``content_id``). The selection is done in
        Python, not with ``pyarrow.compute``: the first compute call of a process costs about 0.3 s (its
        kernels' set-up), more than reading a whole snapshot, and every task is a fresh process.
    """
    import pyarrow.parquet as pq

    wanted = None if content_ids is None else {str(c) for c in content_ids}
    parquet = pq.ParquetFile(str(path))
    for batch in parquet.iter_batches(batch_size=batch_size, columns=list(columns)):
        if wanted is None:
            yield from batch.to_pylist()
            continue
        keep = [n for n, cid in enumerate(batch.column("content_id").to_pylist()) if cid in wanted]
        if not keep:
            continue
        values = {name: batch.column(name).to_pylist() for name in batch.schema.names}
        for n in keep:
            yield {name: column[n] for name, column in values.items()}
