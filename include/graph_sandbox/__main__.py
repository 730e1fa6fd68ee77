"""`python -m include.graph_sandbox --host 127.0.0.1 --port 8765 [--seed 7] [--items 500] [--latency-ms 0]`

Prints `listening on http://HOST:PORT` (flushed) once it accepts connections; `--port 0` picks a free port.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from typing import Any

from include.graph_sandbox.config import ConfigError, make_config
from include.graph_sandbox.server import BackgroundServer, build_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m include.graph_sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--creators", type=int, help="number of creators (default: items / 40, 12 to 400)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--ad-code-repeat", choices=("same", "rotate"))
    parser.add_argument("--rate-limit-calls", type=int)
    parser.add_argument("--rate-limit-window-s", type=float)
    parser.add_argument("--throttle-code", type=int)
    parser.add_argument("--throttle-regain-minutes", type=float)
    parser.add_argument(
        "--app-secret",
        action="append",
        default=[],
        metavar="APP_ID=SECRET",
        help="require appsecret_proof for this app (repeatable)",
    )
    parser.add_argument(
        "--config", default="{}", help="any settings as a JSON object (same names as the API)"
    )
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(args.config)
    config["latency_ms"] = config.get("latency_ms", args.latency_ms)
    for name in (
        "ad_code_repeat",
        "rate_limit_calls",
        "rate_limit_window_s",
        "throttle_code",
        "throttle_regain_minutes",
    ):
        value = getattr(args, name)
        if value is not None:
            config[name] = value
    if args.app_secret:
        secrets = dict(config.get("app_secrets") or {})
        for pair in args.app_secret:
            app_id, _, secret = pair.partition("=")
            secrets[app_id] = secret
        config["app_secrets"] = secrets
    make_config(**config)
    return config


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = config_from_args(args)
    except (ConfigError, ValueError) as exc:
        print(f"graph sandbox: bad configuration: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    app = build_app(seed=args.seed, items=args.items, creators=args.creators, **config)
    background = BackgroundServer(app, args.host, args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    background.start()
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"graph sandbox (seed {args.seed}, {args.items} items, built in {time.monotonic() - started:.1f}s) "
        f"listening on http://{host}:{background.port}",
        flush=True,
    )
    while not stop.wait(0.5):
        if not background.thread.is_alive():
            return 1
    background.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
