"""The sinks' names, the files sink's formats and the SQL sink's default table, in a module with no imports.

The one definition of each: the trigger forms and the run-parameter checks need them at parse time, and the
sinks package (which imports the ledger and the SQL providers) must not be imported then.
"""

from __future__ import annotations

SQL_SINK = "sql"
WEBHOOK_SINK = "webhook"
FILES_SINK = "files"
#: Every sink, in the order a run delivers to them.
SINK_NAMES: tuple[str, ...] = (SQL_SINK, WEBHOOK_SINK, FILES_SINK)

#: The files sink's formats (each is also the file's extension); the first is the default.
FILE_FORMATS: tuple[str, ...] = ("csv", "parquet", "jsonl")
DEFAULT_FILE_FORMAT = FILE_FORMATS[0]

#: The SQL sink's default table.
DEFAULT_SQL_TABLE = "partnership_ad_codes"
