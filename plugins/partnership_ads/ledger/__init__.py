"""The ledger: the durable record that makes every task of the pipeline safe to retry.

One SQL database reached through common-sql's ``DbApiHook`` (connection ``partnership_ads_db``; only when that
connection is truly absent and every task runs on this machine, a SQLite file
``$AIRFLOW_HOME/partnership_ads.db``; a connection that cannot be read stops the task). It holds the content
seen, one ad code per media and the issuance claim on it, what each brand's run decided per item, what each
sink has received (the outbox) and per-run figures. The schema lives in versioned SQL files in this package
(``sql/``, found through ``importlib.resources``) and is applied automatically and idempotently (table
``schema_migrations``).

Exactly one code per media, by fenced claims: see :mod:`partnership_ads.ledger.codes`.

Every ledger carries an identity (``pa_ledger_identity``, created with the schema): the run's first task reads
it and every later task checks it works on the same ledger before any side effect.

One module per concern, composed into :class:`Ledger`:

- ``core``: one connection per thread, transactions, placeholders, the lease clock, where the schema is;
- ``database``: which database (:func:`sql_hook_for`);
- ``schema``: migrations and identity;
- ``content``, ``codes`` (codes and fenced claims), ``decisions`` (per brand), ``outbox`` (per destination),
  ``run_figures``, ``throttles``, ``budgets`` (a run's max_codes cap per brand), ``token_health``, ``ads``
  (the creatives and paused ads of the ``meta_ads`` sink): one table family each;
- ``reports``: read-only summaries for the plugin page (overview, daily chart, codes table, item history).
"""

from __future__ import annotations

# Clock, iso, utcnow (partnership_ads.clock) and DEFAULT_LEDGER_CONN_ID (partnership_ads.conn_ids) live in
# their own modules; the ledger's namespace keeps them for code written against the single-module ledger.
from partnership_ads.clock import Clock, iso, utcnow
from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID
from partnership_ads.ledger.ads import AdRow, MetaAds
from partnership_ads.ledger.budgets import PostBudgets
from partnership_ads.ledger.codes import (
    HAS_CODE_STATES,
    AdCodes,
    Claim,
    ClaimKind,
    CodeRecord,
    CodeRow,
    CodeState,
    StaleClaimError,
)
from partnership_ads.ledger.content import CONTENT_COLUMNS, ContentTable
from partnership_ads.ledger.core import SQL_DIR_ENV, LedgerCore, default_sql_dir
from partnership_ads.ledger.database import LedgerUnavailableError, default_ledger_path, sql_hook_for
from partnership_ads.ledger.decisions import PENDING_STATUSES, BrandDecisions
from partnership_ads.ledger.outbox import LEGACY_DESTINATION, DeliveryRecord, Outbox
from partnership_ads.ledger.reports import CODE_LISTING_COLUMNS, CodeSearch, DailyCodes, LedgerReports
from partnership_ads.ledger.run_figures import RunFigures
from partnership_ads.ledger.schema import LedgerMismatchError, LedgerSchema
from partnership_ads.ledger.throttles import Throttles
from partnership_ads.ledger.token_health import TokenHealthRecords

__all__ = [
    "CODE_LISTING_COLUMNS",
    "CONTENT_COLUMNS",
    "DEFAULT_LEDGER_CONN_ID",
    "HAS_CODE_STATES",
    "LEGACY_DESTINATION",
    "PENDING_STATUSES",
    "SQL_DIR_ENV",
    "AdRow",
    "Claim",
    "ClaimKind",
    "Clock",
    "CodeRecord",
    "CodeRow",
    "CodeSearch",
    "CodeState",
    "DailyCodes",
    "DeliveryRecord",
    "Ledger",
    "LedgerCore",
    "LedgerMismatchError",
    "LedgerReports",
    "LedgerUnavailableError",
    "MetaAds",
    "PostBudgets",
    "StaleClaimError",
    "default_ledger_path",
    "default_sql_dir",
    "iso",
    "sql_hook_for",
    "utcnow",
]


class Ledger(
    LedgerSchema,
    ContentTable,
    AdCodes,
    BrandDecisions,
    Outbox,
    RunFigures,
    Throttles,
    PostBudgets,
    TokenHealthRecords,
    LedgerReports,
    MetaAds,
):
    """The pipeline's durable record, on any common-sql ``DbApiHook`` (SQLite and PostgreSQL are tested).

    Every method runs its own short transaction, so a Ledger may be shared between threads (see
    :class:`~partnership_ads.ledger.core.LedgerCore` for connections, clocks and ``sql_dir``).

    :param hook: the SQL hook to use.
    :param clock: returns the current time (tests pass a fake clock).
    :param sql_dir: folder of the versioned migrations (default: the package's ``sql/``, or
        ``$PARTNERSHIP_ADS_LEDGER_SQL_DIR``).
    """
