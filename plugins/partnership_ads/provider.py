"""Provider metadata: registers the ``meta_graph`` connection type with Airflow.

Airflow adds connection types only from an installed distribution's ``apache_airflow_provider`` entry point
(declared in pyproject.toml). This module must stay import-light: Airflow imports it while it is itself
initialising, so it imports nothing from Airflow, and from this package only
:mod:`partnership_ads.graph.defaults` (which imports nothing).

The extra field names below are a contract shared with :mod:`partnership_ads.graph.settings`
(``ConnectionSettings``) and with every ``AIRFLOW_CONN_*`` variable in the project; their defaults are
defined once, in :mod:`partnership_ads.graph.defaults`.
"""

from __future__ import annotations

from typing import Any

from partnership_ads.graph import defaults

PACKAGE_NAME = "partnership-ads-airflow"
CONN_TYPE = "meta_graph"
HOOK_CLASS_NAME = "partnership_ads.hooks.PartnershipAdsHook"
HOOK_NAME = "Meta Graph API (partnership ads)"


def _field(label: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"label": label, "description": description, "schema": schema}


CONN_FIELDS: dict[str, dict[str, Any]] = {
    "api_version": _field(
        "API version",
        "Graph API version prefixed to every path, for example v25.0.",
        {"type": ["string", "null"], "default": defaults.API_VERSION, "pattern": r"^v\d+\.\d+$"},
    ),
    "app_id": _field(
        "App id",
        "Optional. With app_secret, the app access token app_id|app_secret inspects tokens (debug_token); "
        "without it, a token inspects itself.",
        {"type": ["string", "null"], "pattern": r"^[0-9]*$"},
    ),
    "app_secret": _field(
        "App secret",
        "Optional. When set, every request carries appsecret_proof (HMAC-SHA256 of the access token).",
        {"type": ["string", "null"], "format": "password"},
    ),
    "app_secret_time_proof": _field(
        "Time-stamped appsecret_proof",
        "Send the time-stamped proof (token|unix_time) with appsecret_time; it expires after 5 minutes. "
        f"Empty means {'yes' if defaults.APP_SECRET_TIME_PROOF else 'no'}.",
        # No schema default here or on token_transport: Airflow's masker redacts values under names holding
        # "secret" or "token", so a default would show in the form as "***". The hook applies the defaults.
        {"type": ["boolean", "null"]},
    ),
    "token_transport": _field(
        "Token transport",
        "Where the access token travels: header (Authorization: OAuth), query or form. "
        f"Empty means {defaults.TOKEN_TRANSPORT}.",
        {"type": ["string", "null"], "enum": [*defaults.TOKEN_TRANSPORTS, None]},
    ),
    "timeout": _field(
        "Timeout (seconds)",
        "Connect and read timeout of one HTTP request.",
        {"type": ["number", "null"], "default": defaults.TIMEOUT_SECONDS, "minimum": 1},
    ),
    "max_retries": _field(
        "Max retries",
        "Retries of one request on transient errors and throttling, inside the hook.",
        {"type": ["integer", "null"], "default": defaults.MAX_RETRIES, "minimum": 0},
    ),
    "backoff_base_seconds": _field(
        "Backoff base (seconds)",
        "First wait of the exponential backoff (doubles each retry, with jitter).",
        {"type": ["number", "null"], "default": defaults.BACKOFF_BASE_SECONDS, "minimum": 0},
    ),
    "backoff_max_seconds": _field(
        "Backoff max (seconds)",
        "Upper bound of one backoff wait.",
        {"type": ["number", "null"], "default": defaults.BACKOFF_MAX_SECONDS, "minimum": 0},
    ),
    "max_throttle_wait_seconds": _field(
        "Max throttle wait (seconds)",
        "Longest wait the hook sleeps on a throttling answer; longer waits raise a retryable error instead.",
        {"type": ["number", "null"], "default": defaults.MAX_THROTTLE_WAIT_SECONDS, "minimum": 0},
    ),
    "usage_slowdown_percent": _field(
        "Usage slowdown threshold (%)",
        "Above this rate-limit usage (x-app-usage, x-business-use-case-usage) the hook paces its calls.",
        {
            "type": ["number", "null"],
            "default": defaults.USAGE_SLOWDOWN_PERCENT,
            "minimum": 0,
            "maximum": 100,
        },
    ),
}


def get_provider_info() -> dict[str, Any]:
    """Return the provider metadata Airflow reads through the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "Partnership ads (Meta Graph API)",
        "description": "Meta Graph API hook for partnership ad codes and advertisable content discovery.",
        "integrations": [
            {
                "integration-name": HOOK_NAME,
                "external-doc-url": "https://developers.facebook.com/docs/graph-api/",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": HOOK_NAME, "python-modules": ["partnership_ads.hooks"]}],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": HOOK_CLASS_NAME,
                "hook-name": HOOK_NAME,
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login", "port"],
                    "relabeling": {"host": "Base URL", "password": "Access token"},
                    "placeholders": {"host": defaults.BASE_URL},
                },
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
