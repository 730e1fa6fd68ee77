"""The "Partnership ad codes" page: a read-only FastAPI app the api-server mounts under ``/partnership-ads``.

Airflow mounts a plugin's FastAPI app outside its own API's authentication, so every route here depends on
:func:`require_reader`: the request must carry the JWT Airflow's auth manager issued (the UI's ``_token``
cookie, or an ``Authorization: Bearer`` header), checked by the auth manager itself, and the user must be
allowed to read the ``partnership_ad_codes`` DAG. Otherwise: 401 (no token, expired) or 403 (invalid token,
not allowed). There is no write route, and the OpenAPI/docs routes are off.

The ledger (connection ``partnership_ads_db``) is read only through
:class:`~partnership_ads.ledger.reports.LedgerReports`. Pages are Jinja2 templates with autoescape on; the
chart is server-side SVG (:mod:`partnership_ads.ui.chart`); no asset comes from outside the app.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID
from partnership_ads.ledger import CODE_LISTING_COLUMNS, CodeSearch, Ledger
from partnership_ads.ui.chart import daily_codes_svg

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

#: The DAG whose read permission opens the page (the ledger is that DAG's record).
DAG_ID = "partnership_ad_codes"
PAGE_SIZE = 50
CHART_DAYS = 90

_templates = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


async def require_reader(request: Request) -> Any:
    """The signed-in Airflow user, or 401/403: the auth manager validates the token (signature, expiry,
    revocation) exactly as for Airflow's own API."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
    from airflow.api_fastapi.core_api.security import get_user

    # get_user reads "Authorization: Bearer" first, else the UI's _token cookie; 401 when neither is present
    # or the token expired, 403 when it is invalid or revoked.
    credentials = None
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token.strip())
    user = await get_user(request, _oauth_token=None, bearer_credentials=credentials)
    if not get_auth_manager().is_authorized_dag(method="GET", user=user, details=DagDetails(id=DAG_ID)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Reading the partnership_ad_codes DAG is not allowed")
    return user


class LedgerSource:
    """Opens the ledger on first use and keeps it (a Ledger is thread-safe); a failed open is retried on the
    next request, never cached."""

    def __init__(self, factory: Callable[[], Ledger]) -> None:
        self._factory = factory
        self._ledger: Ledger | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Ledger:
        with self._lock:
            if self._ledger is None:
                try:
                    self._ledger = self._factory()
                except Exception as exc:
                    # The exception's text may name the connection's URI: log and show its type only.
                    log.warning("Partnership ads page: the ledger cannot be opened (%s)", type(exc).__name__)
                    raise HTTPException(
                        status.HTTP_503_SERVICE_UNAVAILABLE,
                        f"The ledger (connection {DEFAULT_LEDGER_CONN_ID}) cannot be opened",
                    ) from None
            return self._ledger


def _default_ledger() -> Ledger:
    return Ledger.from_conn_id(DEFAULT_LEDGER_CONN_ID)


def _read(call: Callable[[], Any]) -> Any:
    """Run a ledger read; a database error becomes a 503 without its text (it may hold a DSN)."""
    try:
        return call()
    except HTTPException:
        raise
    except Exception as exc:
        log.warning("Partnership ads page: a ledger read failed (%s)", type(exc).__name__)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "The ledger could not be read (no schema yet, or unreachable)",
        ) from None


def _render(request: Request, template: str, **values: Any) -> HTMLResponse:
    base = request.scope.get("root_path", "").rstrip("/")
    return HTMLResponse(_templates.get_template(template).render(base=base, **values))


def open_ledger(request: Request) -> Ledger:
    """The app's ledger (see :class:`LedgerSource`)."""
    source: LedgerSource = request.app.state.ledger_source
    return source()


def code_search(
    content_id: Annotated[str, Query(max_length=200)] = "",
    creator_id: Annotated[str, Query(max_length=200)] = "",
    ad_code: Annotated[str, Query(max_length=500)] = "",
    business_id: Annotated[str, Query(max_length=200)] = "",
) -> CodeSearch:
    """The codes table's filters from the query string."""
    return CodeSearch(
        content_id=content_id.strip(),
        creator_id=creator_id.strip(),
        ad_code=ad_code.strip(),
        business_id=business_id.strip(),
    )


LedgerDep = Annotated[Ledger, Depends(open_ledger)]
SearchDep = Annotated[CodeSearch, Depends(code_search)]
PageDep = Annotated[int, Query(ge=1, le=1_000_000)]


def overview(request: Request, ledger: LedgerDep) -> HTMLResponse:
    """Per brand: codes by outcome, delivered and backlog per sink, items awaiting authorisation, its tokens
    needing action; the chart; token health (every recorded check); the last runs with their figures."""

    def gather() -> dict[str, Any]:
        outcomes, delivered = ledger.outcomes_by_brand(), ledger.delivered_by_brand()
        backlog, awaiting = ledger.outbox_backlog(), ledger.awaiting_authorisation()
        business_ids = ledger.brands()
        tokens = ledger.token_health_overview(business_ids)
        brands = [
            {
                "business_id": business_id,
                "outcomes": outcomes.get(business_id, {}),
                "delivered": delivered.get(business_id, {}),
                "backlog": backlog.get(business_id, {}),
                "awaiting": awaiting.get(business_id, []),
                "tokens_needing_action": [t for t in tokens if t["action"] and business_id in t["brands"]],
            }
            for business_id in business_ids
        ]
        return {
            "brands": brands,
            "tokens": tokens,
            "runs": ledger.recent_runs(),
            "days": ledger.daily_codes(days=CHART_DAYS),
            "now": ledger.report_time(),
        }

    data = _read(gather)
    svg = daily_codes_svg(data.pop("days"), title=f"Codes issued and harvested per day ({CHART_DAYS} days)")
    # The SVG escapes every text it holds (partnership_ads.ui.chart), so it is inserted as markup.
    return _render(request, "overview.html", chart_svg=Markup(svg), **data)  # noqa: S704


def chart(ledger: LedgerDep) -> Response:
    """The chart alone, as an SVG image."""
    days = _read(lambda: ledger.daily_codes(days=CHART_DAYS))
    return Response(daily_codes_svg(days), media_type="image/svg+xml")


def codes(request: Request, ledger: LedgerDep, search: SearchDep, page: PageDep = 1) -> HTMLResponse:
    """One page of the codes table, filtered by content id, creator id, code (substrings)."""
    total, rows = _read(lambda: ledger.search_codes(search, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE))
    return _render(
        request,
        "codes.html",
        search=search,
        total=total,
        rows=rows,
        columns=CODE_LISTING_COLUMNS,
        page=page,
        pages=max(1, math.ceil(total / PAGE_SIZE)),
        query=urlencode({k: v for k, v in vars(search).items() if v}),
        now=_read(ledger.report_time),
    )


def codes_csv(ledger: LedgerDep, search: SearchDep) -> StreamingResponse:
    """Every code matching the filters, as CSV (columns :data:`CODE_LISTING_COLUMNS`)."""
    rows = _read(lambda: list(ledger.iter_codes(search)))

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CODE_LISTING_COLUMNS)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
        yield buffer.getvalue()

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="partnership_ad_codes.csv"'},
    )


def item(request: Request, ledger: LedgerDep, content_id: str) -> HTMLResponse:
    """An item's history: claims, issuance or harvest, decisions, deliveries, revocation."""
    history = _read(lambda: ledger.item_history(content_id))
    if history is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "The ledger has never seen this item")
    return _render(request, "item.html", item=history, now=_read(ledger.report_time))


def create_app(ledger_factory: Callable[[], Ledger] | None = None) -> FastAPI:
    """The page's app; ``ledger_factory`` opens the ledger (default: connection ``partnership_ads_db``).

    Every route is a GET and depends on :func:`require_reader`.
    """
    app = FastAPI(
        title="Partnership ad codes",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(require_reader)],
    )
    app.state.ledger_source = LedgerSource(ledger_factory or _default_ledger)
    app.get("/", response_class=HTMLResponse)(overview)
    app.get("/chart.svg")(chart)
    app.get("/codes", response_class=HTMLResponse)(codes)
    app.get("/codes.csv")(codes_csv)
    app.get("/items/{content_id}", response_class=HTMLResponse)(item)
    return app


#: The app the plugin registers (the ledger is opened on the first request, not at import).
app = create_app()
