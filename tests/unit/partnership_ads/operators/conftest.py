"""The operators' own tests run on the real graph sandbox, with the integration tests' pipeline fixture."""

from __future__ import annotations

from tests.integration.pipeline.conftest import pipeline  # noqa: F401 - a fixture, used by name
