"""Token health assessment: pure functions on a fake clock (no network)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from partnership_ads.graph.tokens import TokenInfo
from partnership_ads.token_health import (
    CREATOR_SCOPES,
    NEEDS_REAUTHORISATION,
    STATES,
    TokenHealth,
    assess_brand,
    assess_creator,
    brand_required_scopes,
    creator_action,
    merge_reports,
    needing_action,
    token_fingerprint,
    tokens_report,
    tokens_section,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC).timestamp()
DAY = 86400
IG = "17841400000000001"
BRAND_SCOPES = (
    "business_management",
    "instagram_basic",
    "instagram_branded_content_ads_brand",
    "facebook_branded_content_ads_brand",
)


def creator_info(**changes: object) -> TokenInfo:
    fields: dict[str, object] = {
        "is_valid": True,
        "scopes": CREATOR_SCOPES,
        "granular_scopes": {"instagram_basic": (IG,), "instagram_branded_content_creator": (IG,)},
        "expires_at": None,
    }
    fields.update(changes)
    return TokenInfo(**fields)  # type: ignore[arg-type]


def creator_state(info: TokenInfo, warning_days: float = 7) -> str:
    return assess_creator(info, ig_user_id=IG, now=NOW, warning_days=warning_days).state


def test_a_valid_token_that_never_expires_is_ok() -> None:
    found = assess_creator(creator_info(), ig_user_id=IG, now=NOW, warning_days=7)
    assert (found.state, found.days_left) == ("ok", None)


def test_a_token_expiring_within_the_warning_days_is_expiring_with_its_days_left() -> None:
    found = assess_creator(creator_info(expires_at=NOW + 3.5 * DAY), ig_user_id=IG, now=NOW, warning_days=7)
    assert (found.state, found.days_left) == ("expiring", 3)


def test_a_token_expiring_after_the_warning_days_is_ok() -> None:
    assert creator_state(creator_info(expires_at=NOW + 8 * DAY)) == "ok"
    assert creator_state(creator_info(expires_at=NOW + 8 * DAY), warning_days=10) == "expiring"


def test_a_token_past_its_expiry_is_expired_even_if_meta_still_says_valid() -> None:
    assert creator_state(creator_info(expires_at=NOW - 1)) == "expired"


def test_debug_token_subcode_463_is_expired() -> None:
    info = creator_info(is_valid=False, error_code=190, error_subcode=463, expires_at=NOW - DAY)
    assert creator_state(info) == "expired"


@pytest.mark.parametrize("subcode", [460, 458, None])
def test_an_invalidated_deauthorised_or_unknown_token_is_invalid(subcode: int | None) -> None:
    info = creator_info(is_valid=False, error_code=190, error_subcode=subcode)
    assert creator_state(info) == "invalid"


@pytest.mark.parametrize("scope", CREATOR_SCOPES)
def test_a_missing_creator_scope_is_named(scope: str) -> None:
    info = creator_info(scopes=tuple(s for s in CREATOR_SCOPES if s != scope))
    found = assess_creator(info, ig_user_id=IG, now=NOW, warning_days=7)
    assert (found.state, found.scope) == ("missing_scope", scope)
    assert scope in found.detail


def test_a_creator_scope_granted_on_another_account_is_missing_scope() -> None:
    info = creator_info(granular_scopes={"instagram_branded_content_creator": ("999",)})
    found = assess_creator(info, ig_user_id=IG, now=NOW, warning_days=7)
    assert found.state == "missing_scope"
    assert IG in found.detail
    assert creator_action(found.state, ig_user_id=IG, scope=found.scope) == (
        f"grant instagram_branded_content_creator on {IG}"
    )


def test_an_expired_token_is_expired_before_its_scopes_are_looked_at() -> None:
    info = creator_info(scopes=(), is_valid=False, error_subcode=463)
    assert creator_state(info) == "expired"


def test_actions_per_state() -> None:
    assert creator_action("ok", ig_user_id=IG) is None
    for state in ("expiring", "expired", "invalid"):
        assert creator_action(state, ig_user_id=IG) == "re-authorise"


@pytest.mark.parametrize(
    ("platforms", "expected"),
    [
        (None, ("business_management", "instagram_basic", "instagram_branded_content_ads_brand")),
        (["FACEBOOK"], ("business_management", "facebook_branded_content_ads_brand")),
        (
            ["INSTAGRAM", "FACEBOOK"],
            (
                "business_management",
                "instagram_basic",
                "instagram_branded_content_ads_brand",
                "facebook_branded_content_ads_brand",
            ),
        ),
    ],
)
def test_brand_scopes_follow_the_platforms_asked_for(platforms: list[str] | None, expected: tuple) -> None:
    assert brand_required_scopes(platforms) == expected


def test_a_brand_token_without_the_facebook_scope_is_missing_scope_only_when_facebook_is_asked_for() -> None:
    info = TokenInfo(is_valid=True, scopes=BRAND_SCOPES[:3])
    assert assess_brand(info, platforms=None, now=NOW, warning_days=7).state == "ok"
    found = assess_brand(info, platforms=["FACEBOOK"], now=NOW, warning_days=7)
    assert (found.state, found.scope) == ("missing_scope", "facebook_branded_content_ads_brand")


def test_brand_states() -> None:
    ok = TokenInfo(is_valid=True, scopes=BRAND_SCOPES)
    assert assess_brand(ok, platforms=None, now=NOW, warning_days=7).state == "ok"
    soon = TokenInfo(is_valid=True, scopes=BRAND_SCOPES, expires_at=NOW + DAY)
    assert assess_brand(soon, platforms=None, now=NOW, warning_days=7).state == "expiring"
    dead = TokenInfo(is_valid=False, error_subcode=460)
    assert assess_brand(dead, platforms=None, now=NOW, warning_days=7).state == "invalid"


def test_the_fingerprint_does_not_contain_the_token_and_tells_tokens_apart() -> None:
    token = "EAABsecretsecretsecret"
    assert token not in token_fingerprint(token)
    assert token_fingerprint(token) != token_fingerprint(token + "x")
    assert token_fingerprint(token) == token_fingerprint(token)


def _health(ig: str, state: str, when: datetime, days: int | None = None) -> TokenHealth:
    return TokenHealth(ig, f"meta_graph_creator_{ig}", state, "d", when, None, days)


def test_reports_count_states_list_creators_by_id_and_merge_shards_keeping_the_latest() -> None:
    early = datetime(2026, 12, 4, 1, tzinfo=UTC)
    late = datetime(2026, 12, 4, 2, tzinfo=UTC)
    shard1 = tokens_report([_health("1", "ok", early), _health("2", "expiring", early, 3)])
    shard2 = tokens_report([_health("1", "expired", late, 0), _health("3", "missing_scope", late)])
    merged = merge_reports([shard1, None, shard2])
    assert merged["counts"] == {"ok": 0, "expiring": 1, "expired": 1, "invalid": 0, "missing_scope": 1}
    assert [c["ig_user_id"] for c in merged["creators"]] == ["2", "1", "3"]
    assert [c["action"] for c in needing_action(merged)] == [
        "re-authorise",
        "re-authorise",
        "grant instagram_branded_content_creator on 3",
    ]
    section = tokens_section(merged)
    assert section.startswith("Tokens")
    for state in STATES:
        assert state in section
    assert set(NEEDS_REAUTHORISATION) <= set(STATES)
