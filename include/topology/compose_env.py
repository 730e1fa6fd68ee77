"""Write `.env` for docker-compose.yaml: `.env.example` with a fresh random value for every stack secret.

``python3 -m include.topology.compose_env`` (or ``make env``) from the repository root. The standard library
is enough, so it runs with any Python 3.11 and no virtualenv.

docker-compose.yaml requires every name in :data:`STACK_SECRETS` (``${NAME:?...}``: the stack refuses to
start while one is unset or empty) and `.env.example` leaves each empty, so no deployment runs on a value
published here. An existing `.env` is never overwritten: the PostgreSQL volume keeps the password it was
created with and connections stored in the metadata database stay encrypted with the first Fernet key, so new
values would lock the stack out of its own data. The values are written to the file only (mode 0600), never
printed.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[2]


def _token() -> str:
    # URL-safe alphabet: the values are interpolated into PostgreSQL URIs and a JSON file as they are.
    return secrets.token_urlsafe(32)


def _fernet_key() -> str:
    # What cryptography's Fernet.generate_key() returns, without needing the package here.
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


#: The stack's own secrets and how each is generated.
STACK_SECRETS: dict[str, Callable[[], str]] = {
    "AIRFLOW_ADMIN_PASSWORD": _token,
    "AIRFLOW_JWT_SECRET": _token,
    "AIRFLOW_API_SECRET_KEY": _token,
    "AIRFLOW_FERNET_KEY": _fernet_key,
    "POSTGRES_PASSWORD": _token,
}

#: Credentials the operator brings from Meta and the webhook receiver. Never generated; docker-compose.yaml
#: lets them be empty (``${NAME:-}``), which means "not configured" (the sandbox, or no webhook), never a
#: usable value.
OPERATOR_CREDENTIALS: tuple[str, ...] = (
    "META_ACCESS_TOKEN",
    "META_APP_SECRET",
    "PARTNERSHIP_ADS_WEBHOOK_SECRET",
)


class EnvFileError(RuntimeError):
    """`.env` could not be written; the message says why and what to do."""


def render(example: str, secrets_by_name: dict[str, str]) -> str:
    """``example`` with each ``NAME=`` line of :data:`STACK_SECRETS` set to ``secrets_by_name[NAME]``.

    Raises :class:`EnvFileError` when a secret is missing from ``example``, appears twice, or already has a
    value there (an example that ships a value is the bug this module exists to prevent).
    """
    lines = example.splitlines(keepends=True)
    seen: dict[str, int] = {}
    for index, line in enumerate(lines):
        match = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$", line.rstrip("\r\n"))
        if not match or match.group(1) not in STACK_SECRETS:
            continue
        name, value = match.groups()
        if name in seen:
            raise EnvFileError(f"{name} is defined twice in the example; keep one empty `{name}=` line")
        if value.strip():
            raise EnvFileError(
                f"{name} has a value in the example; an example must leave every secret empty (`{name}=`)"
            )
        seen[name] = index
        lines[index] = f"{name}={secrets_by_name[name]}\n"
    missing = [name for name in STACK_SECRETS if name not in seen]
    if missing:
        raise EnvFileError(
            f"the example has no line for {', '.join(missing)}; add an empty `NAME=` line for each"
        )
    return "".join(lines)


def write_env(example: Path, output: Path) -> list[str]:
    """Write ``output`` from ``example`` with fresh secrets (mode 0600); returns the names generated.

    Raises :class:`EnvFileError` if ``output`` exists or ``example`` is not a valid template.
    """
    if output.exists():
        raise EnvFileError(
            f"{output} exists and is left as it is: the stack's database and encrypted connections depend "
            "on the secrets in it. To start over, stop the stack, remove the PostgreSQL volume "
            "(`docker compose down -v`) and the file, then run this again."
        )
    text = render(example.read_text(), {name: generate() for name, generate in STACK_SECRETS.items()})
    # O_EXCL: never replace a file created since the check above.
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return list(STACK_SECRETS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m include.topology.compose_env", description=__doc__)
    parser.add_argument("--example", type=Path, default=ROOT / ".env.example")
    parser.add_argument("--output", type=Path, default=ROOT / ".env")
    args = parser.parse_args(argv)
    try:
        names = write_env(args.example, args.output)
    except (EnvFileError, OSError) as exc:
        print(f"compose_env: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} (mode 0600) with fresh {', '.join(names)}; the admin password is in it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
