"""Connections and brand list for running the pipeline against the graph sandbox (demo and tests).

Builds ``AIRFLOW_CONN_*`` environment variables, so nothing is written to a metadata database and every
process started with this environment (``airflow dags test``, pytest) sees the same connections. Tokens only
ever travel inside these variables: nothing here prints or logs them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from partnership_ads.conn_ids import DEFAULT_META_CONN_ID


class SandboxLike(Protocol):
    url: str
    api_version: str

    def tokens(self) -> list[dict[str, Any]]: ...

    def app(self, app_id: str | None = None) -> dict[str, Any]: ...


DEMO_WEBHOOK_SECRET = "demo-webhook-signing-secret"  # noqa: S105 - a sandbox-only value, not a credential


def _meta_conn(url: str, api_version: str, token: str, app: dict[str, str] | None = None) -> str:
    extra: dict[str, Any] = {
        "api_version": api_version,
        "backoff_base_seconds": 0.05,
        "backoff_max_seconds": 0.5,
        "max_retries": 3,
    }
    if app is not None:
        extra.update(app)
    return json.dumps({"conn_type": "meta_graph", "host": url, "password": token, "extra": extra})


def sandbox_brands(sandbox: SandboxLike, count: int = 2) -> list[dict[str, Any]]:
    """The first ``count`` generated (non-example) brands, with the connection id each uses."""
    brands = [
        t
        for t in sandbox.tokens()
        if t["role"] == "brand" and not t["minted"] and "seed example" not in t["label"]
    ][:count]
    return [
        {
            "business_id": b["business_id"],
            "fb_page_id": b["fb_page_id"],
            "ig_user_id": b["ig_user_id"],
            "meta_conn_id": DEFAULT_META_CONN_ID if i == 0 else f"meta_graph_brand_{i + 1}",
        }
        for i, b in enumerate(brands)
    ]


def pipeline_environment(
    sandbox: SandboxLike,
    *,
    state_dir: Path,
    brands: int = 2,
    skip_creators: int = 1,
    webhook_secret: str = DEMO_WEBHOOK_SECRET,
    output_uri: str | None = None,
    app_credentials: bool = False,
    meta_ads: bool = False,
) -> tuple[dict[str, str], dict[str, Any]]:
    """Environment variables for a pipeline run on the sandbox, and facts about it.

    Brand 1 uses ``meta_graph_default``, brand N ``meta_graph_brand_N``. Every creator but the last
    ``skip_creators`` gets ``meta_graph_creator_<ig_user_id>``, so some items await creator authorisation.
    The ledger and the SQL sink use ``partnership_ads_db``: SQLite at ``state_dir/partnership_ads.db``.
    With ``app_credentials`` every ``meta_graph`` connection also carries the sandbox app's ``app_id`` and
    ``app_secret`` extras (for ``appsecret_proof`` and the app token ``<app_id>|<app_secret>`` that
    ``debug_token`` accepts); off by default because the hook does not know ``app_id`` yet and warns about
    it.

    With ``meta_ads``, each brand's entry carries its first sandbox ad account and that account's first
    (ACTIVE) ad set (:func:`sandbox_ad_settings`), so a run whose ``sinks`` name ``meta_ads`` makes paused
    ads.

    :returns: ``(env, facts)``; facts has ``brands``, ``creators_with_connection``,
        ``creators_without_connection``, ``ledger_path``, ``output_uri``, ``app_id``.
    """
    tokens = sandbox.tokens()
    app_info = sandbox.app()
    app = {"app_id": app_info["app_id"], "app_secret": app_info["app_secret"]} if app_credentials else None
    chosen = sandbox_brands(sandbox, brands)
    if meta_ads:
        chosen = [{**brand, **sandbox_ad_settings(sandbox, brand["business_id"])} for brand in chosen]
    by_business = {t["business_id"]: t for t in tokens if t["role"] == "brand" and not t["minted"]}
    env: dict[str, str] = {}
    for brand in chosen:
        token = by_business[brand["business_id"]]["access_token"]
        env[f"AIRFLOW_CONN_{brand['meta_conn_id'].upper()}"] = _meta_conn(
            sandbox.url, sandbox.api_version, token, app
        )
    creators = [t for t in tokens if t["role"] == "creator" and not t["minted"]]
    with_conn = creators[: len(creators) - skip_creators] if skip_creators else creators
    without = creators[len(with_conn) :]
    for creator in with_conn:
        env[f"AIRFLOW_CONN_META_GRAPH_CREATOR_{creator['ig_user_id']}"] = _meta_conn(
            sandbox.url, sandbox.api_version, creator["access_token"], app
        )
    ledger_path = state_dir / "partnership_ads.db"
    env["AIRFLOW_CONN_PARTNERSHIP_ADS_DB"] = json.dumps({"conn_type": "sqlite", "host": str(ledger_path)})
    env["AIRFLOW_CONN_PARTNERSHIP_ADS_WEBHOOK"] = json.dumps(
        {"conn_type": "http", "host": f"{sandbox.url}/__sandbox__/webhook", "password": webhook_secret}
    )
    env["PARTNERSHIP_ADS_BRANDS"] = json.dumps(chosen)
    env["PARTNERSHIP_ADS_SNAPSHOT_ROOT"] = str(state_dir / "snapshots")
    if output_uri:
        env["PARTNERSHIP_ADS_OUTPUT_URI"] = output_uri
    facts = {
        "brands": chosen,
        "creators_with_connection": [c["ig_user_id"] for c in with_conn],
        "creators_without_connection": [c["ig_user_id"] for c in without],
        "ledger_path": ledger_path,
        "output_uri": output_uri,
        "app_id": app_info["app_id"],
    }
    return env, facts


# --- make demo ----------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
DAG_ID = "partnership_ad_codes"
#: The demo delivers to every sink, meta_ads included (it is off unless a run names it).
DEMO_SINKS = ["sql", "webhook", "files", "meta_ads"]


def sandbox_ad_settings(sandbox: Any, business_id: str) -> dict[str, Any]:
    """A sandbox brand's first ad account and its first ad set (ACTIVE), as a brand list entry's
    ``ad_account_id``, ``adset_id`` and ``ad_format``, from the sandbox's control API (``GET world``)."""
    world = sandbox.control("GET", "world").json()
    business = next(b for b in world["businesses"] if b["business_id"] == business_id)
    account = business["ad_accounts"][0]
    return {"ad_account_id": account["id"], "adset_id": account["adsets"][0]["id"], "ad_format": 1}


def airflow_environment(airflow_home: Path, extra: dict[str, str]) -> dict[str, str]:
    """The environment for Airflow CLI subprocesses: this repo's dags/plugins, the given home, ``extra``."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "PARTNERSHIP_ADS_TASK_RETRIES": "0",
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")]),
        }
    )
    env.update(extra)
    return env


def run_airflow(args: list[str], env: dict[str, str], log_path: Path, *, timeout: float = 900) -> int:
    """Run ``python -m airflow ARGS`` with output appended to ``log_path``; returns the exit code."""
    import subprocess
    import sys

    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a") as log_file:
        log_file.write(f"\n$ airflow {' '.join(args)}\n")
        log_file.flush()
        completed = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
            cwd=ROOT,
        )
    return completed.returncode


def sql_table_rows(ledger_path: Path) -> list[tuple[Any, ...]]:
    """Rows of the SQL sink's table ``partnership_ad_codes`` in the SQLite file."""
    import sqlite3

    with sqlite3.connect(ledger_path) as conn:
        return conn.execute(
            "SELECT business_id, content_id, ig_user_id, ad_code, state FROM partnership_ad_codes"
        ).fetchall()


def main() -> int:
    """Run the whole pipeline once on a fresh sandbox; print where the codes landed; check the counts."""
    import shutil
    import sys

    from include.graph_sandbox.testing import spawn_sandbox
    from partnership_ads.ledger import Ledger
    from partnership_ads.summary import summary_table

    state = ROOT / ".demo"
    demo = state / "demo"
    shutil.rmtree(demo, ignore_errors=True)
    airflow_home = demo / "airflow"
    out = demo / "out"
    log_path = demo / "airflow-dags-test.log"
    airflow_home.mkdir(parents=True)
    print(f"[demo] state folder: {demo}")
    print("[demo] starting the graph sandbox ...")
    # The token-health examples: creators whose tokens are expiring, expired and missing a scope, so the run
    # shows its Tokens section; the app credentials let debug_token use the app token.
    sandbox = spawn_sandbox(port=0, seed=7, items=500, token_health_examples=True)
    try:
        print(f"[demo] sandbox listening on {sandbox.url}")
        extra, facts = pipeline_environment(
            sandbox, state_dir=demo, output_uri=str(out), app_credentials=True, meta_ads=True
        )
        env = airflow_environment(airflow_home, extra)
        print(
            f"[demo] brands: {', '.join(b['business_id'] for b in facts['brands'])}; creator connections for "
            f"{len(facts['creators_with_connection'])} creators, none for "
            f"{len(facts['creators_without_connection'])} (their items will await authorisation)"
        )
        print("[demo] airflow db migrate ...")
        if run_airflow(["db", "migrate"], env, log_path) != 0:
            print(f"[demo] airflow db migrate failed; see {log_path}")
            return 1
        print(f"[demo] sinks: {', '.join(DEMO_SINKS)} (meta_ads: PAUSED ads in each brand's sandbox ad set)")
        print(f"[demo] airflow dags test {DAG_ID} (log: {log_path}) ...")
        code = run_airflow(["dags", "test", DAG_ID, "-c", json.dumps({"sinks": DEMO_SINKS})], env, log_path)
        ledger = Ledger.from_sqlite_path(facts["ledger_path"])
        run_id = ledger.latest_run_id() if facts["ledger_path"].exists() else None
        if code != 0 or run_id is None:
            print(f"[demo] the DAG run failed (exit {code}); see {log_path}")
            return 1
        return report(sandbox, ledger, run_id, facts, out, summary_table)
    finally:
        sandbox.stop()
        sys.stdout.flush()


def report(sandbox: Any, ledger: Any, run_id: str, facts: dict[str, Any], out: Path, table: Any) -> int:
    """Print the run summary and where the codes landed; 0 when the counts agree with the sandbox."""
    figures = ledger.run_figures(run_id)
    sinks = sorted({k.split(":", 1)[1] for f in figures.values() for k in f if k.startswith("delivered:")})
    from partnership_ads.sink_names import META_ADS_OUTCOMES
    from partnership_ads.summary import SUMMARY_OUTCOMES

    summary = {
        "brands": {
            b: {
                **{k: v for k, v in f.items() if ":" not in k},
                "delivered": {s: f.get(f"delivered:{s}", 0) for s in sinks},
                "meta_ads": {o: f.get(f"meta_ads:{o}", 0) for o in META_ADS_OUTCOMES},
            }
            for b, f in figures.items()
        },
        "sinks": sinks,
    }
    summary["totals"] = {
        **{o: sum(e.get(o, 0) for e in summary["brands"].values()) for o in SUMMARY_OUTCOMES},
        "delivered": {s: sum(e["delivered"][s] for e in summary["brands"].values()) for s in sinks},
        "meta_ads": {o: sum(e["meta_ads"][o] for e in summary["brands"].values()) for o in META_ADS_OUTCOMES},
    }
    print(f"\n[demo] run {run_id} summary:\n{table(summary)}\n")
    created = [c for c in sandbox.ad_codes() if c["origin"] != "seeded"]
    valid_codes = {c["ad_code"] for c in sandbox.ad_codes() if c["valid"]}
    rows = sql_table_rows(facts["ledger_path"])
    deliveries = sandbox.webhook_deliveries()
    webhook_records = sum(len((d.get("body") or {}).get("ad_codes", [])) for d in deliveries)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    print("[demo] where the codes landed:")
    print(f"  SQL table partnership_ad_codes in {facts['ledger_path']}: {len(rows)} rows")
    print(
        f"  webhook receiver {sandbox.url}/__sandbox__/webhook: {len(deliveries)} signed batches, "
        f"{webhook_records} codes"
    )
    for path in files:
        print(f"  file {path}")
    ads = sandbox.ads()
    paused = sum(1 for a in ads if a["status"] == "PAUSED")
    made = summary["totals"]["meta_ads"]["ads_created"]
    print(
        f"  meta_ads: {made} PAUSED ads made (one creative and one ad per code, in each brand's sandbox ad "
        f"set); the sandbox holds {len(ads)} ads, {paused} of them PAUSED"
    )
    awaiting = {b: e.get("awaiting_creator_authorisation", 0) for b, e in summary["brands"].items()}
    print(f"  awaiting creator authorisation (no meta_graph_creator_<id> connection): {awaiting}")
    reauthorise = {b: e.get("awaiting_creator_reauthorisation", 0) for b, e in summary["brands"].items()}
    print(f"  awaiting creator re-authorisation (token expired, invalid or missing a scope): {reauthorise}")
    problems = token_report(sandbox, ledger, summary)
    issued = summary["totals"]["issued"]
    if issued != len(created):
        problems.append(f"the summary says {issued} issued, the sandbox created {len(created)}")
    if not rows or any(r[3] not in valid_codes for r in rows):
        problems.append("the SQL table is empty or holds a code the sandbox does not consider valid")
    if made != len(ads) or paused != len(ads) or made != summary["totals"]["delivered"].get("meta_ads"):
        problems.append(
            f"meta_ads made {made} ads, the sandbox holds {len(ads)} ({paused} PAUSED), "
            f"{summary['totals']['delivered'].get('meta_ads', 0)} codes delivered to it"
        )
    for sink in ("sql", "webhook", "files", "meta_ads"):
        if not summary["totals"]["delivered"].get(sink):
            problems.append(f"nothing was delivered to the {sink} sink")
    if webhook_records != summary["totals"]["delivered"].get("webhook", 0):
        problems.append("the webhook receiver's count differs from the summary")
    if problems:
        print("[demo] MISMATCH: " + "; ".join(problems))
        return 1
    print(
        f"[demo] OK: {issued} codes issued, matching the sandbox's own record of {len(created)} created "
        f"codes; every delivered code is valid at the sandbox; {made} PAUSED ads made, none active."
    )
    return 0


def token_report(sandbox: Any, ledger: Any, summary: dict[str, Any]) -> list[str]:
    """Print the run's Tokens section (from the ledger's checks); the problems when the examples do not show
    (an expiring and an expired creator, the expired one's items awaiting re-authorisation, no failed POST).
    """
    from partnership_ads.conn_ids import CREATOR_CONN_PREFIX
    from partnership_ads.token_health import tokens_report, tokens_section

    creators = [h for h in ledger.token_health_records() if h.conn_id.startswith(CREATOR_CONN_PREFIX)]
    report = tokens_report(creators)
    print(f"\n[demo] {tokens_section(report)}\n")
    problems: list[str] = []
    for state in ("expiring", "expired"):
        if not report["counts"].get(state):
            problems.append(f"no {state} creator token in the Tokens section")
    if report["counts"].get("expired") and not summary["totals"].get("awaiting_creator_reauthorisation"):
        problems.append("the expired creator's items are not awaiting re-authorisation")
    refused = [r for r in sandbox.requests_log() if r.get("method") == "POST" and r.get("error_code") == 190]
    if refused or summary["totals"].get("failed"):
        problems.append(f"{len(refused)} POST(s) refused with 190, {summary['totals'].get('failed')} failed")
    return problems


if __name__ == "__main__":
    raise SystemExit(main())
