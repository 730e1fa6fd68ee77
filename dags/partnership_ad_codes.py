"""partnership_ad_codes: discover AD_READY partnership content, obtain one code per Instagram item, deliver.

Wiring and parameters only: no network or database access at parse time (tests/dags checks it).

resolve_brands -> fetch_advertisable_content[brand] -> plan_issuance -> issue_ad_codes[brand, shard]
-> push_ad_codes[brand] -> run_summary -> publish_ad_codes_asset

One DAG serves many brands: ``resolve_brands`` reads the brand list at run time (trigger form, else the
Variable ``partnership_ads_brands``, else env ``PARTNERSHIP_ADS_BRANDS``); fetch and push are mapped over it,
one instance per brand. ``plan_issuance`` records what needs no POST and groups the rest by owner into shards
of at most ``creators_per_shard`` creators; ``issue_ad_codes`` is mapped over the shards (``business <id> ·
shard k/n`` in the UI), so each task process reads only its creators' connections and the shards spread over
the workers. Push runs per brand once every shard is done.

A scheduled run (daily at 00:00 UTC; env ``PARTNERSHIP_ADS_SCHEDULE`` changes the cron) looks at every item
AD_READY for the brand now, whatever its publication date, and looks up again every item the ledger holds as
pending; a manual run uses the form's filters (``partnership_ads.run_plan.plan_run``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, get_current_context, task

from partnership_ads.dag_settings import PLANNED_KEY, api_pool, schedule
from partnership_ads.operators import (
    FetchAdvertisableContentOperator,
    IssueAdCodesOperator,
    PlanIssuanceOperator,
    PushAdCodesOperator,
)
from partnership_ads.trigger_form import PIPELINE_PARAMS

log = logging.getLogger("airflow.task")

# The "x-" scheme is Airflow's prefix for custom schemes: without it, building the Asset discovers every
# provider's URI handlers (~25 ms on each parse of this file) to normalise a scheme none of them knows.
AD_CODES_ASSET = Asset(name="partnership_ad_codes", uri="x-partnership-ads://ad-codes")
# The trigger form (sections Brand, Discovery filters, Run options) is built in the plugin package.
PARAMS = PIPELINE_PARAMS
# Deployment setting read at parse time (no I/O): the pool capping Graph calls across all workers.
API_POOL = api_pool(os.environ)


def _brand(fetched: dict[str, Any]) -> dict[str, Any]:
    return fetched["brand"]


with DAG(
    dag_id="partnership_ad_codes",
    description="Partnership ad codes for every AD_READY Instagram item, delivered to SQL, webhook and files",
    doc_md=__doc__,
    # Deployment setting read at parse time (no I/O): env PARTNERSHIP_ADS_SCHEDULE, default daily 00:00 UTC.
    schedule=CronDataIntervalTimetable(schedule(os.environ), timezone="UTC"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    params=PARAMS,
    default_args={
        # Deployment setting, read from the environment at parse time (no I/O): the demo and the end-to-end
        # tests set 0 so that a failure ends `airflow dags test` at once instead of waiting for a retry.
        "retries": int(os.environ.get("PARTNERSHIP_ADS_TASK_RETRIES", "3")),
        "retry_delay": dt.timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=30),
    },
    tags=["partnership_ads", "meta"],
) as dag:

    @task
    def resolve_brands() -> list[dict[str, Any]]:
        """Validate the trigger's parameters and list the brands to serve (fails at once on a bad value);
        read the ledger's identity, which every later task checks before any side effect. Each brand is a
        ``Brand`` (``as_dict()`` on XCom) carried through fetch, issue and push."""
        from airflow.sdk import Variable
        from airflow.sdk.exceptions import AirflowFailException

        from partnership_ads.deployment import connection_type
        from partnership_ads.run_plan import plan_run

        context = get_current_context()
        scheduled = str(context["dag_run"].run_type).lower().endswith("scheduled")
        try:
            brands, source = plan_run(
                dict(context["params"]),
                scheduled=scheduled,
                get_variable=lambda key: Variable.get(key, default=None),
                environ=os.environ,
                get_connection_type=connection_type,
            )
        except ValueError as exc:
            raise AirflowFailException(f"Invalid parameter: {exc}") from None
        from partnership_ads.ledger import Ledger

        # Unreadable or absent where no embedded ledger is allowed: the task fails (and is retried) here,
        # before any Graph call.
        with Ledger.from_conn_id() as ledger:
            ledger.migrate()
            ledger_id = ledger.identity()
        brands = [brand.replace(ledger_id=ledger_id) for brand in brands]
        plan = brands[0]
        log.info(
            "%s run serving %s brand(s) from the %s on ledger %s; discovery filters %s%s; pending items "
            "re-examined: %s",
            "Scheduled" if scheduled else "Manual",
            len(brands),
            source,
            ledger_id,
            dict(plan.filters),
            f" in {plan.partitions} parallel windows" if plan.partitions > 1 else "",
            "yes" if plan.recheck_pending else "no",
        )
        # XCom carries JSON: each task rebuilds the Brand from its as_dict().
        return [brand.as_dict() for brand in brands]

    brands = resolve_brands()
    fetch = FetchAdvertisableContentOperator.partial(
        task_id="fetch_advertisable_content",
        pool=API_POOL,
        token_expiry_warning_days="{{ params.token_expiry_warning_days }}",  # noqa: S106 - a template
        map_index_template="business {{ task.business_id }}",
    ).expand(brand=brands)
    plan = PlanIssuanceOperator(
        task_id="plan_issuance",
        fetched=fetch.output,
        creators_per_shard="{{ params.creators_per_shard }}",
        dry_run="{{ params.dry_run }}",
    )
    issue = IssueAdCodesOperator.partial(
        task_id="issue_ad_codes",
        pool=API_POOL,
        dry_run="{{ params.dry_run }}",
        max_codes="{{ params.max_codes }}",
        token_expiry_warning_days="{{ params.token_expiry_warning_days }}",  # noqa: S106 - a template
        map_index_template="business {{ task.business_id }} · shard {{ task.shard }}",
    ).expand_kwargs(plan.output)
    # Every shard done (none, when a brand needs no POST: the mapped task is then skipped, not failed).
    push = PushAdCodesOperator.partial(
        task_id="push_ad_codes",
        sinks="{{ params.sinks }}",
        output_uri="{{ params.output_uri }}",
        file_format="{{ params.file_format }}",
        dry_run="{{ params.dry_run }}",
        map_index_template="business {{ task.business_id }}",
        trigger_rule="none_failed",
    ).expand(brand=fetch.output.map(_brand))
    issue >> push

    @task(retries=1, trigger_rule="none_failed")
    def run_summary(
        planned: list[dict[str, Any]], issued: list[dict[str, Any]], pushed: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Log the run's table (per brand: outcomes, delivered per sink) and its Tokens section, store it in
        the ledger, and send one alert when any creator's token needs action
        (:class:`~partnership_ads.notifiers.PartnershipAdsAlertNotifier`)."""
        from partnership_ads.ledger import Ledger
        from partnership_ads.notifiers import PartnershipAdsAlertNotifier
        from partnership_ads.summary import build_summary, named_items, record_summary, summary_table
        from partnership_ads.token_health import needing_action, tokens_section

        summary = build_summary([*planned, *issued], list(pushed))
        log.info("Run summary:\n%s", summary_table(summary))
        for line in named_items(summary):
            log.info("%s", line)
        log.info("%s", tokens_section(summary["tokens"]))
        ledger = Ledger.from_conn_id()
        ledger.migrate()
        ledger.check_identity(next((r["ledger_id"] for r in issued if r and r.get("ledger_id")), None))
        context = get_current_context()
        record_summary(ledger, context["run_id"], summary)
        # One message per run, last: every figure is stored before anyone is told.
        creators = needing_action(summary["tokens"])
        if creators:
            PartnershipAdsAlertNotifier(creators=creators, counts=summary["tokens"]["counts"])(context)
        return summary

    @task(outlets=[AD_CODES_ASSET], retries=0)
    def publish_ad_codes_asset(summary: dict[str, Any]) -> dict[str, int]:
        """Mark the asset updated when any code was delivered (skipped otherwise: no asset event)."""
        from airflow.sdk.exceptions import AirflowSkipException

        if not summary.get("delivered_any"):
            raise AirflowSkipException("No code was delivered in this run: the asset is not updated")
        return summary["totals"]["delivered"]

    summary = run_summary(plan.output[PLANNED_KEY], issue.output, push.output)
    push >> summary
    publish_ad_codes_asset(summary)
