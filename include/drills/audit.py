"""Compare the sandbox's own record with the ledger and every sink after a drill.

The sandbox is the ground truth of what Meta would hold: every code created, and which are still valid. The
audit checks, per eligible item, that exactly one valid code exists, that it was created at most once, that no
code was invalidated (in ``rotate`` mode a repeated POST invalidates the previous code), that no POST was sent
for an item awaiting the creator's authorisation, and that the ledger, the SQL table, the webhook receiver and
the files all hold that valid code once. Media revoked on purpose during the drill (``revoked``) are checked
apart: no valid code at the sandbox, the ledger's row revoked, and every sink's latest record revoked.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from partnership_ads.ledger import Ledger

if TYPE_CHECKING:
    from collections.abc import Collection
    from pathlib import Path

    from include.drills.harness import DrillEnv

SINKS = ("sql", "webhook", "files")


def open_ledger(drill: DrillEnv) -> Ledger:
    """The drill's ledger (SQLite file, or the drill's ``partnership_ads_db`` URI)."""
    uri = drill.env.get("AIRFLOW_CONN_PARTNERSHIP_ADS_DB", "")
    if uri.startswith("postgres"):
        conn_id = f"drill_ledger_{uuid.uuid4().hex[:8]}"
        os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = uri
        return Ledger.from_conn_id(conn_id)
    return Ledger.from_sqlite_path(drill.facts["ledger_path"])


def sql_sink_rows(ledger: Ledger, *, with_time: bool = False) -> list[tuple[str, ...]]:
    """``(business_id, content_id, ad_code, state)`` rows of the SQL sink's table (none: no table yet), and
    ``delivered_at`` last when ``with_time``."""
    columns = "business_id, content_id, ad_code, state" + (", delivered_at" if with_time else "")
    try:
        rows = ledger.hook.get_records(f"SELECT {columns} FROM partnership_ad_codes")  # noqa: S608
    except Exception as exc:  # the table is created on first delivery
        if "partnership_ad_codes" in str(exc) or "does not exist" in str(exc) or "no such table" in str(exc):
            return []
        raise
    return [tuple(str(v) for v in r) for r in rows]


def file_rows(output: Path) -> list[dict[str, str]]:
    """Every row of every CSV / JSON Lines file the files sink wrote under ``output``."""
    rows: list[dict[str, str]] = []
    for path in sorted(output.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.suffix == ".csv":
            with path.open(newline="") as handle:
                rows.extend(dict(r) for r in csv.DictReader(handle))
        elif path.suffix == ".jsonl":
            rows.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
        elif path.suffix == ".parquet":
            import pandas as pd

            rows.extend(pd.read_parquet(path).astype(str).to_dict("records"))
    return rows


def _epoch(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def sink_history(
    drill: DrillEnv,
    content_id: str,
    *,
    sinks: tuple[str, ...] = SINKS,
    ledger: Ledger | None = None,
    sql_rows: list[tuple[str, ...]] | None = None,
) -> dict[str, list[tuple[float, str]]]:
    """What each sink received for one media, oldest first: ``{sink: [(unix time, state), ...]}``.

    The SQL table keeps one row per media (an upsert); the webhook receiver and the files keep every delivery.
    ``sql_rows`` (a table outside the ledger's database) carry no time: their entries say 0.
    """
    history: dict[str, list[tuple[float, str]]] = {}
    if "sql" in sinks:
        if sql_rows is not None:
            history["sql"] = [(0.0, r[3]) for r in sql_rows if r[1] == content_id]
        else:
            table = sql_sink_rows(ledger or open_ledger(drill), with_time=True)
            history["sql"] = [(_epoch(r[4]), r[3]) for r in table if r[1] == content_id]
    if "webhook" in sinks:
        history["webhook"] = sorted(
            (float(delivery["received_at"]), str(record["state"]))
            for delivery in drill.sandbox.webhook_deliveries()
            for record in (delivery.get("body") or {}).get("ad_codes", [])
            if str(record["content_id"]) == content_id
        )
    if "files" in sinks:
        history["files"] = sorted(
            (_epoch(row["delivered_at"]), str(row["state"]))
            for row in file_rows(drill.work / "out")
            if str(row["content_id"]) == content_id
        )
    return history


@dataclass
class Audit:
    """The outcome of one audit. ``problems`` lists every discrepancy in words."""

    expected: int = 0
    issued: int = 0
    invalidated: int = 0
    lost: int = 0
    duplicated: int = 0
    posted_awaiting: int = 0
    redelivered: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (
            f"expected {self.expected}, issued {self.issued}, invalidated {self.invalidated}, "
            f"lost {self.lost}, duplicated {self.duplicated}; problems: {self.problems[:8]}"
        )


def audit(
    drill: DrillEnv,
    *,
    sinks: tuple[str, ...] = SINKS,
    ledger: Ledger | None = None,
    sql_rows: list[tuple[str, ...]] | None = None,
    revoked: Collection[str] = (),
) -> Audit:
    """Check the sandbox, the ledger and ``sinks`` against the drill's eligible items (see the module doc).

    :param sql_rows: the SQL sink's rows when its table is not in the ledger's database.
    :param revoked: media the drill revoked on purpose: their deleted code is not counted as invalidated,
        and they must end revoked everywhere instead of holding a valid code.
    """
    result = Audit()
    codes = drill.sandbox.ad_codes()
    created = Counter(c["media_id"] for c in codes if c["origin"] != "seeded")
    valid: dict[str, list[str]] = defaultdict(list)
    for c in codes:
        if c["valid"]:
            valid[c["media_id"]].append(c["ad_code"])
    result.issued = sum(created.values())
    ledger = ledger or open_ledger(drill)
    ledger_codes = {row.content_id: row for row in ledger.codes()}
    # A code deleted by a revocation is invalid at the sandbox on purpose; any other invalid code counts.
    deleted = {(media, ledger_codes[media].ad_code) for media in revoked if media in ledger_codes}
    result.invalidated = sum(
        1 for c in codes if not c["valid"] and (c["media_id"], c["ad_code"]) not in deleted
    )
    if result.invalidated:
        result.problems.append(f"{result.invalidated} code(s) invalidated at the sandbox")
    if sql_rows is None:
        sql_rows = sql_sink_rows(ledger) if "sql" in sinks else []
    sql_by_key: dict[tuple[str, str], list[str]] = defaultdict(list)
    for business_id, content_id, ad_code, _state in sql_rows:
        sql_by_key[(business_id, content_id)].append(ad_code)
    webhook_by_key: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    if "webhook" in sinks:
        for delivery in drill.sandbox.webhook_deliveries():
            body = delivery.get("body") or {}
            key = (delivery.get("headers") or {}).get("idempotency-key", "")
            for record in body.get("ad_codes", []):
                webhook_by_key[(str(record["business_id"]), str(record["content_id"]))].append(
                    (str(record["ad_code"]), key)
                )
    files_by_key: dict[tuple[str, str], list[str]] = defaultdict(list)
    if "files" in sinks:
        for row in file_rows(drill.work / "out"):
            files_by_key[(str(row["business_id"]), str(row["content_id"]))].append(str(row["ad_code"]))

    expected = [e for e in drill.expected if e.content_id not in revoked]
    result.expected = len(expected)
    lost_media: set[tuple[str, str]] = set()
    duplicated_media: set[tuple[str, str]] = set()
    for item in expected:
        key = (item.business_id, item.content_id)
        media = item.content_id
        if created[media] > 1:
            duplicated_media.add(key)
            result.problems.append(f"{media}: {created[media]} codes created")
        if item.seeded_ad_code and created[media]:
            duplicated_media.add(key)
            result.problems.append(f"{media}: already had a code and was posted again")
        if len(valid[media]) != 1:
            lost_media.add(key)
            result.problems.append(f"{media}: {len(valid[media])} valid codes at the sandbox")
            continue
        code = valid[media][0]
        row = ledger_codes.get(media)
        if row is None or row.ad_code != code or row.state not in ("issued", "harvested"):
            lost_media.add(key)
            result.problems.append(
                f"{media}: ledger holds {row.ad_code if row else None} ({row and row.state})"
            )
        for sink, found in (
            ("sql", sql_by_key.get(key, [])),
            ("files", files_by_key.get(key, [])),
            ("webhook", [c for c, _ in webhook_by_key.get(key, [])]),
        ):
            if sink not in sinks:
                continue
            if code not in found:
                lost_media.add(key)
                result.problems.append(f"{item.business_id}/{media}: valid code missing from the {sink} sink")
            elif any(other != code for other in found):
                lost_media.add(key)
                result.problems.append(f"{item.business_id}/{media}: the {sink} sink holds an invalid code")
        sends = webhook_by_key.get(key, [])
        if len({k for _, k in sends}) > 1:
            duplicated_media.add(key)
            result.problems.append(f"{item.business_id}/{media}: delivered to the webhook in several batches")
        elif len(sends) > 1:
            result.redelivered += 1
        if len(files_by_key.get(key, [])) > 1 or len(sql_by_key.get(key, [])) > 1:
            duplicated_media.add(key)
            result.problems.append(f"{item.business_id}/{media}: more than one row in a sink")
    for item in drill.awaiting:
        if created[item.content_id]:
            result.posted_awaiting += 1
            result.problems.append(f"{item.content_id}: posted although the creator has no connection")
    for media in revoked:
        row = ledger_codes.get(media)
        if valid[media]:
            result.problems.append(f"{media}: revoked, yet {len(valid[media])} valid code(s) at the sandbox")
        if row is None or row.state != "revoked":
            result.problems.append(f"{media}: revoked, but the ledger holds it {row and row.state}")
        history = sink_history(drill, media, sinks=sinks, ledger=ledger, sql_rows=sql_rows)
        for sink, records in history.items():
            if records and records[-1][1] != "revoked":
                latest = records[-1][1]
                result.problems.append(f"{media}: revoked, but the {sink} sink's latest record is {latest}")
    expected_keys = {(e.business_id, e.content_id) for e in drill.expected}
    for key in {*sql_by_key, *files_by_key, *webhook_by_key} - expected_keys:
        result.problems.append(f"{key[0]}/{key[1]}: in a sink but not an eligible item")
    result.lost = len(lost_media)
    result.duplicated = len(duplicated_media)
    return result


def describe_faults(specs: list[dict[str, Any]]) -> str:
    """A short text of the faults injected, for the drill table."""
    parts = []
    for spec in specs:
        text = spec["kind"]
        if spec.get("code"):
            text += f" {spec['code']}"
        if spec.get("status"):
            text += f" {spec['status']}"
        parts.append(text)
    counts = Counter(parts)
    return ", ".join(f"{k}" + (f" x{n}" if n > 1 else "") for k, n in counts.items())


def describe_fired(log: list[dict[str, Any]]) -> str:
    """The faults that actually fired, from the sandbox's request log (``kind METHOD xN``)."""
    counts = Counter(f"{e['fault']} {e['method']}" for e in log if e.get("fault"))
    return ", ".join(f"{k} x{n}" for k, n in sorted(counts.items()))
