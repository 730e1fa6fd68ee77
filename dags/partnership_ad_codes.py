"""partnership_ad_codes: discover AD_READY partnership content, obtain one code per Instagram item, deliver.

Wiring and parameters only: no network or database access at parse time (tests/dags checks it).

resolve_brands -> fetch_advertisable_content[brand] -> issue_ad_codes[brand] -> push_ad_codes[brand]
-> run_summary -> publish_ad_codes_asset

One DAG serves many brands: ``resolve_brands`` reads the brand list at run time (trigger form, else the
Variable ``partnership_ads_brands``, else env ``PARTNERSHIP_ADS_BRANDS``) and the three working tasks are
mapped over it, one mapped instance per brand, named by business_id in the UI.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

from airflow.sdk import DAG, Asset, Param, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from partnership_ads.operators import (
    FetchAdvertisableContentOperator,
    IssueAdCodesOperator,
    PushAdCodesOperator,
)

log = logging.getLogger("airflow.task")

AD_CODES_ASSET = Asset(name="partnership_ad_codes", uri="partnership-ads://ad-codes")

_ENUMS: dict[str, dict[str, str]] = {
    "ad_eligibilities": {
        "AD_READY": "Ad ready",
        "INELIGIBLE": "Ineligible",
        "NEEDS_ATTENTION": "Needs attention",
        "EXCLUDED": "Excluded",
    },
    "platform_types": {"INSTAGRAM": "Instagram", "FACEBOOK": "Facebook"},
    "media_types": {"IMAGE": "Image", "VIDEO": "Video", "CAROUSEL": "Carousel", "LINK": "Link"},
    "post_types": {"FEED": "Feed", "STORY": "Story", "REEL": "Reel"},
    "content_types": {
        "BRANDED_CONTENT": "Branded content (paid partnership label)",
        "PRODUCT": "Tagged products",
        "AFFILIATE": "Affiliate",
        "COLLAB_POST": "Collab post",
        "TAGGED": "Tags or mentions the brand",
        "REPOSTED": "Reposted by the brand",
    },
    "ad_usages": {"NEVER_USED": "Never used", "ACTIVE": "Active", "PREVIOUSLY_USED": "Previously used"},
}
_ENUM_HELP = {
    "ad_eligibilities": "Only content with these ad eligibilities (codes are issued for AD_READY only).",
    "platform_types": "Only these platforms (default: every platform the brand token has a scope for).",
    "media_types": "Only these media types.",
    "post_types": "Only these post types.",
    "content_types": "Only these partnership content types.",
    "ad_usages": "Only content with this ad usage.",
}
_FILTERS = "Discovery filters"
_BRAND = "Brand (empty: the deployment's brand list)"
_RUN = "Run options"


def _enum_array(name: str) -> Param:
    values = list(_ENUMS[name])
    return Param(
        None,
        type=["null", "array"],
        items={"type": "string", "enum": values},
        examples=values,
        values_display=_ENUMS[name],
        title=name,
        description=_ENUM_HELP[name],
        section=_FILTERS,
    )


def _id_array(name: str, what: str) -> Param:
    return Param(
        None,
        type=["null", "array"],
        items={"type": "string", "pattern": "^[0-9]+$"},
        title=name,
        description=f"Only content from these {what} (numeric ids).",
        section=_FILTERS,
    )


PARAMS: dict[str, Param] = {
    "business_id": Param(
        None,
        type=["null", "string"],
        pattern="^[0-9]+$",
        title="business_id",
        description="The brand's Meta Business id. Empty: the brands of Variable partnership_ads_brands.",
        section=_BRAND,
    ),
    "fb_page_id": Param(
        None,
        type=["null", "string"],
        pattern="^[0-9]+$",
        title="fb_page_id",
        description="The brand's Facebook Page id (business_id needs fb_page_id or ig_user_id).",
        section=_BRAND,
    ),
    "ig_user_id": Param(
        None,
        type=["null", "string"],
        pattern="^[0-9]+$",
        title="ig_user_id",
        description="The brand's Instagram user id.",
        section=_BRAND,
    ),
    "meta_conn_id": Param(
        None,
        type=["null", "string"],
        title="meta_conn_id",
        description="The brand's meta_graph connection (default meta_graph_default).",
        section=_BRAND,
    ),
    **{name: _enum_array(name) for name in _ENUMS},
    "country_codes": Param(
        None,
        type=["null", "array"],
        items={"type": "string", "pattern": "^[A-Za-z]{2}$"},
        title="country_codes",
        description="Only creators located in these countries (ISO 3166-1 alpha-2, e.g. US, GB, BR).",
        section=_FILTERS,
    ),
    "start_date": Param(
        None,
        type=["null", "string"],
        format="date",
        title="start_date",
        description="Published on or after (YYYY-MM-DD, with end_date). Scheduled runs: the data interval.",
        section=_FILTERS,
    ),
    "end_date": Param(
        None,
        type=["null", "string"],
        format="date",
        title="end_date",
        description="Published on or before (YYYY-MM-DD; with start_date).",
        section=_FILTERS,
    ),
    "search_key": Param(
        None,
        type=["null", "string"],
        title="search_key",
        description="Keyword search in captions.",
        section=_FILTERS,
    ),
    "sort_by": Param(
        None,
        type=["null", "string"],
        enum=[None, "RECOMMENDED", "DATE"],
        values_display={"RECOMMENDED": "Recommended (Meta's default)", "DATE": "Date"},
        title="sort_by",
        description="Result order.",
        section=_FILTERS,
    ),
    "is_recommended": Param(
        None,
        type=["null", "boolean"],
        title="is_recommended",
        description="Only content Meta recommends for partnership ads.",
        section=_FILTERS,
    ),
    "ad_partner_ig_user_ids": _id_array("ad_partner_ig_user_ids", "creator Instagram accounts"),
    "ad_partner_page_ids": _id_array("ad_partner_page_ids", "creator Facebook Pages"),
    "dry_run": Param(
        False,
        type="boolean",
        title="dry_run",
        description="Fetch and plan only: issue nothing, deliver nothing.",
        section=_RUN,
    ),
    "sinks": Param(
        None,
        type=["null", "array"],
        items={"type": "string", "enum": ["sql", "webhook", "files"]},
        examples=["sql", "webhook", "files"],
        values_display={"sql": "SQL table", "webhook": "Webhook", "files": "Files"},
        title="sinks",
        description="Deliver only to these sinks. Empty: every configured sink.",
        section=_RUN,
    ),
    "max_codes": Param(
        None,
        type=["null", "integer"],
        minimum=0,
        title="max_codes",
        description="Cap on new codes issued per brand in this run (empty: no cap).",
        section=_RUN,
    ),
    "output_uri": Param(
        None,
        type=["null", "string"],
        title="output_uri",
        description="Files sink folder: a local path or URL (default: Variable partnership_ads_output_uri).",
        section=_RUN,
    ),
    "file_format": Param(
        "csv",
        type="string",
        enum=["csv", "parquet", "jsonl"],
        values_display={"csv": "CSV", "parquet": "Parquet", "jsonl": "JSON Lines"},
        title="file_format",
        description="Format of the files sink.",
        section=_RUN,
    ),
}


def _issue_kwargs(fetched: dict[str, Any]) -> dict[str, Any]:
    return {
        "snapshot_path": fetched["snapshot_path"],
        "business_id": fetched["business_id"],
        "fb_page_id": fetched["fb_page_id"],
        "ig_user_id": fetched["ig_user_id"],
        "meta_conn_id": fetched["meta_conn_id"],
    }


def _push_kwargs(issued: dict[str, Any]) -> dict[str, Any]:
    return {"business_id": issued["business_id"]}


with DAG(
    dag_id="partnership_ad_codes",
    description="Partnership ad codes for every AD_READY Instagram item, delivered to SQL, webhook and files",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
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

    @task(retries=0)
    def resolve_brands() -> list[dict[str, Any]]:
        """Validate the trigger's parameters and list the brands to serve (fails at once on a bad value)."""
        from airflow.sdk import Variable
        from airflow.sdk.exceptions import AirflowFailException

        from partnership_ads.params import resolve_brands as resolve
        from partnership_ads.params import scheduled_window, validate_run_params

        context = get_current_context()
        params = dict(context["params"])
        try:
            filters = validate_run_params(params)
            brands, source = resolve(
                params, get_variable=lambda key: Variable.get(key, default=None), environ=os.environ
            )
        except ValueError as exc:
            raise AirflowFailException(f"Invalid parameter: {exc}") from None
        dag_run = context["dag_run"]
        if str(dag_run.run_type).lower().endswith("scheduled") and "start_date" not in filters:
            filters.update(
                scheduled_window(context.get("data_interval_start"), context.get("data_interval_end"))
            )
        log.info("Serving %s brand(s) from the %s; filters %s", len(brands), source, filters)
        return [{**brand, "filters": filters} for brand in brands]

    brands = resolve_brands()
    fetch = FetchAdvertisableContentOperator.partial(
        task_id="fetch_advertisable_content",
        map_index_template="business {{ task.business_id }}",
    ).expand_kwargs(brands)
    issue = IssueAdCodesOperator.partial(
        task_id="issue_ad_codes",
        dry_run="{{ params.dry_run }}",
        max_codes="{{ params.max_codes }}",
        map_index_template="business {{ task.business_id }}",
    ).expand_kwargs(fetch.output.map(_issue_kwargs))
    push = PushAdCodesOperator.partial(
        task_id="push_ad_codes",
        sinks="{{ params.sinks }}",
        output_uri="{{ params.output_uri }}",
        file_format="{{ params.file_format }}",
        dry_run="{{ params.dry_run }}",
        map_index_template="business {{ task.business_id }}",
    ).expand_kwargs(issue.output.map(_push_kwargs))

    @task(retries=1)
    def run_summary(issued: list[dict[str, Any]], pushed: list[dict[str, Any]]) -> dict[str, Any]:
        """Log the run's table (per brand: outcomes, delivered per sink) and store it in the ledger."""
        from partnership_ads.ledger import Ledger
        from partnership_ads.summary import build_summary, record_summary, summary_table

        summary = build_summary(list(issued), list(pushed))
        log.info("Run summary:\n%s", summary_table(summary))
        for business_id, entry in sorted(summary["brands"].items()):
            for content_id in entry.get("awaiting_creator_authorisation_items", []):
                log.info("  %s: %s awaits the creator's authorisation", business_id, content_id)
        ledger = Ledger.from_conn_id()
        ledger.migrate()
        record_summary(ledger, get_current_context()["run_id"], summary)
        return summary

    @task(outlets=[AD_CODES_ASSET], retries=0)
    def publish_ad_codes_asset(summary: dict[str, Any]) -> dict[str, int]:
        """Mark the asset updated when any code was delivered (skipped otherwise: no asset event)."""
        from airflow.sdk.exceptions import AirflowSkipException

        if not summary.get("delivered_any"):
            raise AirflowSkipException("No code was delivered in this run: the asset is not updated")
        return summary["totals"]["delivered"]

    summary = run_summary(issue.output, push.output)
    push >> summary
    publish_ad_codes_asset(summary)
