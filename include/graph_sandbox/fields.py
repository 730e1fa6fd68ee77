"""The `fields` parameter: parsing nested braces at any depth, validating against the node types, and
rendering one content item as the requested subset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from include.graph_sandbox.errors import GraphError, invalid_param
from include.graph_sandbox.world import INSIGHT_METRICS

if TYPE_CHECKING:
    from include.graph_sandbox.world import Account, Item

# A field tree: name -> sub-tree, or None for "the whole field".
FieldTree = dict[str, "FieldTree | None"]

_IDENTITY = {"display_name": None, "ig_user_id": None, "fb_page_id": None, "profile_picture_url": None}
SCHEMA: dict[str, Any] = {
    "content_id": None,
    "platform": None,
    "media_type": None,
    "post_type": None,
    "caption": None,
    "permalink": None,
    "creation_time": None,
    "author": ("PartnershipAdsContentAuthor", _IDENTITY),
    "is_recommended": None,
    "ad_usage": None,
    "partnership_info": (
        "PartnershipAdsPartnershipInfo",
        {
            "ad_eligibility": None,
            "tagged_partner": ("PartnershipAdsTaggedPartner", _IDENTITY),
            "permission_status": None,
            "permission_type": None,
            "ad_code": None,
            "content_types": None,
        },
    ),
    "organic_insights": ("PartnershipAdsOrganicInsights", dict.fromkeys(INSIGHT_METRICS)),
}
ROOT_NODE = "PartnershipAdsAdvertisableContent"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _syntax_error(text: str, pos: int, expected: str) -> GraphError:
    found = f'"{text[pos]}"' if pos < len(text) else "end of string"
    return invalid_param(f'Syntax error "Expected {expected} instead of {found}." at character {pos}: {text}')


def parse_fields(text: str) -> FieldTree:
    """Parse `a,b{c,d{e}}` into a tree; raise the (#100) syntax error Meta gives for malformed input."""
    pos = 0
    n = len(text)

    def skip_ws() -> None:
        nonlocal pos
        while pos < n and text[pos] in " \t\r\n":
            pos += 1

    def parse_list(depth: int) -> FieldTree:
        nonlocal pos
        tree: FieldTree = {}
        while True:
            skip_ws()
            start = pos
            while pos < n and text[pos] in _NAME_CHARS:
                pos += 1
            if pos == start:
                raise _syntax_error(text, pos, "field name")
            name = text[start:pos]
            skip_ws()
            sub: FieldTree | None = None
            if pos < n and text[pos] == "{":
                pos += 1
                sub = parse_list(depth + 1)
                skip_ws()
                if pos >= n or text[pos] != "}":
                    raise _syntax_error(text, pos, '"}"')
                pos += 1
                skip_ws()
            if name in tree:
                # A repeated field merges (a bare name wins: it means the whole field).
                previous = tree[name]
                tree[name] = None if previous is None or sub is None else {**previous, **sub}
            else:
                tree[name] = sub
            if pos < n and text[pos] == ",":
                pos += 1
                continue
            if depth == 0 and pos < n:
                raise _syntax_error(text, pos, "end of string")
            return tree

    skip_ws()
    if pos >= n:
        return {"content_id": None}
    return parse_list(0)


def validate_fields(tree: FieldTree, schema: dict[str, Any] | None = None, node: str = ROOT_NODE) -> None:
    """Raise `(#100) Tried accessing nonexisting field (x) on node type (Y)` for an unknown field."""
    schema = SCHEMA if schema is None else schema
    for name, sub in tree.items():
        if name not in schema:
            raise invalid_param(f"Tried accessing nonexisting field ({name}) on node type ({node})")
        spec = schema[name]
        if sub is not None:
            if spec is None:
                # A scalar has no sub-fields: Meta reports the first one as nonexisting on the scalar.
                first = next(iter(sub))
                raise invalid_param(f"Tried accessing nonexisting field ({first}) on node type ({name})")
            validate_fields(sub, spec[1], spec[0])


def _identity(account: Account, sub: FieldTree | None, omit_null: bool) -> dict[str, Any]:
    full = {
        "display_name": account.display_name,
        "ig_user_id": account.ig_user_id,
        "fb_page_id": account.fb_page_id,
        "profile_picture_url": account.profile_picture_url,
    }
    keys = full if sub is None else sub
    return {k: full[k] for k in keys if not (omit_null and full[k] is None)}


def render_item(item: Item, tree: FieldTree, ad_code: str | None, omit_null: bool) -> dict[str, Any]:
    """One item as the `fields` tree asks; `content_id` always comes first."""
    out: dict[str, Any] = {"content_id": item.content_id}
    for name, sub in tree.items():
        value: Any
        if name == "content_id":
            continue
        if name == "author":
            value = _identity(item.author, sub, omit_null)
        elif name == "partnership_info":
            value = []
            for entry in item.entries:
                full: dict[str, Any] = {
                    "ad_eligibility": entry.ad_eligibility,
                    "tagged_partner": None,
                    "permission_status": entry.permission_status,
                    "permission_type": entry.permission_type,
                    "ad_code": ad_code,
                    "content_types": list(entry.content_types),
                }
                row: dict[str, Any] = {}
                for key, key_sub in (sub or dict.fromkeys(full)).items():
                    if key == "tagged_partner":
                        row[key] = _identity(entry.tagged_partner, key_sub, omit_null)
                    elif not (omit_null and full[key] is None):
                        row[key] = full[key]
                value.append(row)
        elif name == "organic_insights":
            metrics = dict(zip(INSIGHT_METRICS, item.insights, strict=True))
            value = {k: metrics[k] for k in (sub or metrics) if not (omit_null and metrics[k] is None)}
        else:
            value = getattr(item, name)
        if omit_null and value is None:
            continue
        out[name] = value
    return out
