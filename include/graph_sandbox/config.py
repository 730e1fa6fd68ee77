"""Runtime settings of the sandbox: the same names on the CLI, in `start_sandbox(**config)` and in
`GET/PATCH /__sandbox__/config`. Every setting is documented in the README's sandbox section."""

from __future__ import annotations

from typing import Any

DEFAULT_CONFIG: dict[str, Any] = {
    # A repeated POST on a media that already has a valid code: "same" returns it, "rotate" issues a new
    # one and invalidates the old one (the worst case a pipeline must survive).
    "ad_code_repeat": "same",
    # Calls allowed per access token per business object within the sliding window.
    "rate_limit_calls": 2000,
    "rate_limit_window_s": 3600.0,
    # The BUC throttling error code, and the `type` reported in x-business-use-case-usage.
    "throttle_code": 80002,
    "buc_type": "instagram",
    # The BUC throttling error of the Marketing API calls (ad accounts, ad sets, creatives, ads), whose
    # bucket is always ads_management: 80004 is Meta's "Ads Management" business use case.
    "ads_throttle_code": 80004,
    # HTTP status of a throttling error (Meta answers rate limits with 400 on most endpoints).
    "throttle_http_status": 400,
    # Fixed `estimated_time_to_regain_access` (minutes); None computes it from the window.
    "throttle_regain_minutes": None,
    # The round trip of every Graph call (not the control API), for benchmarks with a known latency: a floor
    # on the response time that includes the sandbox's own processing (see app._serve_graph).
    "latency_ms": 0.0,
    # {app_id: app_secret}: apps listed here require appsecret_proof on every call.
    "app_secrets": {},
    # Null fields in responses: "null" writes them as JSON null, "omit" leaves them out.
    "null_fields": "null",
    # Whether `Authorization: Bearer|OAuth <token>` is honoured (unconfirmed for graph.facebook.com).
    "accept_authorization_header": True,
}

_CHOICES = {"ad_code_repeat": ("same", "rotate"), "null_fields": ("null", "omit")}


class ConfigError(ValueError):
    """A config key or value the sandbox does not accept."""


def validate_config(changes: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise a partial config; raise ConfigError naming the bad key."""
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in DEFAULT_CONFIG:
            raise ConfigError(f"unknown sandbox setting {key!r}; known: {sorted(DEFAULT_CONFIG)}")
        if key in _CHOICES:
            if value not in _CHOICES[key]:
                raise ConfigError(f"{key} must be one of {_CHOICES[key]}, got {value!r}")
        elif key in ("rate_limit_calls", "throttle_code", "ads_throttle_code", "throttle_http_status"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{key} must be a positive integer, got {value!r}")
        elif key in ("rate_limit_window_s", "latency_ms"):
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{key} must be a non-negative number, got {value!r}")
            value = float(value)
        elif key == "throttle_regain_minutes":
            if value is not None and (not isinstance(value, int | float) or value < 0):
                raise ConfigError(f"{key} must be null or a non-negative number, got {value!r}")
        elif key == "app_secrets":
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()
            ):
                raise ConfigError("app_secrets must be an object {app_id: secret}")
            value = dict(value)
        elif key == "accept_authorization_header":
            if not isinstance(value, bool):
                raise ConfigError(f"{key} must be true or false")
        elif key == "buc_type" and not isinstance(value, str):
            raise ConfigError("buc_type must be a string")
        clean[key] = value
    return clean


def make_config(**overrides: Any) -> dict[str, Any]:
    """The defaults with `overrides` applied (validated)."""
    config = dict(DEFAULT_CONFIG)
    config["app_secrets"] = {}
    config.update(validate_config(overrides))
    return config
