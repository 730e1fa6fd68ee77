"""The Marketing API objects of a partnership ad: ad accounts, ad sets, ad creatives and ads.

:class:`AdObjects` is exposed by the hook as ``hook.ads``; the hook's ``create_ad_creative``, ``create_ad``,
``find_ad_creative_by_name`` and ``find_ad_by_name`` delegate to it. Every call is the brand's (its token
needs ``ads_management`` to write, ``ads_read`` to read) and goes through the hook's one request path
(credentials, ``appsecret_proof``, retries, throttling, pacing).

A creative or ad is found again by its **deterministic name** (:func:`partnership_ad_name`: the content id and
a fingerprint of the ad code, never the code itself). Creating one first looks the name up and adopts what it
finds; a POST whose outcome is unknown (timeout, dropped connection, 5xx, a 2xx body without ``id``) is looked
up by name before anything else and never blindly repeated: one creative and one ad per code, whatever fails.

The ad code is a credential of sorts (whoever holds it can run ads with the creator's post): it is never put
in a name, a log line or an exception text, and it is removed from any error text the hook quotes. It is not
registered with Airflow's secret masker: its cost grows quadratically with the secrets a process holds (see
docs/pipeline.md), and a sink creating thousands of creatives would register thousands of codes.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from partnership_ads.graph.errors import (
    AdObjectOutcomeUnknownError,
    GraphAPIError,
    GraphBadResponseError,
    error_label,
    restated_as_outcome_unknown,
    scrub,
)
from partnership_ads.graph.fields import render_fields
from partnership_ads.graph.params import validate_business_id

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from partnership_ads.hooks import PartnershipAdsHook

AD_CREATIVES_EDGE = "adcreatives"
ADS_EDGE = "ads"
ADSETS_EDGE = "adsets"
OWNED_AD_ACCOUNTS_EDGE = "owned_ad_accounts"
AD_FORMATS = {1: "both identities", 2: "the first identity only", 3: "automatic"}
#: Rows per page of an edge (the Marketing API takes more, but a name lookup expects one row).
EDGE_PAGE_SIZE = 50
MAX_NAME_CHARS = 400
FINGERPRINT_CHARS = 10

DEFAULT_ACCOUNT_FIELDS = "id,account_id,name,account_status,currency,business{id}"
DEFAULT_ADSET_FIELDS = "id,name,campaign_id,status,effective_status"
DEFAULT_CREATIVE_FIELDS = "id,name,object_id,source_instagram_media_id"
DEFAULT_AD_FIELDS = "id,name,adset_id,campaign_id,creative{id},status,effective_status"


# ------------------------------------------------------------------ names and arguments


def ad_code_fingerprint(ad_code: str) -> str:
    """The first 10 hex digits of the code's SHA-256: tells codes apart without revealing one."""
    return hashlib.sha256(_ad_code(ad_code).encode()).hexdigest()[:FINGERPRINT_CHARS]


def partnership_ad_name(content_id: str, ad_code: str) -> str:
    """The deterministic name of the creative and of the ad made from one code: ``pa <content_id> <fp>``.

    Deterministic, so that a creative or ad whose POST had no clear answer is found again by name; the
    fingerprint (:func:`ad_code_fingerprint`) differs when the creator replaces the code.
    """
    text = (
        str(content_id).strip()
        if isinstance(content_id, (str, int)) and not isinstance(content_id, bool)
        else ""
    )
    if not text or any(c.isspace() for c in text):
        raise ValueError(f"content_id: {content_id!r} is not a content id")
    return f"pa {text} {ad_code_fingerprint(ad_code)}"


def ad_account_ref(ad_account_id: Any) -> str:
    """``act_<digits>`` from ``act_<digits>`` or the bare digits.

    :raises ValueError: for anything else.
    """
    text = str(ad_account_id).strip() if isinstance(ad_account_id, (str, int)) else ""
    if isinstance(ad_account_id, bool) or not text.removeprefix("act_").isdigit():
        raise ValueError(f"ad_account_id: {ad_account_id!r} is not an ad account id (act_<digits> or digits)")
    return f"act_{text.removeprefix('act_')}"


def object_id(value: Any, name: str) -> str:
    """A Graph object id as digits (a page, an Instagram account, an ad set, a creative).

    :raises ValueError: naming the parameter.
    """
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not text.isdigit():
        raise ValueError(f"{name}: {value!r} is not a Graph object id (digits)")
    return text


def object_name(name: Any) -> str:
    """A creative or ad name: a non-empty string of at most 400 characters.

    :raises ValueError: naming the parameter.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name: must be a non-empty string (use partnership_ad_name)")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"name: at most {MAX_NAME_CHARS} characters, got {len(name)}")
    return name


def _ad_code(ad_code: Any) -> str:
    # Never quote the value: it is a credential of sorts.
    if not isinstance(ad_code, str) or not ad_code.strip() or any(c.isspace() for c in ad_code):
        raise ValueError("ad_code: must be a non-empty string without spaces (the partnership ad code)")
    return ad_code


def _ad_format(ad_format: Any) -> int:
    if isinstance(ad_format, bool) or ad_format not in AD_FORMATS:
        raise ValueError(
            "ad_format: must be 1 (both identities), 2 (first identity only) or 3 (automatic), "
            f"got {ad_format!r}"
        )
    return int(ad_format)


def expect_id(body: dict[str, Any]) -> str | None:
    """What a POST answer lacks (``None`` when it carries a non-empty ``id`` string)."""
    value = body.get("id")
    return None if isinstance(value, str) and value else "a JSON object with a non-empty 'id' string"


def expect_object(body: dict[str, Any]) -> str | None:
    """What a node answer lacks (``None`` when it carries its ``id``)."""
    return None if isinstance(body.get("id"), str) else "a JSON object with an 'id' string"


def expect_edge_page(body: dict[str, Any]) -> str | None:
    """What an edge answer lacks (``None`` when ``data`` is a list of objects and ``paging`` an object)."""
    data = body.get("data")
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        return "a JSON object with a 'data' list of objects"
    if "paging" in body and not isinstance(body["paging"], dict):
        return "'paging' as an object"
    return None


def without_ad_code(error: GraphAPIError, ad_code: str) -> GraphAPIError:
    """``error`` with the ad code removed from every text it carries (a proxy may echo the request)."""
    error.message = scrub(error.message, (ad_code,))
    if error.error_user_msg:
        error.error_user_msg = scrub(error.error_user_msg, (ad_code,))
    if error.error_user_title:
        error.error_user_title = scrub(error.error_user_title, (ad_code,))
    error.args = (error._describe(),)
    return error


def outcome_unknown(error: GraphAPIError, what: str, why: str) -> AdObjectOutcomeUnknownError:
    """``error`` restated as an :class:`AdObjectOutcomeUnknownError`, saying why it could not be settled."""
    return restated_as_outcome_unknown(
        error, AdObjectOutcomeUnknownError, f"the POST may have created the {what} ({error.message}); {why}"
    )


# ------------------------------------------------------------------ the endpoint family


class AdObjects:
    """Ad accounts, ad sets, creatives and ads of one hook (the brand's connection)."""

    def __init__(self, hook: PartnershipAdsHook) -> None:
        self._hook = hook

    # reads ------------------------------------------------------------------------------------

    def get_ad_account(self, ad_account_id: str, *, fields: Any = DEFAULT_ACCOUNT_FIELDS) -> dict[str, Any]:
        """``GET /act_{id}``: the account, to check that the token can use it before creating anything.

        :raises ValueError: when ``ad_account_id`` is not ``act_<digits>`` or digits.
        :raises GraphAPIError: ``GraphPermissionError`` when the token lacks ``ads_read`` or access to the
            account, ``GraphInvalidParameterError`` (subcode 33) when the account does not exist.
        """
        account = ad_account_ref(ad_account_id)
        answer = self._hook.request(
            "GET", account, params={"fields": render_fields(fields)}, expect=expect_object
        )
        return answer.body

    def list_ad_accounts(
        self, business_id: str, *, fields: Any = DEFAULT_ACCOUNT_FIELDS
    ) -> list[dict[str, Any]]:
        """``GET /{business_id}/owned_ad_accounts``, every page."""
        business = validate_business_id(business_id)
        return list(
            self._iter_edge(f"{business}/{OWNED_AD_ACCOUNTS_EDGE}", {"fields": render_fields(fields)})
        )

    def list_adsets(
        self, ad_account_id: str, *, fields: Any = DEFAULT_ADSET_FIELDS, name: str | None = None
    ) -> list[dict[str, Any]]:
        """``GET /act_{id}/adsets``, every page (only the ad set called ``name`` when given)."""
        params = {"fields": render_fields(fields)}
        if name is not None:
            params["filtering"] = _name_filter(object_name(name))
        return list(self._iter_edge(f"{ad_account_ref(ad_account_id)}/{ADSETS_EDGE}", params))

    def find_ad_creative_by_name(
        self, ad_account_id: str, name: str, *, fields: Any = DEFAULT_CREATIVE_FIELDS
    ) -> dict[str, Any] | None:
        """The account's creative called ``name`` (``filtering`` on name, every page), or ``None``."""
        return self._find(ad_account_ref(ad_account_id), AD_CREATIVES_EDGE, object_name(name), fields)

    def find_ad_by_name(
        self, ad_account_id: str, name: str, *, fields: Any = DEFAULT_AD_FIELDS
    ) -> dict[str, Any] | None:
        """The account's ad called ``name`` (``filtering`` on name, every page), or ``None``."""
        return self._find(ad_account_ref(ad_account_id), ADS_EDGE, object_name(name), fields)

    # writes -----------------------------------------------------------------------------------

    def create_ad_creative(
        self,
        ad_account_id: str,
        *,
        name: str,
        page_id: str,
        ad_code: str,
        ad_format: int,
        ig_sponsor_id: str | None = None,
        fb_sponsor_page_id: str | None = None,
        lookup_first: bool = True,
    ) -> str:
        """``POST /act_{id}/adcreatives``: the partnership ad creative of an ad code; returns its id.

        :param name: the creative's name, unique per code (:func:`partnership_ad_name`); it must not contain
            the code.
        :param page_id: the brand's Facebook Page (``object_id``).
        :param ad_format: 1 both identities, 2 the first only, 3 automatic.
        :param ig_sponsor_id: the brand's Instagram account (``instagram_branded_content.sponsor_id``).
        :param fb_sponsor_page_id: the brand's Page (``facebook_branded_content.sponsor_page_id``).
        :param lookup_first: look the name up before the first POST and adopt what exists (one GET; this is
            what makes a task retry after a crash safe).
        :raises ValueError: for an invalid argument (the code is never quoted).
        :raises AdObjectOutcomeUnknownError: retryable; the POST may have created it and the lookup failed.
        :raises GraphAPIError: any other failure, e.g. ``GraphInvalidParameterError`` for a code that is
            unknown, rotated or deleted, or of a post the brand is not tagged on.
        """
        account = ad_account_ref(ad_account_id)
        code = _ad_code(ad_code)
        name = object_name(name)
        if code in name:
            raise ValueError("name: must not contain the ad code (use partnership_ad_name)")
        form = {
            "name": name,
            "object_id": object_id(page_id, "page_id"),
            "branded_content": json.dumps(
                {"instagram_boost_post_access_token": code, "ad_format": _ad_format(ad_format)}
            ),
        }
        if ig_sponsor_id is not None:
            form["instagram_branded_content"] = json.dumps(
                {"sponsor_id": object_id(ig_sponsor_id, "ig_sponsor_id")}
            )
        if fb_sponsor_page_id is not None:
            form["facebook_branded_content"] = json.dumps(
                {"sponsor_page_id": object_id(fb_sponsor_page_id, "fb_sponsor_page_id")}
            )
        try:
            return self._create(
                account,
                AD_CREATIVES_EDGE,
                "creative",
                name,
                form,
                self.find_ad_creative_by_name,
                lookup_first,
            )
        except GraphAPIError as error:
            raise without_ad_code(error, code) from None

    def create_ad(
        self,
        ad_account_id: str,
        *,
        name: str,
        adset_id: str,
        creative_id: str,
        status: str = "PAUSED",
        allow_active: bool = False,
        lookup_first: bool = True,
    ) -> str:
        """``POST /act_{id}/ads``: an ad of a creative in an ad set; returns its id.

        Ads are created ``PAUSED``: a person reviews and starts them. ``status="ACTIVE"`` is refused unless
        ``allow_active=True`` (the pipeline never passes it).

        :raises ValueError: for an invalid argument or a status other than ``PAUSED`` (``ACTIVE`` with
            ``allow_active``).
        :raises AdObjectOutcomeUnknownError: retryable; the POST may have created it and the lookup failed.
        :raises GraphAPIError: any other failure.
        """
        account = ad_account_ref(ad_account_id)
        allowed = ("PAUSED", "ACTIVE") if allow_active else ("PAUSED",)
        if status not in allowed:
            raise ValueError(
                f"status: must be {' or '.join(allowed)}, got {status!r}"
                + ("" if allow_active else " (ads are created paused; ACTIVE needs allow_active=True)")
            )
        name = object_name(name)
        form = {
            "name": name,
            "adset_id": object_id(adset_id, "adset_id"),
            "creative": json.dumps({"creative_id": object_id(creative_id, "creative_id")}),
            "status": status,
        }
        return self._create(account, ADS_EDGE, "ad", name, form, self.find_ad_by_name, lookup_first)

    # internals --------------------------------------------------------------------------------

    def _create(
        self,
        account: str,
        edge: str,
        what: str,
        name: str,
        form: dict[str, str],
        find: Callable[[str, str], dict[str, Any] | None],
        lookup_first: bool,
    ) -> str:
        hook, log = self._hook, self._hook.log
        path = f"{account}/{edge}"
        if lookup_first:
            existing = find(account, name)
            if existing is not None:
                log.info(
                    "The %s %r already exists in %s (id %s); adopting it", what, name, account, existing["id"]
                )
                return str(existing["id"])
        max_retries = hook.settings.retry.max_retries
        repost = 0
        while True:
            try:
                answer = hook.request("POST", path, params=form, expect=expect_id)
            except GraphAPIError as error:
                if not error.outcome_unknown:
                    raise
                try:
                    found = find(account, name)
                except GraphAPIError as lookup_error:
                    raise outcome_unknown(
                        error, what, f"the lookup by name failed too ({error_label(lookup_error)})"
                    ) from None
                if found is not None:
                    log.warning(
                        "POST %s: outcome unknown (%s); the %s %r exists (id %s), adopting it",
                        path,
                        error_label(error),
                        what,
                        name,
                        found["id"],
                    )
                    return str(found["id"])
                if repost >= max_retries:
                    log.warning(
                        "Giving up on POST %s after %d repost(s): %s", path, repost, error_label(error)
                    )
                    raise outcome_unknown(error, what, f"still no answer after {repost} repost(s)") from None
                wait = hook.pause_for_backoff(repost)
                repost += 1
                log.warning(
                    "Retry %d/%d of POST %s after %s: no %s named %r exists, posting again after %.1fs",
                    repost,
                    max_retries,
                    path,
                    error_label(error),
                    what,
                    name,
                    wait,
                )
                continue
            created = str(answer.body["id"])
            log.info("Created the %s %r in %s: id %s", what, name, account, created)
            return created

    def _find(self, account: str, edge: str, name: str, fields: Any) -> dict[str, Any] | None:
        wanted = render_fields(fields)
        if "name" not in wanted.split(","):
            wanted = f"{wanted},name"
        params = {"fields": wanted, "filtering": _name_filter(name)}
        matches = [row for row in self._iter_edge(f"{account}/{edge}", params) if row.get("name") == name]
        if not matches:
            return None
        if len(matches) > 1:
            self._hook.log.warning(
                "%d objects named %r in %s/%s; using the first (id %s)",
                len(matches),
                name,
                account,
                edge,
                matches[0].get("id"),
            )
        if not isinstance(matches[0].get("id"), str):
            raise GraphBadResponseError(
                f"a row of {account}/{edge} without an 'id' string", method="GET", path=f"{account}/{edge}"
            )
        return matches[0]

    def _iter_edge(self, path: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Every row of an edge: follows ``paging.cursors.after`` while ``paging.next`` says more follow."""
        query = {**params, "limit": str(EDGE_PAGE_SIZE)}
        seen: set[str] = set()
        while True:
            body = self._hook.request("GET", path, params=query, expect=expect_edge_page).body
            rows = body["data"]
            yield from rows
            paging = body.get("paging") or {}
            if not rows or not paging.get("next"):
                return
            after = (paging.get("cursors") or {}).get("after")
            if not isinstance(after, str) or not after or after in seen:
                raise GraphBadResponseError(
                    "paging.next without a new paging.cursors.after (a repeating or missing cursor)",
                    method="GET",
                    path=path,
                    is_transient=True,
                )
            seen.add(after)
            query["after"] = after


def _name_filter(name: str) -> str:
    return json.dumps([{"field": "name", "operator": "EQUAL", "value": name}], ensure_ascii=False)
