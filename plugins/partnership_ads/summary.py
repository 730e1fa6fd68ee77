"""The run summary: counts per brand by outcome and delivered per sink (and, when the meta_ads sink ran, its
ads created, already present, failed and stale), as a table for the task log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from partnership_ads.issuance import OUTCOMES
from partnership_ads.sink_names import META_ADS_OUTCOMES

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from partnership_ads.ledger import Ledger

#: Columns of the run summary, in order: the issue task's outcomes except ``revoked``.
SUMMARY_OUTCOMES = tuple(outcome for outcome in OUTCOMES if outcome != "revoked")
#: Outcomes whose items the run summary names one by one (each needs a person, or explains a gap).
NAMED_OUTCOMES = (
    "awaiting_creator_authorisation",
    "awaiting_creator_reauthorisation",
    "not_ad_ready",
    "eligibility_lost",
)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain-text table with aligned columns (numbers right-aligned), readable in Airflow's log view."""
    body = [[("" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str], numeric: Sequence[bool]) -> str:
        return (
            "| "
            + " | ".join(
                cell.rjust(widths[i]) if numeric[i] else cell.ljust(widths[i]) for i, cell in enumerate(cells)
            )
            + " |"
        )

    numeric_cols = [
        bool(body) and all(row[i].lstrip("-").isdigit() for row in body if row[i])
        for i in range(len(headers))
    ]
    rule = "+-" + "-+-".join("-" * w for w in widths) + "-+"
    out = [rule, line(list(headers), [False] * len(headers)), rule]
    out.extend(line(row, numeric_cols) for row in body)
    out.append(rule)
    return "\n".join(out)


def build_summary(
    issue_results: Iterable[dict[str, Any] | None],
    push_results: Iterable[dict[str, Any] | None],
) -> dict[str, Any]:
    """Merge the issue results and push results into ``{"brands": {...}, "totals": {...}, "sinks": [...],
    "tokens": {...}}``.

    A brand has several issue results (the plan's, then one per creator shard): their counts are summed and
    their named items joined. Their Tokens sections become one (a creator once, its latest check).
    """
    from partnership_ads.token_health import merge_reports

    issue_results = list(issue_results)
    brands: dict[str, dict[str, Any]] = {}
    for result in issue_results:
        if not result:
            continue
        entry = brands.setdefault(str(result["business_id"]), {"delivered": {}})
        for outcome, count in (result.get("counts") or {}).items():
            entry[outcome] = int(entry.get(outcome, 0)) + int(count)
        entry["dry_run"] = bool(entry.get("dry_run")) or bool(result.get("dry_run"))
        listed = result.get("listed") or {}
        for outcome in NAMED_OUTCOMES:
            entry.setdefault(f"{outcome}_items", []).extend(
                {"content_id": item["content_id"], "detail": item.get("detail")}
                for item in listed.get(outcome, [])
            )
    sinks: list[str] = []
    for result in push_results:
        if not result:
            continue
        entry = brands.setdefault(str(result["business_id"]), {"delivered": {}})
        for sink, count in (result.get("delivered") or {}).items():
            entry["delivered"][sink] = int(count)
            if sink not in sinks:
                sinks.append(sink)
        entry.setdefault("files", []).extend(result.get("files") or [])
        meta_ads = result.get("meta_ads") or {}
        if meta_ads:
            entry["meta_ads"] = {o: int(meta_ads.get(o, 0)) for o in META_ADS_OUTCOMES}
            entry["stale_ads"] = list(meta_ads.get("stale") or [])
    totals: dict[str, int] = {outcome: 0 for outcome in SUMMARY_OUTCOMES}
    delivered_totals: dict[str, int] = dict.fromkeys(sinks, 0)
    for entry in brands.values():
        for outcome in SUMMARY_OUTCOMES:
            totals[outcome] += int(entry.get(outcome, 0))
        for sink in sinks:
            delivered_totals[sink] += int(entry["delivered"].get(sink, 0))
    ads = [entry["meta_ads"] for entry in brands.values() if "meta_ads" in entry]
    meta_ads_totals = {o: sum(a[o] for a in ads) for o in META_ADS_OUTCOMES} if ads else {}
    return {
        "brands": brands,
        "sinks": sinks,
        "totals": {**totals, "delivered": delivered_totals, **({"meta_ads": meta_ads_totals} if ads else {})},
        "delivered_any": any(delivered_totals.values()),
        "tokens": merge_reports(r.get("tokens") for r in issue_results if r),
    }


def summary_table(summary: dict[str, Any]) -> str:
    """The summary as one table: a row per outcome and sink, a column per brand and a TOTAL column."""
    brands = sorted(summary["brands"])
    totals = summary["totals"]
    rows: list[list[Any]] = [
        [outcome, *(summary["brands"][b].get(outcome, 0) for b in brands), totals[outcome]]
        for outcome in SUMMARY_OUTCOMES
    ]
    rows.extend(
        [f"delivered to {sink}", *(summary["brands"][b]["delivered"].get(sink, 0) for b in brands), total]
        for sink, total in totals["delivered"].items()
    )
    if "meta_ads" in totals:
        rows.extend(
            [
                f"meta_ads {outcome.removeprefix('ads_').replace('_', ' ')}",
                *(summary["brands"][b].get("meta_ads", {}).get(outcome, 0) for b in brands),
                totals["meta_ads"][outcome],
            ]
            for outcome in META_ADS_OUTCOMES
        )
    return format_table(["outcome", *brands, "TOTAL"], rows)


def record_summary(ledger: Ledger, run_id: str, summary: dict[str, Any]) -> None:
    """Store the per-run figures in the ledger (one row per brand and figure)."""
    for business_id, entry in summary["brands"].items():
        figures = {o: int(entry.get(o, 0)) for o in SUMMARY_OUTCOMES}
        figures.update({f"delivered:{s}": int(n) for s, n in entry["delivered"].items()})
        figures.update({f"meta_ads:{o}": int(n) for o, n in (entry.get("meta_ads") or {}).items()})
        ledger.record_run_figures(run_id, business_id, figures)


def named_items(summary: dict[str, Any]) -> list[str]:
    """A log line per item the summary names (awaiting the creator, not AD_READY, eligibility lost)."""
    lines: list[str] = []
    for business_id, entry in sorted(summary["brands"].items()):
        for outcome in NAMED_OUTCOMES:
            for item in entry.get(f"{outcome}_items", []):
                lines.append(
                    f"  {business_id}: {item['content_id']} {outcome.replace('_', ' ')}"
                    + (f" ({item['detail']})" if item.get("detail") else "")
                )
        for ad in entry.get("stale_ads", []):
            lines.append(
                f"  {business_id}: {ad['content_id']} stale ad {ad['ad_id']} (code {ad['reason']} after the "
                "ad was made; left as it is)"
            )
    return lines
