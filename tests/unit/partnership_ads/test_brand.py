"""Brand: the value carried from resolve_brands through every task, over XCom as JSON."""

from __future__ import annotations

import json

import pytest

from partnership_ads.brand import Brand, brand_arguments
from partnership_ads.conn_ids import DEFAULT_META_CONN_ID

PLANNED = Brand(
    business_id="111",
    fb_page_id="222",
    ig_user_id="333",
    meta_conn_id="meta_graph_b",
    filters={"ad_eligibilities": ["AD_READY"], "start_date": "2026-01-01"},
    recheck_pending=True,
    partitions=4,
    ledger_id="ledger-1",
)


def test_a_brand_survives_a_trip_through_json() -> None:
    assert Brand.from_dict(json.loads(json.dumps(PLANNED.as_dict()))) == PLANNED


def test_ids_given_as_numbers_become_text_and_the_connection_defaults() -> None:
    brand = Brand.from_dict({"business_id": 111, "ig_user_id": 333, "fb_page_id": ""})
    assert (brand.business_id, brand.ig_user_id, brand.fb_page_id) == ("111", "333", None)
    assert brand.meta_conn_id == DEFAULT_META_CONN_ID


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"business_id": "1", "token": "x"}, r"^brand: unknown key\(s\) \['token'\]"),
        ({"fb_page_id": "2"}, r"^brand: business_id is required"),
    ],
)
def test_a_mapping_that_is_not_a_brand_is_refused(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Brand.from_dict(data)


def test_operator_arguments_come_from_the_brand_unless_given_the_same() -> None:
    given = brand_arguments(PLANNED.as_dict(), business_id="111", ig_user_id=None, partitions=None)
    assert given == {"business_id": "111", "ig_user_id": "333", "partitions": 4}


def test_an_operator_argument_that_contradicts_the_brand_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^meta_conn_id: 'meta_graph_default' differs from the brand's"):
        brand_arguments(PLANNED, meta_conn_id="meta_graph_default")
