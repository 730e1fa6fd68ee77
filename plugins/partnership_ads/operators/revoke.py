"""RevokeAdCodesOperator: delete codes for given media, mark them revoked, tell the sinks."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from partnership_ads.conn_ids import CREATOR_CONN_PREFIX, DEFAULT_LEDGER_CONN_ID, DEFAULT_WEBHOOK_CONN_ID
from partnership_ads.sink_names import DEFAULT_FILE_FORMAT

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

    from partnership_ads.ledger import Ledger
    from partnership_ads.run_plan import RevokeScope

    Plan = tuple[list[tuple[str, str, str]], list[str]]


class RevokeAdCodesOperator(BaseOperator):
    """Delete the partnership ad code of each media, with the owner's connection, and tell the sinks.

    Scoped like the pipeline's trigger (issue 11): every media must be known to the ledger under a brand this
    deployment serves. With a brand list (Variable ``partnership_ads_brands`` / env
    ``PARTNERSHIP_ADS_BRANDS``), that is a listed brand, and its listed connection is used; a
    ``meta_conn_id`` that differs is refused. Without a list, ``meta_conn_id`` (default
    ``meta_graph_default``) must be a ``meta_graph`` connection that is not a creator's. Every media is
    checked before the first delete: one refusal fails the task with nothing deleted.

    The connection a code is deleted with is its creator's (``meta_graph_creator_<ig_user_id>``, recorded in
    the ledger) when it exists, else the brand's. A revoked code is not re-issued by later runs.

    :param media_ids: Instagram media ids (content_id), at most ``MAX_ITEMS["media_ids"]``.
    :param meta_conn_id: the brand's connection, for media whose creator has none (see above).
    :param sinks: sink selection, as for :class:`PushAdCodesOperator`.
    """

    template_fields: Sequence[str] = ("media_ids", "meta_conn_id", "sinks", "output_uri", "file_format")

    def __init__(
        self,
        *,
        media_ids: list[str],
        meta_conn_id: str | None = None,
        sinks: list[str] | None = None,
        output_uri: str | None = None,
        file_format: str = DEFAULT_FILE_FORMAT,
        ledger_conn_id: str = DEFAULT_LEDGER_CONN_ID,
        webhook_conn_id: str = DEFAULT_WEBHOOK_CONN_ID,
        creator_conn_prefix: str = CREATOR_CONN_PREFIX,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.media_ids = media_ids
        self.meta_conn_id = meta_conn_id
        self.sinks = sinks
        self.output_uri = output_uri
        self.file_format = file_format
        self.ledger_conn_id = ledger_conn_id
        self.webhook_conn_id = webhook_conn_id
        self.creator_conn_prefix = creator_conn_prefix

    def _plan(self, ledger: Ledger, media_ids: list[str], scope: RevokeScope, requested: str | None) -> Plan:
        """``(media_id, business_id, conn_id)`` for every media, or the refusals (nothing is deleted then)."""
        from partnership_ads.connections import connection_exists

        plan: list[tuple[str, str, str]] = []
        refused: list[str] = []
        for media_id in media_ids:
            row = ledger.code(media_id)
            recorded = [row.business_id] if row is not None and row.business_id else []
            brands = list(dict.fromkeys([*recorded, *ledger.brands_for([media_id])]))
            try:
                business_id, conn_id = scope.connection_for(media_id, brands, requested)
            except ValueError as exc:
                refused.append(str(exc))
                continue
            creator = row.owner_ig_user_id if row else None
            if creator and connection_exists(f"{self.creator_conn_prefix}{creator}"):
                conn_id = f"{self.creator_conn_prefix}{creator}"
            plan.append((media_id, business_id, conn_id))
        return plan, refused

    def execute(self, context: Context) -> dict[str, Any]:
        """Revoke each media; returns ``{"revoked": [...], "failed": {...}, "delivered": {...}}``."""
        # Imported here, not at module level: the DAG file imports this module at parse time.
        from airflow.sdk.exceptions import AirflowFailException

        from partnership_ads.delivery import build_delivery_sinks, deliver_pending
        from partnership_ads.deployment import connection_type, get_variable
        from partnership_ads.graph.errors import describe_error
        from partnership_ads.hooks import PartnershipAdsHook
        from partnership_ads.ledger import Ledger
        from partnership_ads.run_plan import revoke_scope, validate_revoke_params

        try:
            media_ids, requested = validate_revoke_params(self.media_ids, self.meta_conn_id)
            scope = revoke_scope(
                requested, get_variable=get_variable, environ=os.environ, get_connection_type=connection_type
            )
            sinks = build_delivery_sinks(
                self.sinks,
                output_uri=self.output_uri,
                file_format=self.file_format,
                webhook_conn_id=self.webhook_conn_id,
            )
        except ValueError as exc:
            raise AirflowFailException(f"Invalid parameter: {exc}") from None
        ledger = Ledger.from_conn_id(self.ledger_conn_id)
        ledger.migrate()
        plan, refused = self._plan(ledger, media_ids, scope, requested)
        if refused:
            raise AirflowFailException(
                f"Revocation refused, nothing deleted ({len(refused)} of {len(media_ids)} media): "
                + "; ".join(refused[:10])
            )
        revoked: list[str] = []
        failed: dict[str, str] = {}
        for media_id, business_id, conn_id in plan:
            try:
                PartnershipAdsHook(meta_conn_id=conn_id).delete_partnership_ad_code(media_id)
            except Exception as exc:
                failed[media_id] = describe_error(exc)
                self.log.error(
                    "Could not delete the code of %s with %s: %s", media_id, conn_id, failed[media_id]
                )
                continue
            if not ledger.mark_revoked(media_id):
                self.log.warning("Media %s had no code in the ledger; deleted at Meta only", media_id)
            revoked.append(media_id)
            self.log.info(
                "Revoked the ad code of %s for business %s (connection %s)", media_id, business_id, conn_id
            )
        delivered: dict[str, dict[str, int]] = {}
        errors: dict[str, dict[str, str]] = {}
        for business_id in ledger.brands_for(revoked):
            delivered[business_id], brand_errors = deliver_pending(
                ledger,
                sinks,
                business_id,
                run_id=context["run_id"],
                dag_id=context["ti"].dag_id,
                log=self.log,
            )
            if brand_errors:
                errors[business_id] = brand_errors
        if failed or errors:
            raise AirflowException(f"Revocation incomplete: delete failures {failed}; sink failures {errors}")
        return {"revoked": revoked, "failed": failed, "delivered": delivered}
