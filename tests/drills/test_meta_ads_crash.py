"""Drill: the meta_ads sink killed with SIGKILL between a creative and its ad, and after an ad before its
ledger write; then a rerun. Every code must end with exactly one creative and one PAUSED ad (the sandbox's
control API is the judge) and the ledger must record both ids.

Two brands, one kill point each (the sandbox is not reset between them: the codes must stay valid):

- ``between-creative-and-ad``: the sandbox creates the first creative, then holds its answer (a ``delay``
  fault with ``after: true`` on ``POST .../adcreatives``); the push child is killed while it waits: a
  creative at Meta, none in the ledger, no ad;
- ``after-ad``: the sandbox creates the first ad and holds its answer (``POST .../ads``); killed while it
  waits: the creative recorded, an ad at Meta, no ad id in the ledger.

The rerun must find both by their deterministic names and make what is missing, nothing twice.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from include.demo import sandbox_ad_settings
from include.drills.audit import open_ledger
from include.drills.crash import Zygote, wait_for, with_graph_timeout
from include.drills.results import DrillResult
from partnership_ads.graph.ads import partnership_ad_name

if TYPE_CHECKING:
    from collections.abc import Callable

    from include.drills.harness import DrillEnv

pytestmark = pytest.mark.drill

MODES = {
    "between-creative-and-ad": r"/adcreatives$",
    "after-ad": r"/ads$",
}


def _objects(sandbox: Any, account: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    creatives = [
        c for c in sandbox.ad_creatives() if c["account_id"] in (account, account.removeprefix("act_"))
    ]
    ads = [a for a in sandbox.ads() if a["account_id"] in (account, account.removeprefix("act_"))]
    return creatives, ads


def test_sigkill_of_the_meta_ads_sink_then_rerun_leaves_one_creative_and_one_ad_per_code(
    make_drill: Callable[..., DrillEnv],
) -> None:
    began = time.monotonic()
    drill = make_drill("meta_ads_crash", brands=2)
    sandbox = drill.sandbox
    logs = drill.work / "logs"
    logs.mkdir()
    zygote = Zygote(with_graph_timeout(drill.env, 5.0))
    problems: list[str] = []
    expected = made = duplicated = kills = 0
    try:
        for (mode, path), brand in zip(MODES.items(), drill.facts["brands"], strict=True):
            ids = {k: brand[k] for k in ("business_id", "fb_page_id", "ig_user_id", "meta_conn_id")}
            run_id = f"drill_meta_ads_{brand['business_id']}"
            assert zygote.run("fetch", run_id=run_id, log=logs / f"{mode}-fetch.log", **ids) == 0
            snapshot = drill.work / "snapshots" / brand["business_id"] / f"{run_id}.parquet"
            issued = zygote.run(
                "issue", run_id=run_id, log=logs / f"{mode}-issue.log", snapshot_path=str(snapshot), **ids
            )
            assert issued == 0, (logs / f"{mode}-issue.log").read_text()[-3000:]
            settings = sandbox_ad_settings(sandbox, brand["business_id"])
            account = settings["ad_account_id"]
            push = {"brand": {**ids, **settings}, "sinks": ["meta_ads"]}
            sandbox.schedule_fault(kind="delay", method="POST", path=path, after=True, delay_ms=3000, count=1)
            pid = zygote.start("push", run_id=run_id, log=logs / f"{mode}-killed.log", **push)
            if mode == "between-creative-and-ad":
                landed = wait_for(lambda account=account: len(_objects(sandbox, account)[0]) >= 1)
            else:
                landed = wait_for(lambda account=account: len(_objects(sandbox, account)[1]) >= 1)
            zygote.kill(pid)
            exit_code = zygote.wait()
            sandbox.clear_faults()
            if exit_code != -9 or not landed:
                problems.append(f"{mode}: the child was not killed in the window (exit {exit_code})")
                continue
            kills += 1
            creatives, ads = _objects(sandbox, account)
            rows = open_ledger(drill).ad_rows(brand["business_id"], account)
            if mode == "between-creative-and-ad" and (ads or any(r.creative_id for r in rows)):
                problems.append(f"{mode}: at the kill, {len(ads)} ad(s) and {len(rows)} ledger row(s)")
            if mode == "after-ad" and (len(ads) != 1 or any(r.ad_id for r in rows)):
                problems.append(
                    f"{mode}: at the kill, {len(ads)} ad(s), ad ids recorded {[r.ad_id for r in rows]}"
                )
            rerun = zygote.run("push", run_id=run_id, try_number=2, log=logs / f"{mode}-rerun.log", **push)
            if rerun != 0:
                problems.append(
                    f"{mode}: the rerun failed: {(logs / f'{mode}-rerun.log').read_text()[-2000:]}"
                )
                continue
            ledger = open_ledger(drill)
            brand_items = {r[0] for r in ledger.brand_items(brand["business_id"])}
            codes = {
                c.content_id: c.ad_code
                for c in ledger.codes(states=["issued", "harvested"])
                if c.ad_code and c.content_id in brand_items
            }
            creatives, ads = _objects(sandbox, account)
            names = {partnership_ad_name(cid, code) for cid, code in codes.items()}
            creative_names = Counter(c["name"] for c in creatives)
            ad_names = Counter(a["name"] for a in ads)
            expected += len(codes)
            made += len(ads)
            duplicated += sum(n - 1 for n in [*creative_names.values(), *ad_names.values()] if n > 1)
            if set(creative_names) != names or set(ad_names) != names:
                problems.append(f"{mode}: {len(names)} codes, {len(creatives)} creatives, {len(ads)} ads")
            if any(n > 1 for n in [*creative_names.values(), *ad_names.values()]):
                problems.append(f"{mode}: a creative or an ad was made twice")
            if {a["status"] for a in ads} != {"PAUSED"}:
                problems.append(f"{mode}: an ad is not PAUSED: {Counter(a['status'] for a in ads)}")
            rows = ledger.ad_rows(brand["business_id"], account)
            if {r.ad_id for r in rows} != {a["id"] for a in ads} or {r.creative_id for r in rows} != {
                c["id"] for c in creatives
            }:
                problems.append(f"{mode}: the ledger's ids differ from the sandbox's")
    finally:
        zygote.close()
    verdict = not problems and kills == len(MODES)
    DrillResult(
        drill="crash_sigkill_meta_ads",
        trials=len(MODES),
        faults="SIGKILL between a creative and its ad; SIGKILL after an ad, before its ledger write",
        expected=expected,
        issued=made,
        duplicated=duplicated,
        lost=max(0, expected - made),
        verdict="PASS" if verdict else "FAIL",
        notes=problems[:10],
        seconds=round(time.monotonic() - began, 1),
    ).write()
    assert not problems, "\n".join(problems)
    assert kills == len(MODES)
