"""``python -m include.topology up|down|status``: the native production topology (make native-up/-down)."""

from __future__ import annotations

import argparse
import logging
import sys

from include.topology.native import DEFAULT_HOME, NativeTopology, TopologyConfig, TopologyError, TopologyState


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.topology", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--api-port", type=int, default=8080, help="api-server port (0: any free port)")
    parser.add_argument(
        "--sandbox-port", type=int, default=8765, help="graph sandbox port (0: any free port)"
    )
    parser.add_argument("--no-sandbox", action="store_true", help="use the caller's AIRFLOW_CONN_* instead")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    topology = NativeTopology(
        TopologyConfig(
            home=DEFAULT_HOME,
            api_port=args.api_port,
            sandbox_port=args.sandbox_port,
            use_sandbox=not args.no_sandbox,
        )
    )
    if args.command == "up":
        try:
            state = topology.up()
        except (TopologyError, TimeoutError) as exc:
            print(f"native topology failed to start: {exc}", file=sys.stderr)
            return 1
        print(f"Airflow UI and REST API: {state.api_url}  (user admin, password in {state.passwords_file})")
        if state.sandbox_url:
            print(f"graph sandbox: {state.sandbox_url}")
        print(f"workers: {', '.join(state.workers)}; logs: {DEFAULT_HOME / 'logs'}")
        print("stop everything with `make native-down`")
        return 0
    if args.command == "down":
        stopped = topology.down()
        print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
        return 0
    statuses = topology.status()
    if not statuses:
        print("not running (no state file)")
        return 1
    state = TopologyState.load(DEFAULT_HOME)
    if state is not None:
        print(f"api: {state.api_url}")
    for name, alive in statuses.items():
        print(f"{name:24} {'running' if alive else 'STOPPED'}")
    return 0 if all(statuses.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
