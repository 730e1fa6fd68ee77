"""The sinks' names, the files sink's formats and the SQL sink's default table, in a module with no imports.

The one definition of each: the trigger forms and the run-parameter checks need them at parse time, and the
sinks package (which imports the ledger and the SQL providers) must not be imported then.
"""

from __future__ import annotations

SQL_SINK = "sql"
WEBHOOK_SINK = "webhook"
FILES_SINK = "files"
META_ADS_SINK = "meta_ads"
#: Every sink, in the order a run delivers to them.
SINK_NAMES: tuple[str, ...] = (SQL_SINK, WEBHOOK_SINK, FILES_SINK, META_ADS_SINK)
#: The sinks a run with no ``sinks`` selection delivers to (when configured). ``meta_ads`` creates objects
#: in a brand's ad account, so it runs only when a run or deployment names it.
DEFAULT_SINK_NAMES: tuple[str, ...] = (SQL_SINK, WEBHOOK_SINK, FILES_SINK)
#: What the meta_ads sink reports per brand (push XCom, run summary rows, ledger run figures).
META_ADS_OUTCOMES: tuple[str, ...] = ("ads_created", "ads_already_present", "ads_failed", "ads_stale")

#: The files sink's formats (each is also the file's extension); the first is the default.
FILE_FORMATS: tuple[str, ...] = ("csv", "parquet", "jsonl")
DEFAULT_FILE_FORMAT = FILE_FORMATS[0]

#: The SQL sink's default table.
DEFAULT_SQL_TABLE = "partnership_ad_codes"
