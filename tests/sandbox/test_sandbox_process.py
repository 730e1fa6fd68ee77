"""The sandbox as a process, its benchmark script, and the generated world's guarantees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import requests

from include.graph_sandbox.testing import spawn_sandbox
from include.graph_sandbox.world import build_world, pair_key

ROOT = Path(__file__).resolve().parents[2]


def test_cli_prints_listening_line_with_the_real_port_and_serves():
    with spawn_sandbox(port=0, seed=7, items=200, ad_code_repeat="rotate") as sandbox:
        assert any(
            "listening on http://127.0.0.1:" in line
            for line in [sandbox.url and f"listening on {sandbox.url}"]
        )
        assert not sandbox.url.endswith(":0")
        brand = sandbox.brand_token()
        response = requests.get(
            f"{sandbox.graph_url}/{brand['business_id']}/partnership-ads-advertisable-content",
            params={"access_token": brand["access_token"], "ig_user_id": brand["ig_user_id"]},
            timeout=10,
        )
        assert response.status_code == 200
        assert sandbox.config()["ad_code_repeat"] == "rotate"
    assert sandbox.process.poll() is not None


def test_cli_rejects_bad_configuration():
    result = subprocess.run(
        [sys.executable, "-m", "include.graph_sandbox", "--config", '{"ad_code_repeat": "never"}'],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "ad_code_repeat" in result.stderr


def test_bench_script_runs_and_reports_the_median():
    result = subprocess.run(
        [sys.executable, "-m", "include.graph_sandbox.bench", "--items", "300", "--requests", "5"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["requests"] == 5
    assert report["median_ms"] > 0


def test_same_seed_gives_the_same_world():
    first, second = build_world(seed=11, items=300), build_world(seed=11, items=300)
    assert [i.content_id for i in first.items] == [i.content_id for i in second.items]
    assert [t.access_token for t in first.tokens] == [t.access_token for t in second.tokens]
    assert [i.caption for i in first.items] == [i.caption for i in second.items]


def test_another_seed_gives_another_world():
    assert build_world(seed=11, items=50).tokens[0] != build_world(seed=12, items=50).tokens[0]


def test_creators_setting_fixes_the_number_of_creators_and_their_tokens():
    world = build_world(seed=11, items=2000, creators=5)
    assert len(world.creators) == 5
    assert len(build_world(seed=11, items=2000).creators) == 50  # the default: one per 40 items
    creator_tokens = [t for t in world.tokens if t.role == "creator" and not t.minted]
    assert len(creator_tokens) == 5


def test_default_world_gives_every_business_what_the_pipeline_needs(world):
    generated = [b for b in world.businesses.values() if not b.example]
    assert len(generated) >= 2
    for business in generated:
        key = pair_key(business.pairs[0])
        mine = [i for i in world.items if any(e.pair_key == key for e in i.entries)]
        ready = [
            i
            for i in mine
            if i.platform == "INSTAGRAM"
            and not i.seeded_ad_code
            and next(e for e in i.entries if e.pair_key == key).ad_eligibility == "AD_READY"
        ]
        by_brand = [i for i in ready if i.author.ig_user_id == business.pairs[0].ig_user_id]
        assert len(ready) - len(by_brand) >= 24, business.name
        assert by_brand, business.name
        assert any(i.seeded_ad_code for i in mine)
        assert any(i.platform == "FACEBOOK" for i in mine)
        assert any(len(i.entries) >= 2 for i in mine)


def test_world_covers_every_enum_value(world):
    assert set(Counter(i.media_type for i in world.items)) == {"IMAGE", "VIDEO", "CAROUSEL", "LINK"}
    assert set(Counter(i.post_type for i in world.items)) == {"FEED", "STORY", "REEL"}
    assert set(Counter(i.ad_usage for i in world.items)) == {"NEVER_USED", "ACTIVE", "PREVIOUSLY_USED"}
    entries = [e for i in world.items for e in i.entries]
    assert {e.ad_eligibility for e in entries} == {"AD_READY", "INELIGIBLE", "NEEDS_ATTENTION", "EXCLUDED"}
    assert {c for e in entries for c in e.content_types} == {
        "BRANDED_CONTENT", "PRODUCT", "AFFILIATE", "COLLAB_POST", "TAGGED", "REPOSTED",
    }  # fmt: skip
