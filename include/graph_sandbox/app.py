"""The HTTP layer: a FastAPI app serving the emulated Graph endpoints and the `/__sandbox__/` control API,
plus the uvicorn protocol that lets a fault drop a connection for real."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from include.graph_sandbox import ads, errors, graph
from include.graph_sandbox.config import ConfigError, validate_config
from include.graph_sandbox.errors import GraphError
from include.graph_sandbox.state import SandboxState

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from include.graph_sandbox.state import Fault
    from include.graph_sandbox.world import World

log = logging.getLogger(__name__)

API_VERSION = "v25.0"
CONTROL = "/__sandbox__"
_DISCOVERY_EDGE = "partnership-ads-advertisable-content"
_AD_CODE_EDGE = "partnership_ad_code"
_OWNED_AD_ACCOUNTS = "owned_ad_accounts"
_ACCOUNT_READ_EDGES = ("adsets", "adcreatives", "ads")
_ACCOUNT_WRITE_EDGES = ("adcreatives", "ads")
_JSON_TYPE = "application/json; charset=UTF-8"
_HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
    b"<h1>Sorry, something went wrong.</h1><p>We're working on it and we'll get it fixed as soon as we can."
    b"</p></body></html>"
)
_TRANSPORT_KEY = "graph_sandbox.transport"
_GENERATION_KEY = "graph_sandbox.generation"
_NUMERIC_ID = re.compile(r"^\d+(_\d+)?$")
#: Meta's limit of sub-requests in one batch request.
MAX_BATCH = 50


class SandboxProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, exposing the connection's transport so a fault can drop it."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn writes the head and the body of a response separately: without TCP_NODELAY, Nagle's
        # algorithm and the client's delayed ACK add ~40 ms to every keep-alive request.
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[_TRANSPORT_KEY] = self.transport  # type: ignore[literal-required]


def dumps(body: Any) -> bytes:
    """JSON as graph.facebook.com writes it: ASCII with \\u escapes and escaped slashes."""
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()


def _graph_response(body: Any, status: int, headers: dict[str, str]) -> Response:
    base = {"facebook-api-version": API_VERSION, "x-fb-trace-id": errors.fbtrace_id()[1:12], **headers}
    return Response(dumps(body), status_code=status, headers=base, media_type=_JSON_TYPE)


async def _read_params(request: Request) -> dict[str, str]:
    """Query string merged with a urlencoded, multipart (`curl -F`) or JSON body; the query string wins."""
    params: dict[str, str] = {}
    if request.method in ("POST", "DELETE", "PUT"):
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            params.update(
                parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
            )
        elif content_type.startswith("multipart/form-data"):
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        elif content_type.startswith("application/json"):
            try:
                body = json.loads(await request.body() or b"{}")
            except ValueError:
                body = {}
            if isinstance(body, dict):
                params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()})
    params.update(request.query_params.items())
    return params


def create_app(world: World, config: dict[str, Any]) -> FastAPI:
    """Build the sandbox app for a generated world and startup config (see config.DEFAULT_CONFIG)."""
    state = SandboxState(world, dict(config))
    app = FastAPI(title="Graph API sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = state

    # control API ---------------------------------------------------------------------------------
    def control_error(message: str, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": {"message": message}}, status_code=status)

    @app.get(f"{CONTROL}/health")
    async def health() -> dict[str, Any]:
        return {"ok": True, "seed": world.seed, "items": len(world.items)}

    @app.get(f"{CONTROL}/tokens")
    async def list_tokens() -> dict[str, Any]:
        return {"data": [t.public() for t in state.tokens.values()]}

    @app.post(f"{CONTROL}/tokens")
    async def mint_token(request: Request) -> Response:
        try:
            fields = await request.json()
            if not isinstance(fields, dict):
                raise ValueError("body must be a JSON object")
            record = state.mint_token(fields)
        except ValueError as exc:
            return control_error(str(exc))
        return JSONResponse(record.public())

    async def _token_change(record: Any, request: Request) -> Response:
        try:
            fields = await request.json()
            if not isinstance(fields, dict):
                raise ValueError("body must be a JSON object")
            fields = {k: v for k, v in fields.items() if k != "access_token"}
            return JSONResponse(state.change_token(record, fields).public())
        except ValueError as exc:
            return control_error(str(exc))

    @app.patch(f"{CONTROL}/tokens")
    async def change_token_by_value(request: Request) -> Response:
        # The token travels in the JSON body, never in the URL (URLs end up in logs).
        try:
            body = await request.json()
        except ValueError:
            return control_error("body must be a JSON object")
        token = body.get("access_token") if isinstance(body, dict) else None
        record = state.tokens.get(token) if isinstance(token, str) else None
        if record is None:
            return control_error(
                "no such token: give its access_token in the body, or its owner in the path", 404
            )
        return await _token_change(record, request)

    @app.patch(CONTROL + "/tokens/{key}")
    async def change_token(key: str, request: Request) -> Response:
        try:
            record = state.find_token(key)
        except LookupError as exc:
            return control_error(str(exc), 404)
        except ValueError as exc:
            return control_error(str(exc), 409)
        return await _token_change(record, request)

    @app.get(f"{CONTROL}/apps")
    async def list_apps() -> dict[str, Any]:
        return {"data": state.apps()}

    @app.get(f"{CONTROL}/world")
    async def world_summary() -> dict[str, Any]:
        return {
            "seed": world.seed,
            "today": world.today.isoformat(),
            "items": len(world.items),
            "businesses": [
                {
                    "business_id": b.business_id,
                    "name": b.name,
                    "example": b.example,
                    "pairs": [{"fb_page_id": p.fb_page_id, "ig_user_id": p.ig_user_id} for p in b.pairs],
                    "unlinked_page_ids": b.unlinked_page_ids,
                    "ad_accounts": [
                        {
                            "id": account.id,
                            "name": account.name,
                            "adsets": [
                                {
                                    "id": adset.adset_id,
                                    "name": adset.name,
                                    "campaign_id": adset.campaign_id,
                                    "status": adset.status,
                                }
                                for adset in account.adsets
                            ],
                        }
                        for account in (world.ad_accounts[ref] for ref in b.ad_account_ids)
                    ],
                }
                for b in world.businesses.values()
            ],
            "creators": [
                {
                    "display_name": c.display_name,
                    "ig_user_id": c.ig_user_id,
                    "fb_page_id": c.fb_page_id,
                    "country": c.country,
                }
                for c in world.creators
            ],
            "apps": [{"app_id": a.app_id, "name": a.name} for a in world.apps.values()],
            "token_health_examples": {
                "enabled": state.config["token_health_examples"],
                **world.token_health,
            },
        }

    @app.patch(CONTROL + "/items/{content_id}")
    async def change_item(content_id: str, request: Request) -> Response:
        try:
            fields = await request.json()
            if not isinstance(fields, dict):
                raise ValueError("body must be a JSON object")
            return JSONResponse(state.set_eligibility(content_id, fields))
        except LookupError as exc:
            return control_error(str(exc), 404)
        except ValueError as exc:
            return control_error(str(exc))

    @app.get(f"{CONTROL}/ad_codes")
    async def list_ad_codes() -> dict[str, Any]:
        return {"data": [r.public() for r in state.code_records.values()]}

    @app.get(f"{CONTROL}/ad_creatives")
    async def list_ad_creatives() -> dict[str, Any]:
        return {"data": [r.public() for r in state.creatives.values()]}

    @app.get(f"{CONTROL}/ads")
    async def list_ads() -> dict[str, Any]:
        return {"data": [r.public() for r in state.ads.values()]}

    @app.get(f"{CONTROL}/requests")
    async def request_log() -> dict[str, Any]:
        return {"data": list(state.log)}

    @app.delete(f"{CONTROL}/requests")
    async def clear_log() -> dict[str, Any]:
        state.log.clear()
        return {"success": True}

    @app.get(f"{CONTROL}/faults")
    async def list_faults() -> dict[str, Any]:
        return {"data": [f.public() for f in state.faults]}

    @app.post(f"{CONTROL}/faults")
    async def add_fault(request: Request) -> Response:
        try:
            spec = await request.json()
            if not isinstance(spec, dict):
                raise ValueError("body must be a JSON object")
            fault = state.add_fault(spec)
        except ValueError as exc:
            return control_error(str(exc))
        return JSONResponse(fault.public())

    @app.delete(f"{CONTROL}/faults")
    async def clear_faults() -> dict[str, Any]:
        state.faults.clear()
        return {"success": True}

    @app.post(f"{CONTROL}/reset")
    async def reset(request: Request) -> dict[str, Any]:
        body = await request.body()
        options = json.loads(body) if body.strip() else {}
        state.reset(config=bool(isinstance(options, dict) and options.get("config")))
        return {"success": True}

    @app.get(f"{CONTROL}/config")
    async def get_config() -> dict[str, Any]:
        return state.config

    @app.patch(f"{CONTROL}/config")
    async def patch_config(request: Request) -> Response:
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ConfigError("body must be a JSON object")
            clean = validate_config(changes)
        except (ConfigError, ValueError) as exc:
            return control_error(str(exc))
        reseed = (
            clean.get("token_health_examples", state.config["token_health_examples"])
            != (state.config["token_health_examples"])
        )
        state.config.update(clean)
        if reseed:
            state.seed_tokens()
        return JSONResponse(state.config)

    @app.get(f"{CONTROL}/clock")
    async def get_clock() -> dict[str, Any]:
        return {"now": state.now(), "offset_s": state.clock_offset}

    @app.post(f"{CONTROL}/clock")
    async def advance_clock(request: Request) -> Response:
        body = await request.json()
        advance = body.get("advance_s") if isinstance(body, dict) else None
        if not isinstance(advance, int | float) or advance < 0:
            return control_error("advance_s must be a non-negative number of seconds")
        state.clock_offset += advance
        return JSONResponse({"now": state.now(), "offset_s": state.clock_offset})

    @app.post(f"{CONTROL}/webhook")
    async def webhook_receive(request: Request) -> Response:
        fault = state.take_fault("POST", request.url.path, explicit_path=True)
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep((fault.delay_ms or 0) / 1000)
            fault = None
        if fault is not None:
            return await _fault_response(request, state, fault, None, None)
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return control_error("the webhook receiver accepts JSON bodies only")
        delivery = {
            "id": len(state.webhook) + 1,
            "received_at": time.time(),
            "headers": dict(request.headers.items()),
            "body": body,
        }
        state.webhook.append(delivery)
        return JSONResponse({"success": True, "id": delivery["id"]})

    @app.get(f"{CONTROL}/webhook")
    async def webhook_list() -> dict[str, Any]:
        return {"data": state.webhook}

    @app.delete(f"{CONTROL}/webhook")
    async def webhook_clear() -> dict[str, Any]:
        state.webhook.clear()
        return {"success": True}

    @app.api_route(CONTROL + "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def control_unknown(rest: str) -> Response:
        return control_error(f"unknown control endpoint /__sandbox__/{rest}", 404)

    # Graph endpoints -----------------------------------------------------------------------------
    @app.api_route("/{path:path}", methods=["GET", "POST", "DELETE", "PUT", "PATCH"])
    async def graph_endpoint(request: Request) -> Response:
        return await _serve_graph(request, state)

    return app


async def _serve_graph(request: Request, state: SandboxState) -> Response:
    # latency_ms models the round trip: a floor on the response time that includes the sandbox's own work
    # (building a page of 50 items takes a few ms), so a call takes max(latency, processing), not their sum.
    # Injected "delay" faults come on top of it.
    started = time.perf_counter()
    delayed = 0.0

    async def delay(seconds: float) -> None:
        nonlocal delayed
        await asyncio.sleep(seconds)
        delayed += seconds

    response = await _serve_graph_now(request, state, delay)
    latency = state.config["latency_ms"] / 1000
    if latency:
        remaining = latency - (time.perf_counter() - started - delayed)
        if remaining > 0:
            await asyncio.sleep(remaining)
    return response


async def _serve_graph_now(
    request: Request, state: SandboxState, delay: Callable[[float], Awaitable[None]]
) -> Response:
    method = request.method
    path = request.url.path
    request.scope[_GENERATION_KEY] = state.generation
    params = await _read_params(request)
    fault = state.take_fault(method, path)
    if fault is not None and not fault.after and fault.kind == "delay":
        await delay((fault.delay_ms or 0) / 1000)
        fault = None
    if fault is not None and not fault.after and fault.kind != "truncated":
        return await _fault_response(request, state, fault, params, None)

    headers: dict[str, str] = {}
    try:
        body, headers = _dispatch(
            state,
            method,
            path,
            params,
            request.headers.get("authorization"),
            str(request.url).split("?")[0],
            generation=request.scope.get(_GENERATION_KEY),
        )
        status = 200
        error = None
    except GraphError as exc:
        body = exc.envelope()
        status = exc.status
        error = body["error"]
        headers = {**headers, **exc.headers}
        headers["www-authenticate"] = f'OAuth "Facebook Platform" "invalid_request" "{exc.message[:80]}"'
    response = _graph_response(body, status, headers)
    if fault is not None:
        if fault.kind == "delay":
            await delay((fault.delay_ms or 0) / 1000)
        else:
            return await _fault_response(request, state, fault, params, response)
    state.record(method, path, params, status, error, None, generation=request.scope.get(_GENERATION_KEY))
    return response


def _dispatch(
    state: SandboxState,
    method: str,
    path: str,
    params: dict[str, str],
    authorization: str | None,
    url: str = "",
    *,
    generation: int | None = None,
) -> tuple[Any, dict[str, str]]:
    parts = [p for p in path.split("/") if p]
    if not parts or not graph.VERSION_RE.match(parts[0]):
        raise errors.unknown_path(path)
    rest = parts[1:]
    if not rest and method == "POST" and "batch" in params:
        return _dispatch_batch(state, parts[0], params, authorization, url, generation), {}
    if rest == ["debug_token"] and method == "GET":
        # An app access token is accepted here (and only here), so the caller is resolved differently.
        viewer = graph.debug_token_viewer(state, params, authorization)
        return graph.debug_token(state, viewer, params), {}
    token = graph.authenticate(state, params, authorization)
    answered = _dispatch_ads(state, token, method, rest, params, url)
    if answered is not None:
        return answered
    if len(rest) == 2 and rest[1] == _DISCOVERY_EDGE and method == "GET":
        business_key = rest[0]
        allowed, headers = state.count_call(token, business_key)
        if not allowed:
            raise errors.throttled(
                state.config["throttle_code"], state.config["throttle_http_status"], headers
            )
        try:
            return graph.discover(state, token, rest[0], params), headers
        except GraphError as exc:
            exc.headers.update(headers)
            raise
    if len(rest) == 2 and rest[1] == _AD_CODE_EDGE and method in ("POST", "DELETE"):
        business_key = graph.ad_code_business_key(token)
        allowed, headers = state.count_call(token, business_key)
        if not allowed:
            raise errors.throttled(
                state.config["throttle_code"], state.config["throttle_http_status"], headers
            )
        try:
            return graph.ad_code(state, token, method, rest[0]), headers
        except GraphError as exc:
            exc.headers.update(headers)
            raise
    if len(rest) == 1 and _NUMERIC_ID.match(rest[0]):
        raise errors.unsupported_request(method, rest[0])
    if len(rest) >= 2 and _NUMERIC_ID.match(rest[0]) and rest[1] in (_DISCOVERY_EDGE, _AD_CODE_EDGE):
        raise errors.unsupported_request(method, rest[0])
    raise errors.unknown_path("/" + "/".join(rest))


def _dispatch_batch(
    state: SandboxState,
    version: str,
    params: dict[str, str],
    authorization: str | None,
    url: str,
    generation: int | None,
) -> list[dict[str, Any]]:
    """``POST /vX/`` with ``batch``: Meta's batch API, up to :data:`MAX_BATCH` sub-requests in one round trip.

    The batch's own token (query, form or header; a user token or the app token) authenticates the request and
    is the fallback of every sub-request that carries no ``access_token`` in its ``relative_url``. Each
    sub-request is answered as if it had been sent alone (it counts against the rate limits as its own call;
    scheduled faults apply to the batch request, not to its sub-requests) and is recorded in the request log
    on its own; the answer is the ordered list of ``{"code", "headers", "body"}``, ``body`` a JSON string.
    The request log shows the batch parameter redacted (it carries tokens).
    """
    # The batch's own token: a valid user token, or an app token (which only debug_token sub-requests accept).
    graph.debug_token_viewer(state, params, authorization)
    try:
        requests = json.loads(params["batch"])
    except ValueError:
        raise errors.invalid_param("(#100) The parameter batch must be a JSON array") from None
    if not isinstance(requests, list) or not requests:
        raise errors.invalid_param("(#100) The parameter batch must be a non-empty JSON array")
    if len(requests) > MAX_BATCH:
        raise errors.invalid_param(
            f"(#100) Too many requests in batch message. Maximum batch size is {MAX_BATCH}"
        )
    fallback = {"access_token": params["access_token"]} if params.get("access_token") else {}
    answers: list[dict[str, Any]] = []
    for sub in requests:
        if not isinstance(sub, dict) or not isinstance(sub.get("relative_url"), str):
            raise errors.invalid_param("(#100) Each batch request must be an object with a relative_url")
        method = str(sub.get("method") or "GET").upper()
        relative, _, query = sub["relative_url"].lstrip("/").partition("?")
        sub_params = dict(parse_qsl(query, keep_blank_values=True))
        if isinstance(sub.get("body"), str):
            sub_params.update(parse_qsl(sub["body"], keep_blank_values=True))
        own_token = "access_token" in sub_params
        if not own_token:
            sub_params.update(fallback)
        sub_path = f"/{version}/{relative}"
        try:
            body, _headers = _dispatch(
                state, method, sub_path, sub_params, None if own_token else authorization, url
            )
            status, error = 200, None
        except GraphError as exc:
            body, status, error = exc.envelope(), exc.status, exc.envelope()["error"]
        state.record(method, sub_path, sub_params, status, error, None, generation=generation)
        answers.append({"code": status, "headers": [], "body": json.dumps(body, separators=(",", ":"))})
    return answers


def _counted(
    state: SandboxState,
    token: Any,
    business_key: str,
    handler: Callable[[], dict[str, Any]],
    ad_account_id: str | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Count a Marketing API call in the ads_management bucket (and its ad account's window), then answer."""
    allowed, headers = state.count_call(
        token, business_key, buc_type=ads.BUC_TYPE, ad_account_id=ad_account_id
    )
    if not allowed:
        raise errors.throttled(
            state.config["ads_throttle_code"], state.config["throttle_http_status"], headers
        )
    try:
        return handler(), headers
    except GraphError as exc:
        exc.headers.update(headers)
        raise


def _dispatch_ads(
    state: SandboxState, token: Any, method: str, rest: list[str], params: dict[str, str], url: str
) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The Marketing API routes (ads.py), or None when the path is not one of them."""
    head = rest[0] if rest else ""
    if len(rest) == 2 and rest[1] == _OWNED_AD_ACCOUNTS:
        if method != "GET" or head not in state.world.businesses:
            raise errors.unsupported_request(method, head)
        business = state.world.businesses[head]
        return _counted(
            state, token, head, lambda: ads.owned_ad_accounts(state, token, business, params, url)
        )
    if head.startswith("act_") and len(rest) <= 2:
        account = ads.find_account(state, method, head)
        edge = rest[1] if len(rest) == 2 else None
        write = method == "POST"
        if write and edge in _ACCOUNT_WRITE_EDGES:
            handler = (
                (lambda: ads.create_ad_creative(state, account, params))
                if edge == "adcreatives"
                else (lambda: ads.create_ad(state, account, params))
            )
        elif method == "GET" and edge is None:
            handler = lambda: ads.account_node(state, account, params)  # noqa: E731
        elif method == "GET" and edge in _ACCOUNT_READ_EDGES:
            handler = lambda: ads.account_edge(state, account, edge, params, url)  # noqa: E731
        elif edge is None or edge in _ACCOUNT_READ_EDGES:
            raise errors.unsupported_request(method, head)
        else:
            raise errors.unknown_path("/" + "/".join(rest))

        def checked() -> dict[str, Any]:
            ads.check_account_access(token, account, write=write)
            return handler()

        return _counted(state, token, account.business_id, checked, ad_account_id=account.id)
    if len(rest) == 1 and method == "GET":
        account_ref = ads.object_account(state, head)
        if account_ref is None:
            return None
        account = state.world.ad_accounts[account_ref]

        def read() -> dict[str, Any]:
            try:
                ads.check_account_access(token, account, write=False)
            except GraphError:
                # Meta does not tell a caller without access that the object exists.
                raise errors.unsupported_request(method, head) from None
            return ads.object_node(state, head, params)

        return _counted(state, token, account.business_id, read, ad_account_id=account.id)
    return None


async def _fault_response(
    request: Request,
    state: SandboxState,
    fault: Fault,
    params: dict[str, str] | None,
    real: Response | None,
) -> Response:
    """The misbehaviour a fault asks for. `real` is the handler's response when the fault runs after it."""
    method, path = request.method, request.url.path
    logged = params or {}
    if fault.kind in ("drop", "timeout"):
        if fault.kind == "timeout":
            deadline = time.monotonic() + (fault.delay_ms if fault.delay_ms is not None else 60000) / 1000
            while time.monotonic() < deadline and not await request.is_disconnected():
                await asyncio.sleep(0.05)
        transport = request.scope.get(_TRANSPORT_KEY)
        if transport is not None:
            transport.close()
        state.record(method, path, logged, 0, None, fault.kind, generation=request.scope.get(_GENERATION_KEY))
        return Response(b"", status_code=500)
    if fault.kind == "body":
        status = fault.status or 200
        state.record(
            method, path, logged, status, None, fault.kind, generation=request.scope.get(_GENERATION_KEY)
        )
        return _graph_response(fault.body, status, {})
    if fault.kind == "html":
        state.record(
            method,
            path,
            logged,
            fault.status or 502,
            None,
            fault.kind,
            generation=request.scope.get(_GENERATION_KEY),
        )
        return Response(_HTML_PAGE, status_code=fault.status or 502, media_type="text/html; charset=utf-8")
    if fault.kind == "truncated":
        full = real.body if real is not None else b'{"data":[{"content_id":"0"}]}'
        cut = bytes(full[: max(1, len(full) // 2)])
        state.record(
            method, path, logged, 200, None, fault.kind, generation=request.scope.get(_GENERATION_KEY)
        )
        return Response(cut, status_code=200, media_type=_JSON_TYPE)
    if fault.kind == "throttle":
        token = state.tokens.get(
            graph.extract_token(logged, request.headers.get("authorization"), True) or ""
        )
        code = fault.code or state.config["throttle_code"]
        regain = (
            fault.regain_minutes
            if fault.regain_minutes is not None
            else (state.config["throttle_regain_minutes"] or 1)
        )
        headers: dict[str, str] = {}
        if token is not None:
            key, scope = _business_key_for(state, path, token)
            headers = state.usage_headers(token, key, throttled=True, regain=regain, **scope)
            if scope and not fault.code:
                code = state.config["ads_throttle_code"]
        error = errors.throttled(code, fault.status or state.config["throttle_http_status"], headers)
    elif fault.kind == "transient":
        error = errors.transient(fault.code or 2)
        if fault.status:
            error.status = fault.status
    else:  # http_500
        error = GraphError("An unknown error has occurred.", code=fault.code or 1, status=fault.status or 500)
    body = error.envelope()
    state.record(
        method,
        path,
        logged,
        error.status,
        body["error"],
        fault.kind,
        generation=request.scope.get(_GENERATION_KEY),
    )
    return _graph_response(body, error.status, error.headers)


def _business_key_for(state: SandboxState, path: str, token: Any) -> tuple[str, dict[str, str]]:
    """The business object (for the Marketing API also the bucket and ad account) a faulted call counts on."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[2] == _DISCOVERY_EDGE:
        return parts[1], {}
    if len(parts) >= 3 and parts[2] == _OWNED_AD_ACCOUNTS:
        return parts[1], {"buc_type": ads.BUC_TYPE}
    account_ref = parts[1] if len(parts) >= 2 and parts[1].startswith("act_") else None
    if account_ref is None and len(parts) == 2:
        account_ref = ads.object_account(state, parts[1])
    account = state.world.ad_accounts.get(account_ref or "")
    if account is not None:
        return account.business_id, {"buc_type": ads.BUC_TYPE, "ad_account_id": account.id}
    return graph.ad_code_business_key(token), {}
