"""Push checks each batch against the ledger just before sending it (issue 11: revocation is final).

A revoke task may run while a push is under way: the push read its pending records, then the code was revoked.
The batch it read must not reach a sink as active. Real SQLite ledger, real files sink into ``tmp_path``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from include.drills.audit import file_rows
from partnership_ads.delivery import deliver_pending
from partnership_ads.ledger import DeliveryRecord, Ledger
from partnership_ads.sinks import FileSink

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

BRAND = "111"


class RevokedWhilePushing(Ledger):
    """A real ledger in which the media in ``revoke_after_read`` are revoked (as the revoke task does) right
    after the push read its pending records, i.e. between reading a batch and sending it."""

    revoke_after_read: tuple[str, ...] = ()

    def pending_deliveries(self, *args: Any, **kwargs: Any) -> list[DeliveryRecord]:
        pending = super().pending_deliveries(*args, **kwargs)
        for content_id in self.revoke_after_read:
            assert self.mark_revoked(content_id)
        self.revoke_after_read = ()
        return pending


def _ledger_with_codes(path: Path, codes: dict[str, str]) -> RevokedWhilePushing:
    ledger = RevokedWhilePushing.from_sqlite_path(path)
    ledger.migrate()
    for content_id, ad_code in codes.items():
        content = {"content_id": content_id, "platform": "INSTAGRAM", "permalink": f"https://x/{content_id}"}
        ledger.upsert_content(BRAND, [{**content, "author_ig_user_id": "9"}], run_id="r1")
        ledger.record_brand_item(BRAND, content_id, "issued", run_id="r1")
        ledger.harvest(content_id, ad_code, business_id=BRAND, owner_ig_user_id="9")
    return ledger


def test_a_code_revoked_after_the_push_read_its_batch_is_not_delivered_as_active(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = _ledger_with_codes(tmp_path / "ledger.db", {"1": "C1", "2": "C2"})
    out = tmp_path / "out"
    sink = FileSink(output_uri=str(out), file_format="csv")
    ledger.revoke_after_read = ("1",)
    log = logging.getLogger("test.push")
    with caplog.at_level(logging.WARNING, logger="test.push"):
        delivered, errors = deliver_pending(ledger, [sink], BRAND, run_id="r2", dag_id="d", log=log)
    assert (delivered, errors) == ({"files": 1}, {})
    rows = file_rows(out)
    assert [(r["content_id"], r["ad_code"], r["state"]) for r in rows] == [("2", "C2", "active")]
    assert "Media 1 changed since this push read it (now revoked): not delivered as active" in caplog.text
    assert ledger.code("1").state == "revoked"
    # Never delivered, so its revocation is owed to nobody: nothing stays pending for the files.
    assert ledger.pending_deliveries(BRAND, sink.name, destination=sink.destination) == []
