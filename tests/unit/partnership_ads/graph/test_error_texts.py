"""Error texts the operators build from any exception: scrubbed whole, then cut, never a piece of a secret."""

from __future__ import annotations

import json
import logging
import socket
from typing import TYPE_CHECKING

from include.drills.secrets import leaked_pieces
from partnership_ads.delivery import deliver_pending
from partnership_ads.graph.errors import GraphTransientError, describe_error
from partnership_ads.sinks.webhook import WebhookSink

if TYPE_CHECKING:
    import pytest

    from partnership_ads.ledger import Ledger

TOKEN = "EAABk3Jq9ZxW2mLp7RtY4vNc8HdF6sGb1QeUo5TiAa0yXwMzCrsandboxbrandLq2Wn8Zt4Vx6Yk1Hs3Jd5Gf7Ba9Nc0MpZDZD"
BRAND = "b1"


def test_an_exception_quoting_a_credential_across_the_500th_character_is_described_without_it() -> None:
    lead = "RuntimeError: "
    filler = "p" * (480 - len(lead) - len("Authorization: OAuth "))
    exc = RuntimeError(f"{filler}Authorization: OAuth {TOKEN} end")
    assert str(exc).index(TOKEN) + len(lead) < 500 < str(exc).index(TOKEN) + len(lead) + len(TOKEN)
    described = describe_error(exc)
    assert len(described) <= 500
    assert described.startswith("RuntimeError: ppp")
    assert not leaked_pieces(described, TOKEN), described


def test_a_graph_error_is_described_with_its_code_and_trace_id() -> None:
    exc = GraphTransientError("busy", http_status=503, code=2, fbtrace_id="AbC123")
    assert describe_error(exc) == "GraphTransientError http_status=503 code=2 fbtrace_id=AbC123: busy"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_sink_failure_quoting_its_url_keeps_the_url_credentials_out_of_the_error_and_the_log(
    sqlite_ledger: Ledger, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A receiver that takes its secret in the query string; nothing listens there, so requests' error quotes
    # the URL it could not reach.
    url = f"http://127.0.0.1:{_closed_port()}/hook?access_token={TOKEN}"
    monkeypatch.setenv("AIRFLOW_CONN_LEAKY_WEBHOOK", json.dumps({"conn_type": "http", "host": url}))
    sqlite_ledger.upsert_content(
        BRAND,
        [{"content_id": "1", "platform": "INSTAGRAM", "permalink": "https://x/1", "author_ig_user_id": "9"}],
        run_id="r1",
    )
    sqlite_ledger.record_brand_item(BRAND, "1", "issued", run_id="r1")
    sqlite_ledger.harvest("1", "C1", business_id=BRAND, owner_ig_user_id="9")
    log = logging.getLogger("test.push")
    with caplog.at_level(logging.INFO, logger="test.push"):
        delivered, errors = deliver_pending(
            sqlite_ledger,
            [WebhookSink(conn_id="leaky_webhook", timeout=2)],
            BRAND,
            run_id="r1",
            dag_id="d",
            log=log,
        )
    assert delivered == {"webhook": 0}
    assert "could not be reached" in errors["webhook"]
    assert not leaked_pieces(errors["webhook"], TOKEN), errors["webhook"]
    assert not leaked_pieces(caplog.text, TOKEN), caplog.text
