"""pytest fixtures for the graph sandbox (loaded by tests/conftest.py).

- `sandbox_server` (session): one real server, `start_sandbox(seed=7, items=500)`.
- `sandbox` (function): the same server back in its seeded state: `reset()` (codes, tokens, rate windows,
  log, webhook, clock), no faults and the startup config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from include.graph_sandbox.testing import SandboxServer, start_sandbox

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    with start_sandbox(seed=7, items=500) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    sandbox_server.reset(config=True)
    sandbox_server.clear_faults()
    return sandbox_server
