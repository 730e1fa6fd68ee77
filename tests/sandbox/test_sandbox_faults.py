"""Scheduled faults: the sandbox misbehaves on purpose, before or after the handler runs."""

from __future__ import annotations

import json

import pytest
import requests


def test_http_500_fault_hits_the_next_n_matching_requests(graph, sandbox):
    sandbox.schedule_fault(kind="http_500", method="GET", path="advertisable-content", count=2)
    assert [graph.discover().status_code for _ in range(3)] == [500, 500, 200]


def test_body_fault_answers_the_given_json_instead_of_the_real_answer(graph, sandbox):
    body = {"data": [], "paging": {"cursors": {"after": "LOOP"}}}
    sandbox.schedule_fault(kind="body", method="GET", path="advertisable-content", body=body)
    answer = graph.discover()
    assert (answer.status_code, answer.json()) == (200, body)
    assert graph.discover().json() != body


def test_fault_does_not_hit_other_methods_or_paths(graph, sandbox):
    sandbox.schedule_fault(kind="http_500", method="POST", path="partnership_ad_code")
    assert graph.discover().status_code == 200
    assert len(sandbox.control("GET", "faults").json()["data"]) == 1


@pytest.mark.parametrize("code", [1, 2])
def test_transient_fault_is_a_graph_error_marked_transient(graph, sandbox, code):
    sandbox.schedule_fault(kind="transient", code=code)
    error = graph.error(graph.discover())
    assert (error["code"], error["is_transient"]) == (code, True)


def test_throttle_fault_carries_usage_headers(graph, sandbox):
    sandbox.schedule_fault(kind="throttle", code=80004, regain_minutes=3)
    response = graph.discover()
    assert graph.error(response, 400)["code"] == 80004
    [entry] = json.loads(response.headers["x-business-use-case-usage"])[graph.brand["business_id"]]
    assert (entry["call_count"], entry["estimated_time_to_regain_access"]) == (100, 3)


def test_delay_fault_delays_the_answer(graph, sandbox):
    sandbox.schedule_fault(kind="delay", delay_ms=3000)
    with pytest.raises(requests.exceptions.ReadTimeout):
        graph.session.get(
            f"{sandbox.graph_url}/{graph.brand['business_id']}/partnership-ads-advertisable-content",
            params={"access_token": graph.brand["access_token"], "ig_user_id": graph.brand["ig_user_id"]},
            timeout=0.3,
        )


def test_drop_fault_closes_the_connection_without_an_answer(graph, sandbox):
    sandbox.schedule_fault(kind="drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        graph.discover()
    assert graph.discover().status_code == 200


def test_html_fault_answers_with_an_html_error_page(graph, sandbox):
    sandbox.schedule_fault(kind="html")
    response = graph.discover()
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")


def test_truncated_fault_cuts_the_json_body(graph, sandbox):
    sandbox.schedule_fault(kind="truncated")
    response = graph.discover()
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_timeout_fault_never_answers(graph, sandbox):
    sandbox.schedule_fault(kind="timeout", delay_ms=5000)
    with pytest.raises(requests.exceptions.ReadTimeout):
        graph.session.get(
            f"{sandbox.graph_url}/{graph.brand['business_id']}/partnership-ads-advertisable-content",
            params={"access_token": graph.brand["access_token"], "ig_user_id": graph.brand["ig_user_id"]},
            timeout=0.3,
        )


def test_fraction_fault_hits_about_that_share_reproducibly(graph, sandbox):
    sandbox.schedule_fault(kind="http_500", fraction=0.5, seed=3)
    first = [graph.discover(limit=1).status_code for _ in range(20)]
    sandbox.clear_faults()
    sandbox.schedule_fault(kind="http_500", fraction=0.5, seed=3)
    second = [graph.discover(limit=1).status_code for _ in range(20)]
    assert first == second
    assert 3 <= first.count(500) <= 17


def test_clear_faults_removes_scheduled_faults(graph, sandbox):
    sandbox.schedule_fault(kind="http_500", count=5)
    sandbox.clear_faults()
    assert graph.discover().status_code == 200


def test_after_fault_lets_the_post_create_the_code_then_fails(graph, sandbox, own_media):
    creator = sandbox.creator_tokens()[0]
    media = own_media(creator["ig_user_id"]).content_id
    sandbox.schedule_fault(kind="http_500", method="POST", path="partnership_ad_code", after=True)
    assert graph.ad_code("POST", media, creator["access_token"]).status_code == 500
    assert [r for r in sandbox.ad_codes() if r["media_id"] == media and r["valid"]]


def test_after_drop_fault_creates_the_code_and_drops_the_connection(graph, sandbox, own_media):
    creator = sandbox.creator_tokens()[0]
    media = own_media(creator["ig_user_id"]).content_id
    sandbox.schedule_fault(kind="drop", method="POST", path="partnership_ad_code", after=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        graph.ad_code("POST", media, creator["access_token"])
    [record] = [r for r in sandbox.ad_codes() if r["media_id"] == media]
    assert record["valid"] is True


def test_fault_is_recorded_in_the_request_log(graph, sandbox):
    sandbox.schedule_fault(kind="transient")
    graph.discover()
    entry = sandbox.requests_log()[-1]
    assert (entry["fault"], entry["status"], entry["error_code"]) == ("transient", 500, 2)


def test_webhook_fault_makes_the_receiver_fail(sandbox):
    sandbox.schedule_fault(kind="http_500", status=503, method="POST", path="/__sandbox__/webhook", count=2)
    statuses = [
        requests.post(f"{sandbox.url}/__sandbox__/webhook", json={"n": n}, timeout=10).status_code
        for n in range(3)
    ]
    assert statuses == [503, 503, 200]
    assert [d["body"] for d in sandbox.webhook_deliveries()] == [{"n": 2}]


def test_fault_without_path_never_hits_the_webhook(sandbox):
    sandbox.schedule_fault(kind="http_500")
    assert requests.post(f"{sandbox.url}/__sandbox__/webhook", json={}, timeout=10).status_code == 200


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "explode"},
        {"kind": "http_500", "count": 0},
        {"kind": "transient", "code": 4},
        {"kind": "delay", "x": 1},
    ],
)
def test_invalid_fault_spec_is_rejected(sandbox, spec):
    with pytest.raises(RuntimeError, match="400"):
        sandbox.schedule_fault(**spec)
