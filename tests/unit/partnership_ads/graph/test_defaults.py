"""The connection form's defaults are the ones the hook applies to an empty extra."""

from __future__ import annotations

import pytest

from partnership_ads.graph import defaults
from partnership_ads.graph.settings import KNOWN_EXTRAS, ConnectionSettings
from partnership_ads.provider import CONN_FIELDS, get_provider_info

APPLIED = ConnectionSettings.from_connection("meta_graph_default", host=None, password="EAABtoken", extra={})
APPLIED_VALUES = {
    "api_version": APPLIED.api_version,
    "app_secret_time_proof": APPLIED.app_secret_time_proof,
    "token_transport": APPLIED.token_transport,
    "timeout": APPLIED.timeout,
    "max_retries": APPLIED.retry.max_retries,
    "backoff_base_seconds": APPLIED.retry.backoff_base_seconds,
    "backoff_max_seconds": APPLIED.retry.backoff_max_seconds,
    "max_throttle_wait_seconds": APPLIED.retry.max_throttle_wait_seconds,
    "usage_slowdown_percent": APPLIED.retry.usage_slowdown_percent,
}


@pytest.mark.parametrize(
    "name", sorted(name for name, field in CONN_FIELDS.items() if "default" in field["schema"])
)
def test_a_default_shown_in_the_form_is_the_one_the_hook_applies(name: str) -> None:
    assert CONN_FIELDS[name]["schema"]["default"] == APPLIED_VALUES[name]


def test_the_defaults_the_form_cannot_show_are_named_in_its_descriptions() -> None:
    # The masker would show a default under a name holding "secret" or "token" as "***".
    assert "default" not in CONN_FIELDS["token_transport"]["schema"]
    assert "default" not in CONN_FIELDS["app_secret_time_proof"]["schema"]
    assert f"Empty means {APPLIED.token_transport}." in CONN_FIELDS["token_transport"]["description"]
    assert APPLIED.app_secret_time_proof is True
    assert "Empty means yes." in CONN_FIELDS["app_secret_time_proof"]["description"]


def test_the_form_offers_exactly_the_transports_the_hook_accepts() -> None:
    assert CONN_FIELDS["token_transport"]["schema"]["enum"] == [*defaults.TOKEN_TRANSPORTS, None]
    for transport in defaults.TOKEN_TRANSPORTS:
        settings = ConnectionSettings.from_connection(
            "c", host=None, password="EAABtoken", extra={"token_transport": transport}
        )
        assert settings.token_transport == transport


def test_every_extra_of_the_form_is_read_by_the_hook_and_the_host_placeholder_is_the_default_base_url() -> (
    None
):
    assert frozenset(CONN_FIELDS) == KNOWN_EXTRAS
    (connection_type,) = get_provider_info()["connection-types"]
    assert connection_type["ui-field-behaviour"]["placeholders"]["host"] == APPLIED.base_url
