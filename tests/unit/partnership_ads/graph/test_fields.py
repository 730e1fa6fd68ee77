"""The Graph ``fields`` syntax: strings and nested structures render to the same request."""

from __future__ import annotations

import pytest

from partnership_ads.graph.fields import parse_fields, render_fields


def test_string_and_nested_structure_render_identically() -> None:
    as_string = render_fields("content_id,author{display_name}")
    as_structure = render_fields(["content_id", {"author": ["display_name"]}])
    assert as_string == as_structure == "content_id,author{display_name}"


def test_whitespace_in_a_graph_string_is_normalised() -> None:
    assert render_fields(" content_id , author { display_name , ig_user_id } ") == (
        "content_id,author{display_name,ig_user_id}"
    )


def test_nesting_at_any_depth_round_trips() -> None:
    text = "content_id,partnership_info{ad_eligibility,tagged_partner{display_name,profile_picture_url}}"
    structure = [
        "content_id",
        {"partnership_info": ["ad_eligibility", {"tagged_partner": ["display_name", "profile_picture_url"]}]},
    ]
    assert render_fields(text) == render_fields(structure) == text


def test_mapping_with_none_means_field_without_sub_fields() -> None:
    assert render_fields({"content_id": None, "organic_insights": ["likes", "views"]}) == (
        "content_id,organic_insights{likes,views}"
    )


def test_repeated_names_are_merged_in_first_seen_order() -> None:
    assert render_fields(
        ["content_id", {"author": ["display_name"]}, "author{ig_user_id}", "content_id"]
    ) == ("content_id,author{display_name,ig_user_id}")


def test_string_elements_of_a_list_may_use_graph_syntax() -> None:
    assert parse_fields(["content_id", "author{display_name}"]) == {
        "content_id": {},
        "author": {"display_name": {}},
    }


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ("content_id,author{display_name", "unbalanced '{'"),
        ("content_id}", "unbalanced '}'"),
        ("content_id,,caption", "empty field name"),
        ("content_id,", "trailing ','"),
        ("author{}", "empty field name before '}'"),
        ("content-id", "unexpected '-'"),
        ("content_id caption", "missing ','"),
        ("", "at least one field"),
        ([], "at least one field"),
        (42, "got int"),
        (["content_id", 7], "got int"),
        ({"author": 3}, "got int"),
        ({"1bad": None}, "is not a field name"),
    ],
)
def test_malformed_fields_raise_value_error_naming_fields(fields: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=r"^fields") as caught:
        render_fields(fields)
    assert fragment in str(caught.value)
