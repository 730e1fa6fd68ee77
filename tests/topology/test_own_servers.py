"""The drills' own PostgreSQL and Redis: free ports, data kept across a restart, nothing left behind."""

from __future__ import annotations

import os
import socket

import psycopg2
import pytest
import redis

from include.topology.own_servers import OwnPostgres, OwnRedis, OwnServerError

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _unavailable(exc: Exception) -> None:
    if IN_CI:
        pytest.fail(f"own server could not start: {exc}; CI=true requires it", pytrace=False)
    pytest.skip(f"own server could not start: {exc}")


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_own_postgres_accepts_connections_again_after_a_restart_and_is_removed_on_exit() -> None:
    try:
        server = OwnPostgres("pa-test").start()
    except OwnServerError as exc:
        _unavailable(exc)
    try:
        uri = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
        with psycopg2.connect(uri) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
        server.restart()
        with psycopg2.connect(uri) as conn, conn.cursor() as cur:
            cur.execute("SELECT n FROM kept")
            assert cur.fetchall() == [(7,)]
        folder = server.folder
    finally:
        server.stop()
    assert folder is not None and not folder.exists()
    assert not _listening(server.port)


def test_own_redis_keeps_its_data_across_a_restart_on_the_same_port() -> None:
    try:
        server = OwnRedis("pa-test").start()
    except OwnServerError as exc:
        _unavailable(exc)
    try:
        client = redis.Redis(host="127.0.0.1", port=server.port)
        client.rpush("queue", "message")
        server.restart()
        client = redis.Redis(host="127.0.0.1", port=server.port)
        assert client.lrange("queue", 0, -1) == [b"message"]
    finally:
        server.stop()
    assert not _listening(server.port)
