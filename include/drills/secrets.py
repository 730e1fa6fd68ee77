"""The secret scan: every token and secret a drill used, searched in everything the drills left behind.

Files are searched byte for byte (task logs, SQLite metadata databases with their XCom table, ledgers, sink
files, the sandbox's webhook bodies and headers, evidence dumps); Parquet files are also decoded, since their
pages may be compressed. A hit names where and which secret by label, never the secret itself.

A piece of a secret is a leak too (an error text cut inside a token): :func:`scan_pieces` looks for every
piece of :data:`PIECE` characters.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path


PIECE = 8


@dataclass(frozen=True)
class Hit:
    """A secret found: ``where`` (file or label) and ``which`` (the secret's label)."""

    where: str
    which: str


def labelled(secrets: Iterable[str]) -> dict[str, str]:
    """``{secret: label}`` with labels such as ``secret #3 (EAAB..., 120 chars)`` (never the value)."""
    return {s: f"secret #{i} ({s[:4]}..., {len(s)} chars)" for i, s in enumerate(sorted(set(secrets))) if s}


def _parquet_text(path: Path) -> bytes:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return "\n".join(str(v) for column in table.columns for v in column.to_pylist()).encode()


def scan_bytes(where: str, data: bytes, secrets: dict[str, str]) -> list[Hit]:
    """Hits of any secret in ``data``."""
    return [Hit(where, label) for secret, label in secrets.items() if secret.encode() in data]


def pieces(secret: str, size: int = PIECE) -> set[str]:
    """Every piece of ``secret`` that is ``size`` characters long (any longer piece contains one)."""
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def leaked_pieces(text: str, secret: str, size: int = PIECE) -> list[str]:
    """The pieces of ``secret`` (``size`` characters) found in ``text``: for tests on made-up secrets."""
    return sorted(piece for piece in pieces(secret, size) if piece in text)


def scan_pieces(
    where: str, data: bytes, secrets: dict[str, str], size: int = PIECE, *, public: Iterable[str] = ()
) -> list[Hit]:
    """Hits of any piece (``size`` characters or more) of any secret in ``data``.

    :param public: the fixed parts of made-up secrets (``drill-webhook-secret-``, ``sandboxBrand``): a piece
        that lies inside one of them is not secret (``webhook-`` is also a sink's name).
    """
    known = tuple(public)
    return [
        Hit(where, label)
        for secret, label in secrets.items()
        if any(
            piece.encode() in data
            for piece in pieces(secret, size)
            if not any(piece in fixed for fixed in known)
        )
    ]


def scan_files(root: Path, secrets: dict[str, str]) -> tuple[list[Hit], dict[str, int]]:
    """Scan every file under ``root``; returns the hits and how many files of each suffix were scanned."""
    hits: list[Hit] = []
    scanned: dict[str, int] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix == ".parquet":
            data += _parquet_text(path)
        hits.extend(scan_bytes(str(path), data, secrets))
        scanned[path.suffix or path.name] = scanned.get(path.suffix or path.name, 0) + 1
    return hits, scanned


def xcom_values(database: Path) -> list[str]:
    """Every XCom value stored in an Airflow SQLite metadata database."""
    with sqlite3.connect(database) as conn:
        return [str(row[0]) for row in conn.execute("SELECT value FROM xcom")]
