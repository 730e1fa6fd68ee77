"""Drill: a whole DAG run through a proxy that echoes the token in its error pages.

Every ``meta_graph`` connection points at an :class:`~include.drills.proxy.EchoingProxy` in front of the
sandbox. The proxy answers 502 with the request as received (its ``Authorization`` header, query string and
form body), the token placed across the 200th character of the text an error quotes: the first four discovery
calls (one fetch try fails whole) as JSON, every POST of one media's ad code as raw text (issuance gives up
on it, and the task is retried). The run must complete with every eligible item holding exactly one valid
code in every sink, and no piece of any token or secret (8 characters or more) may be left in any file the
run wrote (task logs, the run's output, the ledger's ``last_error``, the metadata database), while the echo
itself does reach the logs (the drill proves the texts were there to leak).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import pytest

from include.drills.audit import audit
from include.drills.proxy import EchoingProxy
from include.drills.results import DrillResult
from include.drills.secrets import labelled, scan_pieces

if TYPE_CHECKING:
    from collections.abc import Callable

    from include.drills.harness import DrillEnv

pytestmark = pytest.mark.drill

DISCOVERY = "partnership-ads-advertisable-content"
AD_CODE = "partnership_ad_code"
# The connection's max_retries (3) + 1: the first fetch try gives up; the POSTs of one media give up.
GET_ECHOES = 4
POST_ECHOES = 4
ECHO_MARK = b"Proxy error: upstream refused the request"
# The fixed parts of the drill's made-up secrets (harness and sandbox token shapes): not secret on their own.
PUBLIC = (
    "drill-app-secret-",
    "drill-webhook-secret-",
    "EAAB",
    "sandboxBrand",
    "sandboxCreator",
    "sandboxMinted",
    "ZDZD",
)


def test_a_run_through_a_proxy_echoing_the_token_leaves_no_piece_of_it_in_any_log_or_file(
    make_drill: Callable[..., DrillEnv],
) -> None:
    began = time.monotonic()
    drill = make_drill("echoing_proxy")
    with EchoingProxy(drill.sandbox.url) as proxy:
        for key, value in list(drill.env.items()):
            if key.startswith("AIRFLOW_CONN_META_GRAPH"):
                drill.env[key] = json.dumps({**json.loads(value), "host": proxy.url})
        proxy.arm(GET_ECHOES, method="GET", path=DISCOVERY, style="json")
        # Every POST of one media (first and reposts): the hook gives up, the issue task records the error in
        # the ledger and fails, and its retry issues the code.
        target = next(e.content_id for e in drill.expected if not e.seeded_ad_code)
        proxy.arm(POST_ECHOES, method="POST", path=f"{target}/{AD_CODE}", style="text")
        run = drill.run_dag("run")
        echoed, forwarded = len(proxy.echoed), proxy.forwarded
    result = audit(drill)

    secrets = labelled(drill.secrets)
    hits = []
    scanned = 0
    quoted = 0
    for path in sorted(p for p in drill.work.rglob("*") if p.is_file()):
        data = path.read_bytes()
        scanned += 1
        quoted += ECHO_MARK in data
        hits.extend(scan_pieces(str(path.relative_to(drill.work)), data, secrets, public=PUBLIC))
    fetch_tries = run.tries_of("fetch_advertisable_content")
    issue_tries = run.tries_of("issue_ad_codes")
    # Both paths reached a task's failure (the error text went to the log), then the retry recovered.
    retried = all(any(len(states) > 1 for states in tries.values()) for tries in (fetch_tries, issue_tries))
    verdict = (
        run.state == "success"
        and result.clean
        and echoed == GET_ECHOES + POST_ECHOES
        and quoted > 0
        and retried
        and not hits
    )
    DrillResult.from_audit(
        result,
        drill="echoing_proxy",
        trials=1,
        faults=f"{echoed} token echoes by a proxy ({GET_ECHOES} discovery as JSON, {POST_ECHOES} POSTs as "
        f"text; {forwarded} calls forwarded): {len(hits)} secret pieces in {scanned} files",
        passed=verdict,
        notes=[f"{h.which} in {h.where}" for h in hits[:10]]
        + [f"tries {fetch_tries | issue_tries}", f"echo quoted in {quoted} file(s)", *result.problems[:10]],
        seconds=time.monotonic() - began,
    ).write()
    assert run.state == "success", f"the run did not complete: {run.tries} (log {run.log_path})"
    assert echoed == GET_ECHOES + POST_ECHOES, f"the proxy echoed {echoed} requests"
    assert quoted > 0, "no file quotes the echo: the drill proves nothing"
    assert retried, f"a fetch and an issue try should have failed on the echoes: {fetch_tries | issue_tries}"
    assert not hits, "pieces of a secret found: " + "; ".join(f"{h.which} in {h.where}" for h in hits[:20])
    assert result.clean, result.summary()
