"""The drill environment: a sandbox in ``rotate`` mode, connections, an Airflow home, and DAG runs.

Connections are built by :func:`include.demo.pipeline_environment` (the same ``AIRFLOW_CONN_*`` variables the
demo and the e2e tests use), then every ``meta_graph`` connection gets the drill's app secret (the sandbox
requires ``appsecret_proof`` for the app) and any extra the drill sets (``max_throttle_wait_seconds``, ...).
Every secret a drill uses is recorded in :attr:`DrillEnv.secrets` for the secret scan.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets as _secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from include.demo import airflow_environment, pipeline_environment
from include.drills.dagrun import RESULT_PREFIX

if TYPE_CHECKING:
    from include.graph_sandbox.testing import SandboxClient

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "partnership_ad_codes"
DISCOVERY_EDGE = "partnership-ads-advertisable-content"
ELIGIBILITY_FIELDS = (
    "content_id,platform,permalink,author{ig_user_id},"
    "partnership_info{ad_eligibility,ad_code,tagged_partner{ig_user_id,fb_page_id}}"
)


def migrated_airflow_db(folder: Path) -> Path:
    """``airflow db migrate`` once into ``folder`` (reused when already there); returns the database file."""
    database = folder / "airflow.db"
    if database.exists():
        return database
    folder.mkdir(parents=True, exist_ok=True)
    env = airflow_environment(folder, {})
    completed = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0 or not database.exists():
        raise RuntimeError(
            f"airflow db migrate failed: {completed.stdout[-2000:]} {completed.stderr[-2000:]}"
        )
    return database


@dataclass(frozen=True)
class Eligible:
    """An AD_READY Instagram item of a brand, as an independent client sees it before the drill."""

    business_id: str
    content_id: str
    author_ig_user_id: str | None
    seeded_ad_code: str | None
    has_owner_connection: bool

    @property
    def expects_code(self) -> bool:
        """Whether the pipeline must end with a code for it (an existing code, or credentials to issue)."""
        return bool(self.seeded_ad_code) or self.has_owner_connection


@dataclass
class DagRunResult:
    """One ``python -m include.drills.dagrun`` run."""

    returncode: int
    run_id: str | None
    state: str | None
    tries: dict[str, list[str]]
    log_path: Path
    seconds: float

    def tries_of(self, task_id: str) -> dict[str, list[str]]:
        """The tries of one task (every map index)."""
        return {k: v for k, v in self.tries.items() if k == task_id or k.startswith(f"{task_id}[")}


@dataclass
class DrillEnv:
    """One drill's world. Create with :meth:`create`."""

    name: str
    sandbox: SandboxClient
    work: Path
    env: dict[str, str] = field(repr=False)
    facts: dict[str, Any]
    eligible: list[Eligible]
    app_secret: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    secrets: list[str] = field(default_factory=list, repr=False)
    runs: list[DagRunResult] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        name: str,
        sandbox: SandboxClient,
        *,
        work: Path,
        airflow_db: Path,
        brands: int = 2,
        skip_creators: int = 1,
        meta_extra: dict[str, Any] | None = None,
        ledger_uri: str | None = None,
    ) -> DrillEnv:
        """Reset the sandbox to ``rotate`` mode, compute the eligible items, and build the environment.

        :param airflow_db: a migrated metadata database, copied into this drill's Airflow home.
        :param meta_extra: extras added to every ``meta_graph`` connection.
        :param ledger_uri: ``partnership_ads_db`` as a connection URI (default: SQLite under ``work``).
        """
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        sandbox.reset(config=True)
        sandbox.clear_faults()
        sandbox.configure(ad_code_repeat="rotate")
        app_secret = "drill-app-secret-" + _secrets.token_hex(12)
        webhook_secret = "drill-webhook-secret-" + _secrets.token_hex(12)
        extra_env, facts = pipeline_environment(
            sandbox,
            state_dir=work,
            brands=brands,
            skip_creators=skip_creators,
            webhook_secret=webhook_secret,
            output_uri=str(work / "out"),
        )
        for key, value in list(extra_env.items()):
            if key.startswith("AIRFLOW_CONN_META_GRAPH"):
                conn = json.loads(value)
                conn["extra"] = {**conn.get("extra", {}), "app_secret": app_secret, **(meta_extra or {})}
                extra_env[key] = json.dumps(conn)
        if ledger_uri:
            extra_env["AIRFLOW_CONN_PARTNERSHIP_ADS_DB"] = ledger_uri
        home = work / "airflow"
        home.mkdir()
        shutil.copy(airflow_db, home / "airflow.db")
        env = airflow_environment(home, extra_env)
        # The demo and the e2e tests turn retries off; the drills run the DAG's own retry count.
        env.pop("PARTNERSHIP_ADS_TASK_RETRIES", None)
        eligible = eligible_items(sandbox, facts["brands"], set(facts["creators_with_connection"]))
        tokens = [t["access_token"] for t in sandbox.tokens()]
        app_ids = {t["app_id"] for t in sandbox.tokens()}
        sandbox.configure(app_secrets=dict.fromkeys(app_ids, app_secret))
        return cls(
            name=name,
            sandbox=sandbox,
            work=work,
            env=env,
            facts=facts,
            eligible=eligible,
            app_secret=app_secret,
            webhook_secret=webhook_secret,
            secrets=[*tokens, app_secret, webhook_secret],
        )

    # --- DAG runs -------------------------------------------------------------------------------------------

    def dagrun_command(
        self, conf: dict[str, Any] | None, retry_delay_seconds: float, dag_id: str = DAG_ID
    ) -> list[str]:
        cmd = [sys.executable, "-m", "include.drills.dagrun", dag_id]
        cmd += ["--retry-delay-seconds", str(retry_delay_seconds)]
        if conf:
            cmd += ["--conf", json.dumps(conf)]
        return cmd

    def start_dag(
        self,
        label: str,
        conf: dict[str, Any] | None = None,
        *,
        retry_delay_seconds: float = 1.0,
        env: dict[str, str] | None = None,
        dag_id: str = DAG_ID,
    ) -> tuple[subprocess.Popen[bytes], Path, float]:
        """Start a DAG run (of the pipeline, unless ``dag_id`` says another) in the background; finish it
        with :meth:`wait_dag`."""
        log_path = self.work / "logs" / f"{label}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handle = log_path.open("wb")
        process = subprocess.Popen(
            self.dagrun_command(conf, retry_delay_seconds, dag_id),
            env=env or self.env,
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        handle.close()
        return process, log_path, time.monotonic()

    def wait_dag(
        self, started: tuple[subprocess.Popen[bytes], Path, float], *, timeout: float = 420
    ) -> DagRunResult:
        process, log_path, began = started
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        outcome: dict[str, Any] = {}
        deadline = time.monotonic() + 5
        while not outcome:
            for line in log_path.read_text(errors="replace").splitlines():
                if line.startswith(RESULT_PREFIX):
                    outcome = json.loads(line[len(RESULT_PREFIX) :])
            if outcome or time.monotonic() > deadline:
                break
            # A process the run started may still hold the log open; give the last line time to land.
            time.sleep(0.25)
        result = DagRunResult(
            returncode=returncode,
            run_id=outcome.get("run_id"),
            state=outcome.get("state"),
            tries=outcome.get("tries", {}),
            log_path=log_path,
            seconds=time.monotonic() - began,
        )
        self.runs.append(result)
        return result

    def run_dag(
        self,
        label: str,
        conf: dict[str, Any] | None = None,
        *,
        retry_delay_seconds: float = 1.0,
        env: dict[str, str] | None = None,
        dag_id: str = DAG_ID,
    ) -> DagRunResult:
        """Run the DAG once (``python -m include.drills.dagrun``) and wait for it."""
        return self.wait_dag(
            self.start_dag(label, conf, retry_delay_seconds=retry_delay_seconds, env=env, dag_id=dag_id)
        )

    def keep_evidence(self) -> Path:
        """Save what the sandbox saw (webhook bodies and headers, request log) under ``work/evidence``.

        The sandbox is reset by the next drill; the secret scan reads these files at the end of the session.
        """
        folder = self.work / "evidence"
        folder.mkdir(exist_ok=True)
        (folder / "webhook.json").write_text(json.dumps(self.sandbox.webhook_deliveries()))
        (folder / "requests.json").write_text(json.dumps(self.sandbox.requests_log()))
        (folder / "ad_codes.json").write_text(json.dumps(self.sandbox.ad_codes()))
        return folder

    def keep_database_rows(self, uri: str, name: str) -> Path:
        """Dump every row of every table of a PostgreSQL database to ``work/evidence/<name>.json`` (the
        database is dropped after the test; the secret scan reads the dump)."""
        import psycopg2

        rows: dict[str, list[list[str]]] = {}
        with psycopg2.connect(uri) as conn, conn.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            for (table,) in cur.fetchall():
                cur.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the catalogue
                rows[table] = [[str(v) for v in row] for row in cur.fetchall()]
        folder = self.work / "evidence"
        folder.mkdir(exist_ok=True)
        path = folder / f"{name}.json"
        path.write_text(json.dumps(rows))
        return path

    # --- in-process use (operators run directly) ------------------------------------------------------------

    def connection_env(self) -> dict[str, str]:
        """Only the connection and deployment variables (for ``monkeypatch.setenv`` in the test process)."""
        keys = ("AIRFLOW_CONN_", "PARTNERSHIP_ADS_")
        return {k: v for k, v in self.env.items() if k.startswith(keys)}

    @property
    def expected(self) -> list[Eligible]:
        """Eligible items the pipeline must end with a code for."""
        return [e for e in self.eligible if e.expects_code]

    @property
    def awaiting(self) -> list[Eligible]:
        """Eligible items without an existing code whose owner has no connection: never posted."""
        return [e for e in self.eligible if not e.expects_code]


def eligible_items(
    sandbox: SandboxClient, brands: list[dict[str, Any]], creators_with_connection: set[str]
) -> list[Eligible]:
    """AD_READY Instagram items of each brand, by walking discovery with plain ``requests`` (the brand token).

    An independent client on purpose: the drill's expectations must not come from the code under test.
    Call before ``app_secrets`` is configured (no ``appsecret_proof`` is sent).
    """
    tokens = {t["business_id"]: t["access_token"] for t in sandbox.tokens() if t["role"] == "brand"}
    out: list[Eligible] = []
    session = requests.Session()
    for brand in brands:
        business_id = brand["business_id"]
        token = tokens[business_id]
        after: str | None = None
        while True:
            params = {
                "fb_page_id": brand["fb_page_id"],
                "ig_user_id": brand["ig_user_id"],
                "fields": ELIGIBILITY_FIELDS,
                "limit": "50",
            }
            if after:
                params["after"] = after
            response = session.get(
                f"{sandbox.graph_url}/{business_id}/{DISCOVERY_EDGE}",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            response.raise_for_status()
            body = response.json()
            for item in body["data"]:
                if item.get("platform") != "INSTAGRAM":
                    continue
                for entry in item.get("partnership_info") or []:
                    partner = entry.get("tagged_partner") or {}
                    mine = partner.get("ig_user_id") == brand["ig_user_id"] or (
                        brand["fb_page_id"] and partner.get("fb_page_id") == brand["fb_page_id"]
                    )
                    if mine and entry.get("ad_eligibility") == "AD_READY":
                        author = (item.get("author") or {}).get("ig_user_id")
                        out.append(
                            Eligible(
                                business_id=business_id,
                                content_id=str(item["content_id"]),
                                author_ig_user_id=author,
                                seeded_ad_code=entry.get("ad_code") or None,
                                has_owner_connection=author in creators_with_connection
                                or author == brand["ig_user_id"],
                            )
                        )
                        break
            after = ((body.get("paging") or {}).get("cursors") or {}).get("after")
            if not after:
                break
    return out


def appsecret_proof(app_secret: str, token: str) -> str:
    """``hex(HMAC-SHA256(app_secret, token))`` for the drill's own calls."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def env_without_conns() -> dict[str, str]:
    """This process's environment without any ``AIRFLOW_CONN_*`` variable."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
