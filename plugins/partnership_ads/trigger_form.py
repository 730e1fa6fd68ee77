"""The trigger forms of the DAGs: one ``Param`` per run parameter, grouped in sections, with display names.

Pure data (no network, no database), built once at import so a DAG file only wires ``params=`` to it. The
rules a value must pass live in :mod:`partnership_ads.run_plan`; the choices offered here are the same tuples
and enum sets that module and :mod:`partnership_ads.graph.params` validate against, so the form never offers a
value the run would refuse. Size limits come from the same place (``MAX_LENGTHS``, ``MAX_ITEMS``,
``MAX_ITEM_LENGTH``): every parameter's schema carries its ``maxLength`` / ``maxItems``, so Airflow refuses
an oversized trigger before a run exists, and the run's own check refuses it again if it gets through.
"""

from __future__ import annotations

from airflow.sdk import Param

from partnership_ads.conn_ids import DEFAULT_META_CONN_ID
from partnership_ads.dag_settings import (
    AD_FORMAT_CHOICES,
    DEFAULT_CREATORS_PER_SHARD,
    DEFAULT_TOKEN_EXPIRY_WARNING_DAYS,
    FILE_FORMAT_CHOICES,
    FILTER_PARAM_NAMES,
    MAX_CODES_LIMIT,
    MAX_CREATORS_PER_SHARD,
    MAX_ITEM_LENGTH,
    MAX_ITEMS,
    MAX_LENGTHS,
    MAX_TOKEN_EXPIRY_WARNING_DAYS,
    OUTPUT_ROOT_VARIABLE,
    SINK_CHOICES,
)
from partnership_ads.graph.params import ENUM_FILTERS, SORT_BY_VALUES
from partnership_ads.sink_names import (
    DEFAULT_SINK_NAMES,
    FILES_SINK,
    META_ADS_SINK,
    SQL_SINK,
    WEBHOOK_SINK,
)

#: Display names of the discovery endpoint's enum filters, in the order the form lists them.
ENUM_DISPLAY: dict[str, dict[str, str]] = {
    "ad_eligibilities": {
        "AD_READY": "Ad ready",
        "INELIGIBLE": "Ineligible",
        "NEEDS_ATTENTION": "Needs attention",
        "EXCLUDED": "Excluded",
    },
    "platform_types": {"INSTAGRAM": "Instagram", "FACEBOOK": "Facebook"},
    "media_types": {"IMAGE": "Image", "VIDEO": "Video", "CAROUSEL": "Carousel", "LINK": "Link"},
    "post_types": {"FEED": "Feed", "STORY": "Story", "REEL": "Reel"},
    "content_types": {
        "BRANDED_CONTENT": "Branded content (paid partnership label)",
        "PRODUCT": "Tagged products",
        "AFFILIATE": "Affiliate",
        "COLLAB_POST": "Collab post",
        "TAGGED": "Tags or mentions the brand",
        "REPOSTED": "Reposted by the brand",
    },
    "ad_usages": {"NEVER_USED": "Never used", "ACTIVE": "Active", "PREVIOUSLY_USED": "Previously used"},
}
assert {name: frozenset(values) for name, values in ENUM_DISPLAY.items()} == ENUM_FILTERS, (
    "the form must offer exactly the values the discovery endpoint accepts"
)
_ENUM_HELP = {
    "ad_eligibilities": "Only content with these ad eligibilities (codes are issued for AD_READY only).",
    "platform_types": "Only these platforms (default: every platform the brand token has a scope for).",
    "media_types": "Only these media types.",
    "post_types": "Only these post types.",
    "content_types": "Only these partnership content types.",
    "ad_usages": "Only content with this ad usage.",
}
SORT_BY_DISPLAY = {"RECOMMENDED": "Recommended (Meta's default)", "DATE": "Date"}
assert frozenset(SORT_BY_DISPLAY) == SORT_BY_VALUES
SINK_DISPLAY = {
    SQL_SINK: "SQL table",
    WEBHOOK_SINK: "Webhook",
    FILES_SINK: "Files",
    META_ADS_SINK: "Meta ads (paused, needs the brand's ad account)",
}
assert tuple(SINK_DISPLAY) == SINK_CHOICES, "the form must name every sink"
FILE_FORMAT_DISPLAY = dict(zip(FILE_FORMAT_CHOICES, ("CSV", "Parquet", "JSON Lines"), strict=True))

BRAND_SECTION = "Brand (empty: the deployment's brand list)"
FILTERS_SECTION = "Discovery filters"
RUN_SECTION = "Run options"


def _limits(name: str, kind: str) -> dict[str, object]:
    """The schema keywords of ``name``'s size limit, from :mod:`partnership_ads.run_plan`."""
    if kind == "string" and name in MAX_LENGTHS:
        return {"maxLength": MAX_LENGTHS[name]}
    if kind == "array" and name in MAX_ITEMS:
        return {"maxItems": MAX_ITEMS[name]}
    return {}


def _items(**schema: object) -> dict[str, object]:
    """An array's ``items`` schema: a string of at most ``MAX_ITEM_LENGTH`` characters, plus ``schema``."""
    return {"type": "string", "maxLength": MAX_ITEM_LENGTH, **schema}


def _optional(name: str, kind: str, description: str, section: str, **schema: object) -> Param:
    """An optional parameter (``None`` when left empty) of JSON type ``kind``, titled with its own name."""
    return Param(
        None,
        type=["null", kind],
        title=name,
        description=description,
        section=section,
        **_limits(name, kind),
        **schema,
    )


def _enum_array(name: str) -> Param:
    values = list(ENUM_DISPLAY[name])
    return _optional(
        name,
        "array",
        _ENUM_HELP[name],
        FILTERS_SECTION,
        items=_items(enum=values),
        examples=values,
        values_display=ENUM_DISPLAY[name],
    )


def _id_array(name: str, what: str) -> Param:
    return _optional(
        name,
        "array",
        f"Only content from these {what} (numeric ids, at most {MAX_ITEMS[name]}).",
        FILTERS_SECTION,
        items=_items(pattern="^[0-9]+$"),
    )


def _numeric_id(name: str, description: str) -> Param:
    return _optional(name, "string", description, BRAND_SECTION, pattern="^[0-9]+$")


def _sinks(description: str, choices: tuple[str, ...] = SINK_CHOICES, **display: object) -> Param:
    return Param(
        None,
        type=["null", "array"],
        items=_items(enum=list(choices)),
        maxItems=MAX_ITEMS["sinks"],
        examples=list(choices),
        title="sinks",
        description=description,
        **display,
    )


#: The trigger form of ``partnership_ad_codes``: Brand, Discovery filters, Run options.
PIPELINE_PARAMS: dict[str, Param] = {
    "business_id": _numeric_id(
        "business_id",
        "The brand's Meta Business id. Empty: every brand of the deployment's list (Variable "
        "partnership_ads_brands); with a list, it narrows the run to that listed brand.",
    ),
    "fb_page_id": _numeric_id(
        "fb_page_id", "The brand's Facebook Page id (business_id needs fb_page_id or ig_user_id)."
    ),
    "ig_user_id": _numeric_id("ig_user_id", "The brand's Instagram user id."),
    "meta_conn_id": _optional(
        "meta_conn_id",
        "string",
        "The brand's meta_graph connection. With a brand list: leave empty (the listed brand's is used). "
        f"Without: a meta_graph connection, not a creator's (default {DEFAULT_META_CONN_ID}).",
        BRAND_SECTION,
    ),
    "ad_account_id": _optional(
        "ad_account_id",
        "string",
        "The brand's ad account (act_<digits>) for the meta_ads sink: one creative and one PAUSED ad per "
        "delivered code. With a brand list: leave empty (the listed brand's is used).",
        BRAND_SECTION,
        pattern="^act_[0-9]+$",
    ),
    "adset_id": _numeric_id(
        "adset_id", "The ad set of that ad account the meta_ads sink's paused ads go in (numeric id)."
    ),
    "ad_format": _optional(
        "ad_format",
        "integer",
        "The partnership creative's ad_format for meta_ads: 1 both identities (default), 2 the first "
        "identity only, 3 automatic.",
        BRAND_SECTION,
        minimum=AD_FORMAT_CHOICES[0],
        maximum=AD_FORMAT_CHOICES[-1],
    ),
    **{name: _enum_array(name) for name in ENUM_DISPLAY},
    "country_codes": _optional(
        "country_codes",
        "array",
        "Only creators located in these countries (ISO 3166-1 alpha-2, e.g. US, GB, BR).",
        FILTERS_SECTION,
        items=_items(pattern="^[A-Za-z]{2}$"),
    ),
    "start_date": _optional(
        "start_date",
        "string",
        "Published on or after (YYYY-MM-DD, with end_date). Scheduled runs: no window (lookback_days).",
        FILTERS_SECTION,
        format="date",
    ),
    "end_date": _optional(
        "end_date",
        "string",
        "Published on or before (YYYY-MM-DD; with start_date).",
        FILTERS_SECTION,
        format="date",
    ),
    "search_key": _optional(
        "search_key",
        "string",
        f"Keyword search in captions (at most {MAX_LENGTHS['search_key']} characters).",
        FILTERS_SECTION,
    ),
    "sort_by": _optional(
        "sort_by",
        "string",
        "Result order.",
        FILTERS_SECTION,
        enum=[None, *SORT_BY_DISPLAY],
        values_display=SORT_BY_DISPLAY,
    ),
    "is_recommended": _optional(
        "is_recommended", "boolean", "Only content Meta recommends for partnership ads.", FILTERS_SECTION
    ),
    "ad_partner_ig_user_ids": _id_array("ad_partner_ig_user_ids", "creator Instagram accounts"),
    "ad_partner_page_ids": _id_array("ad_partner_page_ids", "creator Facebook Pages"),
    "dry_run": Param(
        False,
        type="boolean",
        title="dry_run",
        description="Fetch and plan only: issue nothing, deliver nothing.",
        section=RUN_SECTION,
    ),
    "recheck_pending": Param(
        False,
        type="boolean",
        title="recheck_pending",
        description="Also look up every item the ledger holds as pending for the brand (awaiting its "
        "creator, failed, over the cap, claimed elsewhere) that these filters miss, and decide it again, as "
        "every scheduled run does.",
        section=RUN_SECTION,
    ),
    "sinks": _sinks(
        "Deliver only to these sinks. Empty: every configured sink but meta_ads, which runs only when named "
        "(it creates one creative and one PAUSED ad per code in the brand's ad set).",
        values_display=SINK_DISPLAY,
        section=RUN_SECTION,
    ),
    "max_codes": _optional(
        "max_codes",
        "integer",
        "Cap on new codes issued per brand in this run (empty: no cap).",
        RUN_SECTION,
        minimum=0,
        maximum=MAX_CODES_LIMIT,
    ),
    "creators_per_shard": Param(
        DEFAULT_CREATORS_PER_SHARD,
        type="integer",
        minimum=1,
        maximum=MAX_CREATORS_PER_SHARD,
        title="creators_per_shard",
        description="Most creators one issue task serves: the issue stage is mapped over (brand, shard of "
        "creators), each shard reading only its creators' connections. A creator's items are never split.",
        section=RUN_SECTION,
    ),
    "token_expiry_warning_days": Param(
        DEFAULT_TOKEN_EXPIRY_WARNING_DAYS,
        type="integer",
        minimum=0,
        maximum=MAX_TOKEN_EXPIRY_WARNING_DAYS,
        title="token_expiry_warning_days",
        description="A creator's (or the brand's) token expiring within this many days is reported as "
        "expiring in the run summary's Tokens section and the alert (still used until it expires).",
        section=RUN_SECTION,
    ),
    "output_uri": _optional(
        "output_uri",
        "string",
        "Files sink folder, inside the deployment's output root (Variable "
        f"{OUTPUT_ROOT_VARIABLE}, default the configured output folder); a relative path is taken below "
        "it. Empty: the configured folder (Variable partnership_ads_output_uri).",
        RUN_SECTION,
    ),
    "file_format": Param(
        FILE_FORMAT_CHOICES[0],
        type="string",
        maxLength=MAX_LENGTHS["file_format"],
        enum=list(FILE_FORMAT_CHOICES),
        values_display=FILE_FORMAT_DISPLAY,
        title="file_format",
        description="Format of the files sink.",
        section=RUN_SECTION,
    ),
}

assert set(FILTER_PARAM_NAMES) <= set(PIPELINE_PARAMS), "the form must expose every discovery filter"

#: The trigger form of ``revoke_partnership_ad_codes``.
REVOKE_PARAMS: dict[str, Param] = {
    "media_ids": Param(
        [],
        type="array",
        items=_items(pattern="^[0-9]+$"),
        minItems=1,
        maxItems=MAX_ITEMS["media_ids"],
        title="media_ids",
        description="Instagram media ids (content_id) whose ad code is deleted; each must be a code the "
        f"pipeline obtained for a brand of this deployment (at most {MAX_ITEMS['media_ids']}).",
    ),
    "meta_conn_id": Param(
        None,
        type=["null", "string"],
        maxLength=MAX_LENGTHS["meta_conn_id"],
        title="meta_conn_id",
        description="Connection used when the ledger names no creator with a connection (the brand's own "
        "media). With a brand list: leave empty (the media's listed brand's is used). Without: a "
        f"meta_graph connection, not a creator's (default {DEFAULT_META_CONN_ID}).",
    ),
    # No meta_ads: a revocation never touches an ad; the next push naming meta_ads reports it stale.
    "sinks": _sinks("Tell only these sinks. Empty: every configured sink.", DEFAULT_SINK_NAMES),
}
