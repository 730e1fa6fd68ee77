"""Drill: after every other drill, no token or secret anywhere; webhook signatures verify, tampering fails.

Runs last (see conftest). Scans every file the drills left under ``.demo/drills/work/`` (task logs of every
DAG run and crash child, the metadata databases with their XCom, snapshots, ledgers, SQL sink tables, sink
files, the sandbox's webhook bodies and headers and request logs, dumps of the PostgreSQL databases), every
XCom value, and every exception text a drill caught, for every brand and creator token, app secret and
webhook signing secret used.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import pytest

from include.drills.results import DrillResult
from include.drills.secrets import labelled, scan_bytes, scan_files, xcom_values
from partnership_ads.sinks.webhook import SIGNATURE_HEADER, SIGNATURE_TOLERANCE_SECONDS, verify_signature

if TYPE_CHECKING:
    from pathlib import Path

    from tests.drills.conftest import Evidence

pytestmark = pytest.mark.drill


def _signed_body(body: dict[str, object]) -> bytes:
    # The sink signs json.dumps(payload, sort_keys=True, separators=(",", ":")); the receiver stored the
    # parsed body, and the same serialisation gives back the exact bytes that were signed.
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def test_no_secret_in_any_log_xcom_file_row_webhook_or_exception_and_signatures_verify(
    evidence: Evidence, tmp_path: Path
) -> None:
    if not evidence.drills:
        pytest.skip("the secret scan needs the other drills of the session (run tests/drills as a whole)")
    began = time.monotonic()
    from tests.drills.conftest import WORK

    secrets = labelled(evidence.secrets)
    # The scanner finds what it looks for (or this drill could never fail).
    planted = tmp_path / "planted.log"
    some_secret = next(iter(secrets))
    planted.write_text(f"leaked: {some_secret}\n")
    assert scan_files(tmp_path, secrets)[0], "the scanner does not find a planted secret"

    hits, scanned = scan_files(WORK, secrets)
    xcoms = [
        (db, value)
        for drill in evidence.drills
        for db in drill.work.rglob("airflow.db")
        for value in xcom_values(db)
    ]
    for db, value in xcoms:
        hits.extend(scan_bytes(f"xcom in {db}", value.encode(), secrets))
    for index, text in enumerate(evidence.exception_texts):
        hits.extend(scan_bytes(f"exception text #{index}", text.encode(), secrets))

    deliveries = 0
    signature_failures: list[str] = []
    for drill in evidence.drills:
        path = drill.work / "evidence" / "webhook.json"
        if not path.exists():
            continue
        for delivery in json.loads(path.read_text()):
            deliveries += 1
            header = delivery["headers"].get(SIGNATURE_HEADER.lower())
            body = _signed_body(delivery["body"])
            tampered = body.replace(b'"ad_code":"', b'"ad_code":"X', 1)
            secret = drill.webhook_secret
            # Verified as the receiver did, when it received the delivery (the signature is timestamped).
            received = delivery["received_at"]
            if not verify_signature(body, header, secret, now=received):
                signature_failures.append(f"{drill.name}: delivery {delivery['id']} does not verify")
            if tampered == body or verify_signature(tampered, header, secret, now=received):
                signature_failures.append(
                    f"{drill.name}: a tampered body of delivery {delivery['id']} verifies"
                )
            if verify_signature(body, header, secret + "x", now=received):
                signature_failures.append(
                    f"{drill.name}: delivery {delivery['id']} verifies with a wrong secret"
                )
            if verify_signature(body, header, secret, now=received + SIGNATURE_TOLERANCE_SECONDS + 1):
                signature_failures.append(
                    f"{drill.name}: delivery {delivery['id']} verifies when replayed after the tolerance"
                )

    coverage = {
        "task logs": scanned.get(".log", 0),
        "xcom values": len(xcoms),
        "snapshots": scanned.get(".parquet", 0),
        "databases": scanned.get(".db", 0),
        "sink files": scanned.get(".csv", 0),
        "webhook deliveries": deliveries,
        "exception texts": len(evidence.exception_texts),
    }
    thin = [name for name, count in coverage.items() if count == 0]
    verdict = not hits and not signature_failures and not thin
    DrillResult(
        drill="secrets_scan",
        trials=len(evidence.drills),
        faults=f"{len(secrets)} secrets in {sum(scanned.values())} files, {len(xcoms)} XComs, "
        f"{deliveries} webhook bodies, {len(evidence.exception_texts)} exception texts: {len(hits)} hits",
        verdict="PASS" if verdict else "FAIL",
        notes=[f"{h.which} in {h.where}" for h in hits[:10]]
        + signature_failures[:5]
        + [f"coverage {coverage}"],
        seconds=round(time.monotonic() - began, 1),
    ).write()
    assert not thin, f"the scan covered nothing of: {thin} ({coverage})"
    assert not hits, "secrets found: " + "; ".join(f"{h.which} in {h.where}" for h in hits[:20])
    assert not signature_failures, signature_failures
