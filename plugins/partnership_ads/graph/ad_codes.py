"""The ad-code edge, ``POST|DELETE /{ig_media_id}/partnership_ad_code``, and its outcome-unknown rule.

:class:`AdCodes` is exposed by the hook as ``hook.ad_codes``; the hook's ``create_partnership_ad_code`` and
``delete_partnership_ad_code`` delegate to it. Both are called with the media owner's connection.

A POST that may have reached Meta without a clear answer is never repeated blindly: with a
:class:`~partnership_ads.graph.discovery.DiscoveryScope` (the brand's access) the media is looked up first
and an existing code is adopted; only when the lookup shows none is the POST sent again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from partnership_ads.graph.errors import (
    AdCodeOutcomeUnknownError,
    GraphAPIError,
    error_label,
    restated_as_outcome_unknown,
)

if TYPE_CHECKING:
    from partnership_ads.graph.discovery import DiscoveryScope
    from partnership_ads.hooks import PartnershipAdsHook

AD_CODE_EDGE = "partnership_ad_code"


def expect_ad_code(body: dict[str, Any]) -> str | None:
    """What a POST answer lacks (``None`` when it carries a non-empty ``ad_code``)."""
    code = body.get("ad_code")
    return None if isinstance(code, str) and code else "a JSON object with a non-empty 'ad_code' string"


def expect_success(body: dict[str, Any]) -> str | None:
    """What a DELETE answer lacks (``None`` when it carries a boolean ``success``)."""
    return None if isinstance(body.get("success"), bool) else "a JSON object with a boolean 'success'"


def media_id(ig_media_id: Any) -> str:
    """The Instagram media id as digits.

    :raises ValueError: for anything else, a Facebook post id (``123_456``) included.
    """
    text = (
        str(ig_media_id).strip()
        if isinstance(ig_media_id, (str, int)) and not isinstance(ig_media_id, bool)
        else ""
    )
    if not text.isdigit():
        raise ValueError(
            f"ig_media_id: {ig_media_id!r} is not an Instagram media id "
            "(digits only; Facebook posts get no ad code)"
        )
    return text


def outcome_unknown(error: GraphAPIError, why: str) -> AdCodeOutcomeUnknownError:
    """``error`` restated as an :class:`AdCodeOutcomeUnknownError`, saying why it could not be settled."""
    return restated_as_outcome_unknown(
        error, AdCodeOutcomeUnknownError, f"the POST may have created an ad code ({error.message}); {why}"
    )


class AdCodes:
    """The ad-code edge of one hook (the media owner's connection)."""

    def __init__(self, hook: PartnershipAdsHook) -> None:
        self._hook = hook

    def create(self, ig_media_id: str, *, discovery: DiscoveryScope | None = None) -> str:
        """Create the partnership ad code of an Instagram media.

        A POST that may have reached the server without a clear answer (timeout, dropped connection, 5xx, a
        2xx body that is not the expected JSON) is never repeated blindly: with ``discovery`` (the brand's
        access) the media is looked up first and an existing code is returned; only when the lookup shows no
        code is the POST sent again (within ``max_retries``). Without ``discovery`` it raises
        :class:`AdCodeOutcomeUnknownError` instead of posting again. Rejected answers (throttling, Meta's
        transient errors at 4xx, connection refused) did not create anything and are retried as usual.

        :returns: the ad code.
        :raises ValueError: when ``ig_media_id`` is not a numeric Instagram media id.
        :raises AdCodeOutcomeUnknownError: retryable; look the media up before posting again.
        :raises GraphAPIError: any other failure.
        """
        hook, log = self._hook, self._hook.log
        media = media_id(ig_media_id)
        path = f"{media}/{AD_CODE_EDGE}"
        max_retries = hook.settings.retry.max_retries
        repost = 0
        while True:
            try:
                answer = hook.request("POST", path, expect=expect_ad_code)
            except GraphAPIError as error:
                if not error.outcome_unknown:
                    raise
                if discovery is None:
                    log.warning(
                        "POST %s: outcome unknown (%s) and no discovery scope to check; not posting again",
                        path,
                        error_label(error),
                    )
                    raise outcome_unknown(
                        error, "no discovery scope was given to look the media up"
                    ) from None
                try:
                    existing = discovery.find_ad_code(media)
                except GraphAPIError as lookup_error:
                    raise outcome_unknown(
                        error, f"the lookup through discovery failed too ({error_label(lookup_error)})"
                    ) from None
                if existing is not None:
                    log.warning(
                        "POST %s: outcome unknown (%s); "
                        "discovery shows the media's existing ad code, adopting it",
                        path,
                        error_label(error),
                    )
                    return existing
                if repost >= max_retries:
                    log.warning(
                        "Giving up on POST %s after %d repost(s): %s", path, repost, error_label(error)
                    )
                    raise
                wait = hook.pause_for_backoff(repost)
                repost += 1
                log.warning(
                    "Retry %d/%d of POST %s after %s: discovery shows no ad code, posting again after %.1fs",
                    repost,
                    max_retries,
                    path,
                    error_label(error),
                    wait,
                )
                continue
            code: str = answer.body["ad_code"]
            log.info("Created the partnership ad code of media %s", media)
            return code

    def delete(self, ig_media_id: str) -> bool:
        """Delete the partnership ad code of an Instagram media; returns Graph's ``success``.

        DELETE is idempotent, so it is retried like a read.

        :raises ValueError: when ``ig_media_id`` is not a numeric Instagram media id.
        :raises GraphAPIError: when the call fails (after retries where they apply).
        """
        media = media_id(ig_media_id)
        answer = self._hook.request("DELETE", f"{media}/{AD_CODE_EDGE}", expect=expect_success)
        success = bool(answer.body["success"])
        self._hook.log.info("Deleted the partnership ad code of media %s: success=%s", media, success)
        return success
