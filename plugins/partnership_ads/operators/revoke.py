"""RevokeAdCodesOperator: delete codes for given media, mark them revoked, tell the sinks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from partnership_ads.conn_ids import CREATOR_CONN_PREFIX, DEFAULT_LEDGER_CONN_ID, DEFAULT_WEBHOOK_CONN_ID

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context


class RevokeAdCodesOperator(BaseOperator):
    """Delete the partnership ad code of each media, with the owner's connection, and tell the sinks.

    The owner is the creator recorded in the ledger (connection ``meta_graph_creator_<ig_user_id>``), else
    ``meta_conn_id`` (the brand, for its own media). A revoked code is not re-issued by later runs.

    :param media_ids: Instagram media ids (content_id).
    :param meta_conn_id: fallback connection when no creator connection exists.
    :param sinks: sink selection, as for :class:`PushAdCodesOperator`.
    """

    template_fields: Sequence[str] = ("media_ids", "meta_conn_id", "sinks", "output_uri", "file_format")

    def __init__(
        self,
        *,
        media_ids: list[str],
        meta_conn_id: str = "meta_graph_default",
        sinks: list[str] | None = None,
        output_uri: str | None = None,
        file_format: str = "csv",
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

    def execute(self, context: Context) -> dict[str, Any]:
        """Revoke each media; returns ``{"revoked": [...], "failed": {...}, "delivered": {...}}``."""
        # Imported here, not at module level: the DAG file imports this module at parse time.
        from partnership_ads.hooks import PartnershipAdsHook
        from partnership_ads.ledger import Ledger, connection_exists
        from partnership_ads.operators.issue import _describe_error
        from partnership_ads.operators.push import default_output_uri, deliver_pending
        from partnership_ads.sinks import build_sinks

        media_ids = [str(m).strip() for m in (self.media_ids or []) if str(m).strip()]
        if not media_ids:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException("media_ids: give at least one Instagram media id to revoke")
        ledger = Ledger.from_conn_id(self.ledger_conn_id)
        ledger.migrate()
        revoked: list[str] = []
        failed: dict[str, str] = {}
        for media_id in media_ids:
            row = ledger.code(media_id)
            creator = row.owner_ig_user_id if row else None
            conn_id = self.meta_conn_id
            if creator and connection_exists(f"{self.creator_conn_prefix}{creator}"):
                conn_id = f"{self.creator_conn_prefix}{creator}"
            try:
                PartnershipAdsHook(meta_conn_id=conn_id).delete_partnership_ad_code(media_id)
            except Exception as exc:
                failed[media_id] = _describe_error(exc)
                self.log.error(
                    "Could not delete the code of %s with %s: %s", media_id, conn_id, failed[media_id]
                )
                continue
            if not ledger.mark_revoked(media_id):
                self.log.warning("Media %s had no code in the ledger; deleted at Meta only", media_id)
            revoked.append(media_id)
            self.log.info("Revoked the ad code of %s (connection %s)", media_id, conn_id)
        sinks = build_sinks(
            list(self.sinks) if self.sinks else None,
            webhook_conn_id=self.webhook_conn_id,
            output_uri=self.output_uri or default_output_uri(),
            file_format=self.file_format or "csv",
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
