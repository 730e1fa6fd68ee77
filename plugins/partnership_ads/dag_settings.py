"""What the DAG files and the trigger forms read when they are parsed: the schedule, the Graph API pool, the
run parameters' names and size limits. Small on purpose, with light imports: every DAG parse imports it
(the rules that use these live in :mod:`partnership_ads.run_plan`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from partnership_ads.graph.params import ENUM_FILTERS, FILTER_NAMES
from partnership_ads.sink_names import FILE_FORMATS, SINK_NAMES

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Airflow pool of the tasks that call the Graph API (fetch, issue, revoke). Meta counts calls per token and
#: business, not per worker, so the cap has to be one pool shared by the whole deployment; ``default_pool``
#: keeps a bare install and ``airflow dags test`` working without creating one.
API_POOL_ENV = "PARTNERSHIP_ADS_API_POOL"
DEFAULT_API_POOL = "default_pool"
SCHEDULE_ENV = "PARTNERSHIP_ADS_SCHEDULE"
DEFAULT_SCHEDULE = "0 0 * * *"
#: The sinks and file formats a trigger may choose (aliases of :mod:`partnership_ads.sink_names`).
SINK_CHOICES = SINK_NAMES
FILE_FORMAT_CHOICES = FILE_FORMATS
#: Run parameters that are discovery filters: every filter of the endpoint, under the name Meta gives it.
FILTER_PARAM_NAMES: tuple[str, ...] = tuple(sorted(FILTER_NAMES))


#: The files sink's folder.
OUTPUT_URI_VARIABLE = "partnership_ads_output_uri"
OUTPUT_URI_ENV = "PARTNERSHIP_ADS_OUTPUT_URI"
#: Where a trigger's ``output_uri`` may write: this folder and below (default: the configured output_uri).
OUTPUT_ROOT_VARIABLE = "partnership_ads_output_root"
OUTPUT_ROOT_ENV = "PARTNERSHIP_ADS_OUTPUT_ROOT"
#: URL schemes a trigger's ``output_uri`` may use, comma-separated (default: local files only).
OUTPUT_SCHEMES_VARIABLE = "partnership_ads_output_schemes"
OUTPUT_SCHEMES_ENV = "PARTNERSHIP_ADS_OUTPUT_SCHEMES"
DEFAULT_OUTPUT_SCHEMES: frozenset[str] = frozenset({"file"})

#: Most characters of an ``output_uri`` (the trigger form and the size checks use the same limit).
MAX_OUTPUT_URI_LENGTH = 1024

# --- size limits: the one definition the checks and the trigger forms share ------------------------------

#: Most characters each text parameter may hold. Meta's ids are digits, far below 32; 250 is Airflow's own
#: limit on a connection id; a caption keyword search needs no more than 100.
MAX_LENGTHS: dict[str, int] = {
    "business_id": 32,
    "fb_page_id": 32,
    "ig_user_id": 32,
    "meta_conn_id": 250,
    "ad_account_id": 36,
    "adset_id": 32,
    "search_key": 100,
    "start_date": 10,
    "end_date": 10,
    "sort_by": 16,
    "file_format": 16,
    "output_uri": MAX_OUTPUT_URI_LENGTH,
}
#: Most values each list parameter may hold (the enum filters: each of their values once).
MAX_ITEMS: dict[str, int] = {
    "ad_partner_ig_user_ids": 100,
    "ad_partner_page_ids": 100,
    "country_codes": 50,
    "media_ids": 100,
    "sinks": len(SINK_CHOICES),
    **{name: len(values) for name, values in sorted(ENUM_FILTERS.items())},
}
#: The partnership creative's ad formats (1 both identities, 2 the first identity only, 3 automatic), as
#: the ``meta_ads`` sink and the Brand section of the trigger form take them; the first is the default.
AD_FORMAT_CHOICES: tuple[int, ...] = (1, 2, 3)
DEFAULT_AD_FORMAT = AD_FORMAT_CHOICES[0]
#: Most characters of one value of a list parameter (ids, country codes, enum values).
MAX_ITEM_LENGTH = 32
#: Largest ``max_codes`` (a cap on new codes per brand and run).
MAX_CODES_LIMIT = 1_000_000
#: ``creators_per_shard``: default and largest value (most creators one ``issue_ad_codes`` instance serves).
DEFAULT_CREATORS_PER_SHARD = 50
MAX_CREATORS_PER_SHARD = 1_000
#: ``token_expiry_warning_days``: default and largest value (a creator token expiring within it is reported
#: ``expiring``; Meta's long-lived user tokens last 60 days).
DEFAULT_TOKEN_EXPIRY_WARNING_DAYS = 7
MAX_TOKEN_EXPIRY_WARNING_DAYS = 60
#: XCom key under which ``plan_issuance`` pushes each brand's plan counts (its return value is the shards
#: ``issue_ad_codes`` is expanded over: Airflow maps only over a task's return value).
PLANNED_KEY = "planned"


def api_pool(environ: Mapping[str, str]) -> str:
    """The pool for Graph-calling tasks: env ``PARTNERSHIP_ADS_API_POOL``, else ``default_pool``.

    Read by the DAG files at parse time (an environment lookup, no I/O). The pool must exist in the metadata
    database: a task in a missing pool is never scheduled.
    """
    return environ.get(API_POOL_ENV, "").strip() or DEFAULT_API_POOL


def schedule(environ: Mapping[str, str]) -> str:
    """The DAG's cron expression: env ``PARTNERSHIP_ADS_SCHEDULE``, else daily at 00:00 UTC.

    Read by the DAG file at parse time (an environment lookup, no I/O).
    """
    return environ.get(SCHEDULE_ENV, "").strip() or DEFAULT_SCHEDULE
