"""Files sink: CSV, Parquet or JSON Lines, to a local path or any ``ObjectStoragePath`` URL.

One file per run and brand: ``<output_uri>/<business_id>/partnership_ad_codes_<run>.<ext>``. It is written to
a temporary name and renamed into place (atomic on local disks; on object stores the rename is a copy, and a
reader sees either nothing or the whole file). Delivering again in the same run merges with the file already
there (newest record per content_id wins), so a retry rewrites the same file instead of adding another.

Every file stays inside the sink's root (defence in depth behind the first task's check of a trigger's
``output_uri``): the folder must resolve inside it when the sink is built, and the file's folder and the file
are resolved again (``..`` and symbolic links included) right before anything is written.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from partnership_ads.clock import iso, utcnow
from partnership_ads.filenames import safe_name
from partnership_ads.output_location import canonical_location, is_inside
from partnership_ads.sink_names import DEFAULT_FILE_FORMAT, FILE_FORMATS, FILES_SINK
from partnership_ads.sinks.base import DELIVERED_COLUMNS, AdCodeSink, DeliveryContext, delivered_rows

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    import pandas as pd
    from airflow.sdk import ObjectStoragePath

    from partnership_ads.ledger import DeliveryRecord

#: Each file's name: this prefix, the run id, the format's extension.
FILE_NAME_PREFIX = "partnership_ad_codes_"


def storage_path(uri: str) -> ObjectStoragePath:
    """An ``ObjectStoragePath`` for a URL (``s3://...``, ``file:///...``) or a plain local path."""
    from airflow.sdk import ObjectStoragePath

    if "://" not in uri:
        uri = Path(uri).expanduser().resolve().as_uri()
    return ObjectStoragePath(uri)


def _read(path: ObjectStoragePath, file_format: str) -> pd.DataFrame:
    import pandas as pd

    with path.open("rb") as handle:
        data = handle.read()
    if file_format == "csv":
        return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    if file_format == "parquet":
        return pd.read_parquet(io.BytesIO(data))
    return pd.read_json(io.BytesIO(data), lines=True, dtype=False)


def _write(frame: pd.DataFrame, file_format: str) -> bytes:
    if file_format == "csv":
        return frame.to_csv(index=False).encode()
    if file_format == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    return frame.to_json(orient="records", lines=True).encode()


class FileSink(AdCodeSink):
    """Write each run's codes for a brand to one file.

    :param output_uri: folder: a local path or any URL ``ObjectStoragePath`` understands.
    :param file_format: ``csv``, ``parquet`` or ``jsonl``.
    :param root: the folder every file must stay in (default: ``output_uri`` itself). A folder a trigger
        chose is given the deployment's output root here.
    :param at_configured_destination: False for a folder a trigger chose (see ``AdCodeSink``).
    :raises ValueError: ``output_uri`` does not resolve inside ``root``.
    """

    name: ClassVar[str] = FILES_SINK
    batch_size = 100_000  # one file per run and brand: take the whole pending set at once

    def __init__(
        self,
        *,
        output_uri: str,
        file_format: str = DEFAULT_FILE_FORMAT,
        root: str | None = None,
        at_configured_destination: bool = True,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if file_format not in FILE_FORMATS:
            raise ValueError(f"file_format must be one of {sorted(FILE_FORMATS)}, not {file_format!r}")
        self.output_uri = output_uri
        self.file_format = file_format
        self.root = root or output_uri
        self.at_configured_destination = at_configured_destination
        self.clock = clock
        self.written: list[str] = []
        #: The resolved folder: what the outbox keys this sink by, and where files go.
        self.location = canonical_location(output_uri)
        self._check_inside_root(self.location)

    @property
    def destination(self) -> str:
        """The resolved folder (absolute local path with links resolved, or the normalised URL)."""
        return self.location

    def _check_inside_root(self, location: str) -> None:
        if not is_inside(location, self.root):
            raise ValueError(
                f"output_uri: {location} is outside the files sink's root {canonical_location(self.root)}; "
                "nothing was written. Point output_uri inside the deployment's output root"
            )

    def _file_name(self, context: DeliveryContext) -> tuple[str, str]:
        return (
            safe_name(context.business_id),
            f"{FILE_NAME_PREFIX}{safe_name(context.run_id)}.{self.file_format}",
        )

    def target(self, context: DeliveryContext) -> ObjectStoragePath:
        """The file for this run and brand."""
        folder, name = self._file_name(context)
        return storage_path(self.location) / folder / name

    def deliver(self, records: Sequence[DeliveryRecord], context: DeliveryContext) -> None:
        """Write (or merge into) this run's file for the brand, atomically."""
        if not records:
            return
        import pandas as pd

        columns = list(DELIVERED_COLUMNS)
        frame = pd.DataFrame(delivered_rows(records, iso(self.clock())), columns=columns).astype("string")
        target = self.target(context)
        folder, name = self._file_name(context)
        where = f"{self.location.rstrip('/')}/{folder}/{name}"
        self._check_inside_root(where)  # before the folder is made (a link planted since validation)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._check_inside_root(where)  # the folder exists now: any link in it is resolved
        if target.exists():
            existing = _read(target, self.file_format).reindex(columns=columns).astype("string")
            frame = pd.concat([existing, frame], ignore_index=True).drop_duplicates(
                subset=["content_id"], keep="last"
            )
        frame = frame.sort_values("content_id", kind="stable").reset_index(drop=True)
        temporary = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
        self._check_inside_root(where)
        with temporary.open("wb") as handle:
            handle.write(_write(frame, self.file_format))
        temporary.rename(target)
        self.written.append(str(target))

    def describe(self) -> str:
        """Folder and format."""
        return f"files {self.location} ({self.file_format})"
