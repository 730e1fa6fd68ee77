"""Drill: bad input, at least forty cases across trigger params, connection settings and API answers.

Each must end in a clear error naming the problem, with nothing written and, where the input is the user's,
before any call to the Graph API:

- trigger params go through the DAG's own validation entry point (``plan_run``, what the ``resolve_brands``
  task runs, with the real Airflow connection lookup and the drill's deployment settings: output folder
  ``work/out``, and for some cases the brand list), and whole DAG runs show a bad trigger fails the first
  task with no call, no retry and no file: a future date, an ``output_uri`` escaping the output root, a
  creator's ``meta_conn_id``; a schema violation creates no run at all;
- connection settings and call arguments go through ``PartnershipAdsHook`` built on an ``AIRFLOW_CONN_*``
  connection, with the sandbox's request log proving no request left;
- API answers come from the sandbox's ``body``/``html``/``truncated`` faults during a real
  ``FetchAdvertisableContentOperator`` run: no snapshot is published, no code issued, nothing delivered.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from include.drills.audit import open_ledger
from include.drills.harness import DrillEnv
from include.drills.results import DrillResult
from partnership_ads.deployment import connection_type
from partnership_ads.hooks import PartnershipAdsHook
from partnership_ads.run_plan import plan_run

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from include.graph_sandbox.testing import SandboxServer
    from tests.drills.conftest import Evidence

pytestmark = pytest.mark.drill

OUTCOMES: dict[str, bool] = {}
DISCOVERY = "partnership-ads-advertisable-content"
FUTURE = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=3)).isoformat()
VALID_BRAND = {"business_id": "123", "fb_page_id": "456"}
# Placeholders the test replaces with the drill's own values (known once its sandbox is up).
DRILL_BRANDS = "<the drill's brand list>"
DRILL_BRAND = "<the drill's business_id>"
CREATOR_CONN = "<a creator's connection>"
ESCAPE = "partnership-ads-escape"
WHOLE_RUNS = 4

PARAM_CASES: list[tuple[str, dict[str, Any], dict[str, str], str]] = [
    ("unknown ad_eligibilities enum", {"ad_eligibilities": ["AD_READDY"]}, {}, "ad_eligibilities"),
    ("unknown platform_types enum", {"platform_types": ["TIKTOK"]}, {}, "platform_types"),
    ("unknown media_types enum", {"media_types": ["GIF"]}, {}, "media_types"),
    ("unknown post_types enum", {"post_types": ["LIVE"]}, {}, "post_types"),
    ("unknown content_types enum", {"content_types": ["SPONSORED"]}, {}, "content_types"),
    ("unknown ad_usages enum", {"ad_usages": ["SOMETIMES"]}, {}, "ad_usages"),
    ("unknown sort_by", {"sort_by": "POPULAR"}, {}, "sort_by"),
    ("future dates", {"start_date": FUTURE, "end_date": FUTURE}, {}, "future"),
    ("start_date without end_date", {"start_date": "2026-01-01"}, {}, "end_date"),
    ("start_date after end_date", {"start_date": "2026-03-01", "end_date": "2026-02-01"}, {}, "start_date"),
    ("not a calendar date", {"start_date": "2026-02-30", "end_date": "2026-03-01"}, {}, "start_date"),
    ("three-letter country code", {"country_codes": ["USA"]}, {}, "country_codes"),
    ("non-numeric partner id", {"ad_partner_ig_user_ids": ["abc"]}, {}, "ad_partner_ig_user_ids"),
    ("is_recommended not a boolean", {"is_recommended": "yes"}, {}, "is_recommended"),
    ("out-of-range max_codes", {"max_codes": -1}, {}, "max_codes"),
    ("unknown sink", {"sinks": ["email"]}, {}, "sinks"),
    ("unknown file_format", {"file_format": "xlsx"}, {}, "file_format"),
    ("dry_run not a boolean", {"dry_run": "true"}, {}, "dry_run"),
    ("output_uri not a string", {"output_uri": 5}, {}, "output_uri"),
    ("malformed business id", {"business_id": "12ab", "fb_page_id": "1"}, {}, "business_id"),
    ("fb_page_id without business_id", {"fb_page_id": "1"}, {}, "business_id"),
    ("business_id without page or IG account", {"business_id": "123"}, {}, "ig_user_id"),
    ("non-numeric fb_page_id", {"business_id": "123", "fb_page_id": "abc"}, {}, "fb_page_id"),
    ("invalid meta_conn_id", {**VALID_BRAND, "meta_conn_id": "bad id!"}, {}, "meta_conn_id"),
    ("brand list not JSON", {}, {"PARTNERSHIP_ADS_BRANDS": "{nope"}, "PARTNERSHIP_ADS_BRANDS"),
    ("brand listed twice", {}, {"PARTNERSHIP_ADS_BRANDS": json.dumps([VALID_BRAND] * 2)}, "listed twice"),
    (
        "unknown brand key",
        {},
        {"PARTNERSHIP_ADS_BRANDS": json.dumps([{**VALID_BRAND, "x": 1}])},
        "unknown key",
    ),
    ("no brand anywhere", {}, {}, "business_id"),
    # Issue 11: the trigger is scoped to its deployment (root work/out; brands as the case says).
    (
        "output_uri escaping the root with ../",
        {**VALID_BRAND, "output_uri": f"../../{ESCAPE}"},
        {},
        "outside",
    ),
    ("output_uri absolute outside the root", {**VALID_BRAND, "output_uri": f"/tmp/{ESCAPE}"}, {}, "outside"),
    ("output_uri with a NUL byte", {**VALID_BRAND, "output_uri": "codes\x00.csv"}, {}, "NUL"),
    ("output_uri scheme not allowed", {**VALID_BRAND, "output_uri": "s3://bucket/codes"}, {}, "scheme 's3'"),
    ("a creator's meta_conn_id", {**VALID_BRAND, "meta_conn_id": CREATOR_CONN}, {}, "creator's connection"),
    (
        "the webhook's connection as meta_conn_id",
        {**VALID_BRAND, "meta_conn_id": "partnership_ads_webhook"},
        {},
        "of type 'http', not meta_graph",
    ),
    (
        "a meta_conn_id that does not exist",
        {**VALID_BRAND, "meta_conn_id": "meta_graph_x"},
        {},
        "does not exist",
    ),
    (
        "a creator's meta_conn_id for a listed brand",
        {"business_id": DRILL_BRAND, "meta_conn_id": CREATOR_CONN},
        {"PARTNERSHIP_ADS_BRANDS": DRILL_BRANDS},
        "meta_conn_id",
    ),
    (
        "another meta_graph connection for a listed brand",
        {"business_id": DRILL_BRAND, "meta_conn_id": "drill_good_conn"},
        {"PARTNERSHIP_ADS_BRANDS": DRILL_BRANDS},
        "always uses the listed brand's meta_conn_id",
    ),
    (
        "a business outside the brand list",
        {"business_id": "999", "fb_page_id": "1"},
        {"PARTNERSHIP_ADS_BRANDS": DRILL_BRANDS},
        "not in the deployment's brand list",
    ),
    ("a 5 MB search_key", {"search_key": "x" * 5_000_000}, {}, "search_key: at most 100 characters"),
    (
        "200,000 partner ids",
        {"ad_partner_ig_user_ids": ["17841400000000000"] * 200_000},
        {},
        "ad_partner_ig_user_ids: at most 100 values",
    ),
]

CONNECTION_CASES: list[tuple[str, str | None, bool, dict[str, Any], str]] = [
    # (case, host (None: the sandbox), with token, extras, expected words)
    ("http:// base URL for a remote host", "http://graph.example.com", True, {}, "http://"),
    ("missing token", None, False, {}, "access token"),
    ("bad api_version", None, True, {"api_version": "25.0"}, "api_version"),
    ("unknown token_transport", None, True, {"token_transport": "smoke"}, "token_transport"),
    ("negative timeout", None, True, {"timeout": "-5"}, "timeout"),
    ("max_retries not a number", None, True, {"max_retries": "many"}, "max_retries"),
    ("credentials in the base URL", "https://u:p@graph.facebook.com", True, {}, "without credentials"),
    ("not an http(s) base URL", "ftp://graph.facebook.com", True, {}, "base URL"),
    (
        "usage_slowdown_percent above 100",
        None,
        True,
        {"usage_slowdown_percent": 150},
        "usage_slowdown_percent",
    ),
    ("app_secret not a string", None, True, {"app_secret": 12345}, "app_secret"),
    (
        "app_secret_time_proof not a boolean",
        None,
        True,
        {"app_secret_time_proof": "x"},
        "app_secret_time_proof",
    ),
    ("negative max_throttle_wait_seconds", None, True, {"max_throttle_wait_seconds": "-1"}, "max_throttle"),
]

CALL_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("limit below 1", "pages", {"page_size": 0}, "limit"),
    ("limit above 50", "pages", {"page_size": 51}, "limit"),
    ("mixed lookups", "lookup", {"content_ids": ["1"], "permalinks": ["https://x/p"]}, "content_ids"),
    ("non-numeric content_ids", "lookup", {"content_ids": ["abc"]}, "content_ids"),
    ("malformed business id in a call", "pages", {"business_id": "12-34"}, "business_id"),
    ("non-numeric ig_media_id", "post", {"ig_media_id": "abc"}, "ig_media_id"),
]

ITEM = {"content_id": "17800000000000001", "platform": "INSTAGRAM"}
ANSWER_CASES: list[tuple[str, list[dict[str, Any]], str]] = [
    ("answer without data", [{"kind": "body", "body": {"paging": {}}, "count": 10}], "'data'"),
    ("data not a list", [{"kind": "body", "body": {"data": "none"}, "count": 10}], "'data'"),
    ("data items not objects", [{"kind": "body", "body": {"data": [1, 2]}, "count": 10}], "'data'"),
    ("paging not an object", [{"kind": "body", "body": {"data": [], "paging": []}, "count": 10}], "paging"),
    (
        "item without content_id",
        [{"kind": "body", "body": {"data": [{"platform": "X"}]}, "count": 10}],
        "content_id",
    ),
    (
        "content_id mistyped",
        [{"kind": "body", "body": {"data": [{"content_id": 17}]}, "count": 10}],
        "content_id",
    ),
    (
        "partnership_info mistyped",
        [{"kind": "body", "body": {"data": [{**ITEM, "partnership_info": "AD_READY"}]}, "count": 10}],
        "partnership_info",
    ),
    (
        "ad_code mistyped",
        [{"kind": "body", "body": {"data": [{**ITEM, "partnership_info": [{"ad_code": 5}]}]}, "count": 10}],
        "ad_code",
    ),
    (
        "platform mistyped",
        [{"kind": "body", "body": {"data": [{**ITEM, "platform": 7}]}, "count": 10}],
        "platform",
    ),
    (
        "cursor that repeats",
        [{"kind": "body", "body": {"data": [ITEM], "paging": {"cursors": {"after": "R1"}}}, "count": 2}],
        "cursor",
    ),
    (
        "cursor cycle",
        [
            {"kind": "body", "body": {"data": [ITEM], "paging": {"cursors": {"after": c}}}, "count": 1}
            for c in ("A", "B", "A")
        ],
        "cursor",
    ),
    (
        "empty page that still carries after",
        [{"kind": "body", "body": {"data": [], "paging": {"cursors": {"after": "E1"}}}, "count": 1}],
        "empty",
    ),
    ("HTML page with status 200", [{"kind": "html", "status": 200, "count": 10}], "JSON"),
    ("truncated body", [{"kind": "truncated", "count": 10}], "JSON"),
]


@pytest.fixture(scope="module")
def bad_input_drill(
    drill_sandbox: SandboxServer, drill_airflow_db: Path, drill_results: Path, evidence: Evidence
) -> Iterator[DrillEnv]:
    """One drill environment (one brand) for every case; writes the drill's row when the module ends."""
    from tests.drills.conftest import WORK

    began = time.monotonic()
    drill = DrillEnv.create(
        "bad_input", drill_sandbox, work=WORK / "bad_input", airflow_db=drill_airflow_db, brands=1
    )
    evidence.add_drill(drill)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in drill.connection_env().items():
            patch.setenv(key, value)
        yield drill
    drill.keep_evidence()
    created = [c for c in drill.sandbox.ad_codes() if c["origin"] != "seeded"]
    total = len(PARAM_CASES) + len(CONNECTION_CASES) + len(CALL_CASES) + len(ANSWER_CASES) + WHOLE_RUNS
    passed = sum(OUTCOMES.values())
    DrillResult(
        drill="bad_input",
        trials=len(OUTCOMES),
        faults=f"{len(PARAM_CASES) + WHOLE_RUNS} trigger params, {len(CONNECTION_CASES)} connection "
        f"settings, {len(CALL_CASES)} call arguments, {len(ANSWER_CASES)} API answers; "
        f"{passed} ended as required",
        issued=len(created),
        verdict="PASS" if passed == len(OUTCOMES) == total and not created else "FAIL",
        notes=[case for case, ok in OUTCOMES.items() if not ok][:10],
        seconds=round(time.monotonic() - began, 1),
    ).write()


def _graph_calls(sandbox: SandboxServer) -> list[dict[str, Any]]:
    return [e for e in sandbox.requests_log() if not e["path"].startswith("/__sandbox__")]


@pytest.mark.parametrize(("case", "params", "environ", "words"), PARAM_CASES, ids=[c[0] for c in PARAM_CASES])
def test_bad_trigger_param_fails_validation_naming_it(
    bad_input_drill: DrillEnv,
    evidence: Evidence,
    case: str,
    params: dict[str, Any],
    environ: dict[str, str],
    words: str,
) -> None:
    OUTCOMES[f"param: {case}"] = False
    drill = bad_input_drill
    # The drill's own deployment: its output folder (the output root), and its brand list when the case
    # says so; connections are the drill's real AIRFLOW_CONN_* variables, read by the real lookup.
    deployment = {"PARTNERSHIP_ADS_OUTPUT_URI": str(drill.work / "out")}
    deployment |= {k: drill.env[k] if v == DRILL_BRANDS else v for k, v in environ.items()}
    params = {k: _materialise(v, drill) for k, v in params.items()}
    before = len(_graph_calls(drill.sandbox))
    files_before = _files(drill)
    with pytest.raises(ValueError, match=words) as caught:
        plan_run(
            params,
            scheduled=False,
            get_variable=lambda _key: None,
            environ=deployment,
            get_connection_type=connection_type,
        )
    evidence.add_exception(caught.value)
    assert len(str(caught.value)) < 2000, "the error must not carry the oversized value"
    assert len(_graph_calls(drill.sandbox)) == before
    assert _files(drill) == files_before
    assert not _escaped(drill)
    OUTCOMES[f"param: {case}"] = True


def _materialise(value: Any, drill: DrillEnv) -> Any:
    if value == DRILL_BRAND:
        return drill.facts["brands"][0]["business_id"]
    if value == CREATOR_CONN:
        return f"meta_graph_creator_{drill.facts['creators_with_connection'][0]}"
    return value


def _files(drill: DrillEnv) -> set[str]:
    """Every file under the drill's work folder but the Airflow home (its database changes on every run)."""
    return {str(p) for p in drill.work.rglob("*") if "airflow" not in p.relative_to(drill.work).parts[:1]}


def _escaped(drill: DrillEnv) -> bool:
    """Whether anything was written where the escaping output_uri cases point."""
    return any(p.exists() for p in (drill.work.parent / ESCAPE, drill.work.parent.parent / ESCAPE))


def test_a_trigger_the_form_schema_refuses_creates_no_run_and_makes_no_call(
    bad_input_drill: DrillEnv,
) -> None:
    OUTCOMES["param: whole DAG run, enum refused by the trigger form's schema"] = False
    drill = bad_input_drill
    drill.sandbox.control("DELETE", "requests")
    run = drill.run_dag("bad-enum", {"ad_eligibilities": ["AD_READDY"]})
    log = run.log_path.read_text(errors="replace")
    assert run.returncode != 0 and run.run_id is None
    assert "Invalid input for param ad_eligibilities: 'AD_READDY' is not one of" in log
    assert _graph_calls(drill.sandbox) == []
    assert not drill.facts["ledger_path"].exists()
    OUTCOMES["param: whole DAG run, enum refused by the trigger form's schema"] = True


def test_a_bad_trigger_fails_the_first_task_of_a_real_run_before_any_call(bad_input_drill: DrillEnv) -> None:
    OUTCOMES["param: whole DAG run with future dates"] = False
    drill = bad_input_drill
    drill.sandbox.control("DELETE", "requests")
    run = drill.run_dag("bad-dates", {"start_date": FUTURE, "end_date": FUTURE})
    log = run.log_path.read_text(errors="replace")
    assert run.state == "failed", run.tries
    assert run.tries["resolve_brands"] == ["failed"], run.tries
    assert all(
        states in (["upstream_failed"], ["skipped"])
        for t, states in run.tries.items()
        if t != "resolve_brands"
    ), run.tries
    assert f"Invalid parameter: start_date: {FUTURE} is in the future" in log
    assert _graph_calls(drill.sandbox) == []
    assert not drill.facts["ledger_path"].exists()
    assert not (drill.work / "out").exists()
    OUTCOMES["param: whole DAG run with future dates"] = True


@pytest.mark.parametrize(
    ("case", "conf", "words"),
    [
        ("output_uri escaping the root", {"output_uri": f"../../{ESCAPE}"}, "output_uri: "),
        (
            "a creator's meta_conn_id for a listed brand",
            {"business_id": DRILL_BRAND, "meta_conn_id": CREATOR_CONN},
            "meta_conn_id: ",
        ),
    ],
    ids=["output_uri escape", "creator meta_conn_id"],
)
def test_a_trigger_outside_its_scope_fails_the_first_task_before_any_call_or_write(
    bad_input_drill: DrillEnv, case: str, conf: dict[str, Any], words: str
) -> None:
    OUTCOMES[f"param: whole DAG run with {case}"] = False
    drill = bad_input_drill
    drill.sandbox.control("DELETE", "requests")
    run = drill.run_dag(f"scope-{len(OUTCOMES)}", {k: _materialise(v, drill) for k, v in conf.items()})
    log = run.log_path.read_text(errors="replace")
    assert run.state == "failed", run.tries
    assert run.tries["resolve_brands"] == ["failed"], run.tries
    assert f"Invalid parameter: {words}" in log
    assert _graph_calls(drill.sandbox) == []
    assert not drill.facts["ledger_path"].exists()
    assert not (drill.work / "out").exists()
    assert not _escaped(drill)
    OUTCOMES[f"param: whole DAG run with {case}"] = True


def _conn(
    drill: DrillEnv,
    monkeypatch: pytest.MonkeyPatch,
    conn_id: str,
    host: str | None,
    token: bool,
    extra: dict[str, Any],
) -> PartnershipAdsHook:
    brand_token = drill.sandbox.brand_token(drill.facts["brands"][0]["business_id"])["access_token"]
    conn: dict[str, Any] = {
        "conn_type": "meta_graph",
        "host": host or drill.sandbox.url,
        "extra": {"max_retries": 3, **extra},
    }
    if token:
        conn["password"] = brand_token
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return PartnershipAdsHook(meta_conn_id=conn_id)


@pytest.mark.parametrize(
    ("case", "host", "token", "extra", "words"), CONNECTION_CASES, ids=[c[0] for c in CONNECTION_CASES]
)
def test_bad_connection_setting_fails_before_any_request_naming_it(
    bad_input_drill: DrillEnv,
    evidence: Evidence,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    host: str | None,
    token: bool,
    extra: dict[str, Any],
    words: str,
) -> None:
    OUTCOMES[f"connection: {case}"] = False
    drill = bad_input_drill
    brand = drill.facts["brands"][0]
    hook = _conn(drill, monkeypatch, "drill_bad_conn", host, token, extra)
    before = len(_graph_calls(drill.sandbox))
    with pytest.raises(ValueError, match=words) as caught:
        list(hook.iter_advertisable_pages(brand["business_id"], fb_page_id=brand["fb_page_id"]))
    evidence.add_exception(caught.value)
    assert "drill_bad_conn" in str(caught.value), "the error must name the connection"
    assert len(_graph_calls(drill.sandbox)) == before, "a request was sent despite the bad setting"
    OUTCOMES[f"connection: {case}"] = True


@pytest.mark.parametrize(("case", "call", "arguments", "words"), CALL_CASES, ids=[c[0] for c in CALL_CASES])
def test_bad_call_argument_fails_before_any_request_naming_it(
    bad_input_drill: DrillEnv,
    evidence: Evidence,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    call: str,
    arguments: dict[str, Any],
    words: str,
) -> None:
    OUTCOMES[f"call: {case}"] = False
    drill = bad_input_drill
    brand = drill.facts["brands"][0]
    hook = _conn(drill, monkeypatch, "drill_good_conn", None, True, {})
    before = len(_graph_calls(drill.sandbox))
    arguments = dict(arguments)
    business_id = arguments.pop("business_id", brand["business_id"])
    with pytest.raises(ValueError, match=words) as caught:
        if call == "pages":
            list(hook.iter_advertisable_pages(business_id, fb_page_id=brand["fb_page_id"], **arguments))
        elif call == "lookup":
            hook.lookup_advertisable_content(business_id, fb_page_id=brand["fb_page_id"], **arguments)
        else:
            hook.create_partnership_ad_code(arguments["ig_media_id"])
    evidence.add_exception(caught.value)
    assert len(_graph_calls(drill.sandbox)) == before
    OUTCOMES[f"call: {case}"] = True


@pytest.mark.parametrize(("case", "faults", "words"), ANSWER_CASES, ids=[c[0] for c in ANSWER_CASES])
def test_bad_api_answer_ends_in_a_clear_error_with_nothing_written(
    bad_input_drill: DrillEnv,
    evidence: Evidence,
    case: str,
    faults: list[dict[str, Any]],
    words: str,
) -> None:
    from partnership_ads.hooks import GraphAPIError
    from partnership_ads.operators import FetchAdvertisableContentOperator

    OUTCOMES[f"answer: {case}"] = False
    drill = bad_input_drill
    brand = drill.facts["brands"][0]
    drill.sandbox.clear_faults()
    for spec in faults:
        drill.sandbox.schedule_fault(method="GET", path=f"/{brand['business_id']}/{DISCOVERY}", **spec)
    ledger = open_ledger(drill)
    ledger.migrate()
    content_before = ledger.hook.get_records("SELECT COUNT(*) FROM pa_content")[0][0]
    snapshots = drill.work / "bad_answers" / case.replace(" ", "_")
    operator = FetchAdvertisableContentOperator(
        task_id="fetch_advertisable_content",
        snapshot_root=str(snapshots),
        **{k: brand[k] for k in ("business_id", "fb_page_id", "ig_user_id", "meta_conn_id")},
    )
    context = {
        "run_id": f"bad_{len(OUTCOMES)}",
        "ti": SimpleNamespace(
            dag_id="partnership_ad_codes", task_id="fetch_advertisable_content", map_index=-1, try_number=1
        ),
    }
    try:
        with pytest.raises(GraphAPIError, match=words) as caught:
            operator.execute(context)  # type: ignore[arg-type]
    finally:
        drill.sandbox.clear_faults()
    evidence.add_exception(caught.value)
    published = [p for p in snapshots.rglob("*.parquet")] if snapshots.exists() else []
    assert published == [], f"a snapshot was published: {published}"
    assert [e for e in _graph_calls(drill.sandbox) if e["method"] == "POST"] == []
    assert ledger.codes() == []
    if case not in ("cursor that repeats", "cursor cycle"):
        # Only a failing first page leaves the content table untouched; with a bad cursor the valid pages
        # before it were seen (recorded as seen, never issued or delivered).
        assert ledger.hook.get_records("SELECT COUNT(*) FROM pa_content")[0][0] == content_before
    assert drill.sandbox.webhook_deliveries() == []
    OUTCOMES[f"answer: {case}"] = True
