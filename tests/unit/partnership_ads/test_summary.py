"""The run summary table."""

from __future__ import annotations

from partnership_ads.summary import build_summary, format_table, summary_table


def test_table_aligns_numbers_right_and_text_left() -> None:
    table = format_table(["outcome", "items"], [["issued", 5], ["awaiting_creator_authorisation", 12]])
    lines = table.splitlines()
    assert lines[3] == "| issued                         |     5 |"
    assert len({len(line) for line in lines}) == 1


def test_summary_merges_brands_and_counts_delivered_per_sink() -> None:
    summary = build_summary(
        [
            {"business_id": "1", "counts": {"issued": 2, "awaiting_creator_authorisation": 1}},
            {"business_id": "2", "counts": {"issued": 3}},
        ],
        [
            {"business_id": "1", "delivered": {"sql": 2, "webhook": 2}},
            {"business_id": "2", "delivered": {"sql": 3, "webhook": 0}},
        ],
    )
    assert summary["totals"]["issued"] == 5
    assert summary["totals"]["delivered"] == {"sql": 5, "webhook": 2}
    assert summary["delivered_any"]
    assert "delivered to webhook" in summary_table(summary)


def test_nothing_delivered_means_no_asset_update() -> None:
    summary = build_summary(
        [{"business_id": "1", "counts": {"already_in_ledger": 4}}],
        [{"business_id": "1", "delivered": {"sql": 0}}],
    )
    assert not summary["delivered_any"]


def test_the_meta_ads_counts_are_rows_of_the_table_and_figures_of_the_ledger() -> None:
    from partnership_ads.summary import build_summary, summary_table

    ads = {"ads_created": 3, "ads_already_present": 1, "ads_failed": 0, "ads_stale": 2}
    pushed = {
        "business_id": "111",
        "delivered": {"meta_ads": 3},
        "meta_ads": {**ads, "stale": [{"content_id": "9", "ad_id": "5", "reason": "revoked"}], "failed": []},
    }
    summary = build_summary([], [pushed, {"business_id": "222", "delivered": {"meta_ads": 0}}])
    assert summary["brands"]["111"]["meta_ads"] == ads
    assert summary["totals"]["meta_ads"] == ads
    table = summary_table(summary)
    assert "meta_ads created" in table and "meta_ads stale" in table
    without = build_summary([], [{"business_id": "111", "delivered": {"sql": 1}}])
    assert "meta_ads" not in summary_table(without)
