"""PlanIssuanceOperator: per brand, what needs no POST, and the creator shards the issue stage maps over."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from partnership_ads.conn_ids import CREATOR_CONN_PREFIX, DEFAULT_LEDGER_CONN_ID
from partnership_ads.dag_settings import DEFAULT_CREATORS_PER_SHARD, PLANNED_KEY

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context

__all__ = ["PLANNED_KEY", "PlanIssuanceOperator"]


class PlanIssuanceOperator(BaseOperator):
    """Plan every brand's issuance from its fetch snapshot and the ledger (no Graph call, no connection read).

    The work is :func:`partnership_ads.issuance_plan.plan_issuance`: the items whose outcome needs no POST are
    recorded, the others are grouped by owner into shards of at most ``creators_per_shard`` creators. The
    return value is the shards (one ``IssueAdCodesOperator`` argument set each, for ``expand_kwargs``); each
    brand's plan counts, in the issue task's shape, go to XCom under the key ``planned`` (the run summary adds
    the shards' to them).

    :param fetched: the fetch tasks' results (each with ``brand`` and ``snapshot_path``), one per brand.
    :param creators_per_shard: most creators per shard (1..1000, default 50); a creator is never split.
    :param dry_run: record nothing (the shards then plan too).
    :param ledger_conn_id: the ledger's SQL connection.
    """

    template_fields: Sequence[str] = ("fetched", "creators_per_shard", "dry_run")
    ui_color = "#fdf7e7"

    def __init__(
        self,
        *,
        fetched: Sequence[Mapping[str, Any]] | Any,
        creators_per_shard: int | str = DEFAULT_CREATORS_PER_SHARD,
        dry_run: bool | str = False,
        ledger_conn_id: str = DEFAULT_LEDGER_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(creators_per_shard, int) and not isinstance(creators_per_shard, bool):
            # A literal is checked when the DAG is parsed; a template is checked once rendered.
            from partnership_ads.issuance_plan import check_creators_per_shard

            check_creators_per_shard(creators_per_shard)
        self.fetched = fetched
        self.creators_per_shard = creators_per_shard
        self.dry_run = dry_run
        self.ledger_conn_id = ledger_conn_id

    def execute(self, context: Context) -> list[dict[str, Any]]:
        """Plan each brand; push the plans' counts under ``planned``; return the shards."""
        from partnership_ads.brand import Brand
        from partnership_ads.issuance import Issuance, IssuanceSettings
        from partnership_ads.issuance_plan import check_creators_per_shard, plan_issuance
        from partnership_ads.ledger import Ledger

        try:
            per_shard = check_creators_per_shard(self.creators_per_shard)
        except ValueError as exc:
            raise AirflowFailException(f"Invalid parameter: {exc}") from None
        dry_run = bool(self.dry_run)
        ledger = Ledger.from_conn_id(self.ledger_conn_id)
        ledger.migrate()
        owner = f"{context['run_id']}/plan_issuance/{uuid.uuid4().hex[:8]}"
        shards: list[dict[str, Any]] = []
        brands: list[dict[str, Any]] = []
        for fetched in self.fetched or []:
            if not fetched:
                continue
            brand = Brand.coerce(fetched["brand"])
            ledger_id = ledger.check_identity(brand.ledger_id, conn_id=self.ledger_conn_id)
            brand = brand.replace(ledger_id=ledger_id)
            issuance = Issuance(
                brand,
                ledger,
                snapshot_path=fetched["snapshot_path"],
                owner=owner,
                run_id=context["run_id"],
                settings=IssuanceSettings(dry_run=dry_run, creator_conn_prefix=CREATOR_CONN_PREFIX),
                log=self.log,
                # Planning reads no connection: each shard decides its own creators'.
                hook_factory=_no_hook,
                connection_exists=_no_connection_read,
            )
            plan = plan_issuance(issuance, creators_per_shard=per_shard)
            brands.append(plan.summary(dry_run=dry_run))
            shards.extend(s.operator_kwargs(brand, fetched["snapshot_path"]) for s in plan.shards)
        self.log.info(
            "Issue stage: %s shard(s) over %s brand(s), at most %s creators per shard",
            len(shards),
            len(brands),
            per_shard,
        )
        context["ti"].xcom_push(key=PLANNED_KEY, value=brands)
        return shards


def _no_hook(conn_id: str) -> Any:
    raise RuntimeError(f"planning calls no Graph endpoint (asked for a hook of {conn_id!r})")


def _no_connection_read(conn_id: str) -> bool:
    raise RuntimeError(f"planning reads no connection (asked for {conn_id!r})")
