"""PushAdCodesOperator: deliver every code not yet delivered to each configured sink (the outbox)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from partnership_ads.brand import Brand, brand_arguments, task_brand
from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID, DEFAULT_WEBHOOK_CONN_ID
from partnership_ads.sink_names import DEFAULT_FILE_FORMAT, DEFAULT_SQL_TABLE

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context


class PushAdCodesOperator(BaseOperator):
    """Deliver a brand's codes to every selected sink, recording delivery per sink in the ledger's outbox.

    A code goes to a sink once (per code and state); a sink that fails keeps its records pending and the
    task fails after trying the other sinks, so the retry (or the next run) sends only what is missing.

    :param brand: the brand (a :class:`~partnership_ads.brand.Brand` or its ``as_dict()``), instead of
        ``business_id`` and ``ledger_id``.
    :param business_id: the brand.
    :param sinks: names to deliver to (``sql``, ``webhook``, ``files``, ``meta_ads``); None or empty: every
        configured sink but ``meta_ads`` (sql always; webhook when ``webhook_conn_id`` exists; files when an
        output location is set). ``meta_ads`` needs the brand's ``ad_account_id`` and ``adset_id``: it makes
        one creative and one PAUSED ad per code (:mod:`partnership_ads.sinks.meta_ads`).
    :param output_uri: files sink folder (local path or URL), which must resolve inside the deployment's
        output root (Variable ``partnership_ads_output_root``, default the configured folder) with an allowed
        scheme; its deliveries are recorded under that folder. Default: the configured folder, Variable
        ``partnership_ads_output_uri`` or env ``PARTNERSHIP_ADS_OUTPUT_URI``.
    :param file_format: ``csv``, ``parquet`` or ``jsonl``.
    :param dry_run: report what is pending, deliver nothing.
    :param ledger_id: the ledger identity the run's first task read (checked before any side effect).
    """

    template_fields: Sequence[str] = ("business_id", "sinks", "output_uri", "file_format", "dry_run")
    ui_color = "#e9f7ec"

    def __init__(
        self,
        *,
        brand: Brand | Mapping[str, Any] | None = None,
        business_id: str | None = None,
        sinks: list[str] | None = None,
        output_uri: str | None = None,
        file_format: str = DEFAULT_FILE_FORMAT,
        dry_run: bool = False,
        ledger_conn_id: str = DEFAULT_LEDGER_CONN_ID,
        sql_conn_id: str = DEFAULT_LEDGER_CONN_ID,
        sql_table: str = DEFAULT_SQL_TABLE,
        webhook_conn_id: str = DEFAULT_WEBHOOK_CONN_ID,
        ledger_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        ids = brand_arguments(brand, business_id=business_id, ledger_id=ledger_id)
        self.brand = None if brand is None else Brand.coerce(brand)
        self.business_id = ids["business_id"]
        self.ledger_id = ids["ledger_id"]
        self.sinks = sinks
        self.output_uri = output_uri
        self.file_format = file_format
        self.dry_run = dry_run
        self.ledger_conn_id = ledger_conn_id
        self.sql_conn_id = sql_conn_id
        self.sql_table = sql_table
        self.webhook_conn_id = webhook_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        """Deliver; returns ``{"business_id", "delivered": {sink: n}, "sinks": [...], "files": [...]}`` and,
        when meta_ads ran, ``"meta_ads": {"ads_created", "ads_already_present", "ads_failed", "ads_stale",
        "stale": [...], "failed": [...]}``."""
        # Imported here, not at module level: the DAG file imports this module at parse time.
        from partnership_ads.delivery import (
            build_delivery_sinks,
            deliver_pending,
            meta_ads_summaries,
            pending_counts,
            written_files,
        )
        from partnership_ads.ledger import Ledger

        brand = task_brand(self.brand, self, ("business_id", "ledger_id"))
        business_id = brand.business_id
        try:
            # Before the ledger is opened: a folder outside the root fails the task with nothing written.
            sinks = build_delivery_sinks(
                self.sinks,
                output_uri=self.output_uri,
                file_format=self.file_format,
                sql_conn_id=self.sql_conn_id,
                sql_table=self.sql_table,
                webhook_conn_id=self.webhook_conn_id,
                brand=brand,
            )
        except ValueError as exc:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(exc)) from None
        self._lineage_sinks = [] if self.dry_run else list(sinks)
        ledger = Ledger.from_conn_id(self.ledger_conn_id)
        ledger.migrate()
        ledger.check_identity(brand.ledger_id, conn_id=self.ledger_conn_id)
        self.log.info("Business %s: sinks %s", business_id, ", ".join(s.describe() for s in sinks))
        if self.dry_run:
            pending = pending_counts(ledger, sinks, business_id)
            self.log.info("Dry run: nothing delivered; pending per sink %s", pending)
            return {"business_id": business_id, "delivered": {}, "pending": pending, "sinks": [], "files": []}
        delivered, errors = deliver_pending(
            ledger, sinks, business_id, run_id=context["run_id"], dag_id=context["ti"].dag_id, log=self.log
        )
        meta_ads = meta_ads_summaries(sinks)
        if meta_ads:
            self.log.info(
                "meta_ads for business %s: %s PAUSED ad(s) created, %s already present, %s failed, %s stale",
                business_id,
                meta_ads["ads_created"],
                meta_ads["ads_already_present"],
                meta_ads["ads_failed"],
                meta_ads["ads_stale"],
            )
        if errors:
            raise AirflowException(
                f"Delivery failed for business {business_id} on sink(s) {sorted(errors)}: {errors}. "
                f"Delivered this try: {delivered}; those are recorded and will not be sent again."
            )
        return {
            "business_id": business_id,
            "delivered": delivered,
            "sinks": [s.name for s in sinks],
            "files": written_files(sinks),
            **({"meta_ads": meta_ads} if meta_ads else {}),
        }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the ledger's ``pa_ad_codes`` in, one output per sink delivered to (its SQL table,
        files folder or webhook URL without credentials; see :mod:`partnership_ads.lineage`); None without
        the provider."""
        from partnership_ads.lineage import operator_lineage, push_datasets

        return operator_lineage(*push_datasets(self.ledger_conn_id, getattr(self, "_lineage_sinks", [])))
