"""A faithful local emulator of Meta's partnership-ads Graph API endpoints (see the README's sandbox section).

Start it with `python -m include.graph_sandbox --port 8765`, or from tests with
`include.graph_sandbox.testing.start_sandbox()`.
"""

from __future__ import annotations

from include.graph_sandbox.app import API_VERSION

__all__ = ["API_VERSION"]
