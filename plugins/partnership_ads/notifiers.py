"""PartnershipAdsAlertNotifier: tells a person when creators' tokens need action, once per run.

An Airflow notifier (``airflow.sdk.BaseNotifier``), so it can also be used as a callback. ``run_summary``
calls it once per run when any creator's token is expiring, expired, invalid or missing a scope
(:func:`partnership_ads.token_health.needing_action`). It POSTs one JSON message to the ``http``
connection ``partnership_ads_alerts`` (host = the receiver's URL: a chat webhook, an incident tool) with the
HTTP provider's ``HttpHook``; when that connection does not exist it sends nothing and logs that.

The message names creators by their Instagram account id, with the state, days left and the action; it
never carries a token (the reports it is built from hold none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

ALERTS_CONN_ID = "partnership_ads_alerts"


class PartnershipAdsAlertNotifier(BaseNotifier):
    """POST the creators whose tokens need action to connection ``http_conn_id`` as one JSON message.

    :param creators: the Tokens section's lines of the creators needing action (``ig_user_id``, ``state``,
        ``days_left``, ``action``).
    :param counts: the Tokens section's counts per state.
    :param http_conn_id: the ``http`` connection of the receiver (default ``partnership_ads_alerts``).
    :param endpoint: a path appended to the connection's host, if any.
    """

    template_fields: Sequence[str] = ("http_conn_id", "endpoint")

    def __init__(
        self,
        *,
        creators: list[dict[str, Any]],
        counts: dict[str, int] | None = None,
        http_conn_id: str = ALERTS_CONN_ID,
        endpoint: str | None = None,
    ) -> None:
        super().__init__()
        self.creators = creators
        self.counts = dict(counts or {})
        self.http_conn_id = http_conn_id
        self.endpoint = endpoint
        #: Whether the last :meth:`notify` sent a message.
        self.sent = False

    def message(self, context: Context | dict[str, Any]) -> dict[str, Any]:
        """The JSON body: the run, the counts per state and one entry per creator (no token)."""
        dag_run = context.get("dag_run")
        run_id = context.get("run_id") or getattr(dag_run, "run_id", None)
        dag_id = getattr(context.get("dag"), "dag_id", None) or getattr(dag_run, "dag_id", None)
        creators = [
            {
                "ig_user_id": str(c["ig_user_id"]),
                "state": c["state"],
                "days_left": c.get("days_left"),
                "action": c.get("action"),
            }
            for c in self.creators
        ]
        lines = [
            f"- creator {c['ig_user_id']}: {c['state']}"
            + ("" if c["days_left"] is None else f", {c['days_left']} day(s) left")
            + (f": {c['action']}" if c["action"] else "")
            for c in creators
        ]
        return {
            "kind": "partnership_ads.token_health",
            "dag_id": dag_id,
            "run_id": run_id,
            "counts": self.counts,
            "creators": creators,
            "text": f"{len(creators)} creator token(s) need action (run {run_id}):\n" + "\n".join(lines),
        }

    def notify(self, context: Context | dict[str, Any]) -> None:
        """Send the message, or nothing when the connection does not exist or no creator needs action."""
        from airflow.providers.http.hooks.http import HttpHook

        from partnership_ads.connections import connection_exists

        self.sent = False
        if not self.creators:
            return
        if not connection_exists(self.http_conn_id):
            self.log.info(
                "%s creator token(s) need action; no alert sent (connection %s is not defined)",
                len(self.creators),
                self.http_conn_id,
            )
            return
        hook = HttpHook(method="POST", http_conn_id=self.http_conn_id)
        hook.run(
            endpoint=self.endpoint,
            json=self.message(context),
            headers={"Content-Type": "application/json"},
        )
        self.sent = True
        self.log.info(
            "Alert sent to connection %s: %s creator token(s) need action",
            self.http_conn_id,
            len(self.creators),
        )
