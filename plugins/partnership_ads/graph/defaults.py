"""The ``meta_graph`` connection's defaults, defined once.

Read by the connection form (:mod:`partnership_ads.provider`) and by the hook's settings
(:mod:`.settings`, :mod:`.retry`, :mod:`.auth`). Airflow imports the provider module while it is itself
initialising, so this module imports nothing.
"""

from __future__ import annotations

#: The connection's host when it is empty.
BASE_URL = "https://graph.facebook.com"
#: Extra ``api_version``: prefixed to every path.
API_VERSION = "v25.0"
#: Extra ``token_transport``: its values, and the default.
TOKEN_TRANSPORTS = ("header", "query", "form")
TOKEN_TRANSPORT = "header"  # noqa: S105 - a transport name, not a secret
#: Extra ``app_secret_time_proof``: send the time-stamped ``appsecret_proof``.
APP_SECRET_TIME_PROOF = True
#: Extra ``timeout``: seconds per HTTP request (connect and read).
TIMEOUT_SECONDS = 60.0
#: Extra ``max_retries``: retries of one call inside the hook.
MAX_RETRIES = 5
#: Extras ``backoff_base_seconds`` and ``backoff_max_seconds``: the exponential backoff's first wait and cap.
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
#: Extra ``max_throttle_wait_seconds``: the longest throttle wait slept inside the worker.
MAX_THROTTLE_WAIT_SECONDS = 300.0
#: Extra ``usage_slowdown_percent``: above this rate-limit usage the hook paces its calls.
USAGE_SLOWDOWN_PERCENT = 80.0
