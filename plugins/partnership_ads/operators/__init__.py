"""The pipeline's operators, each usable on its own in other DAGs.

The names are exported lazily (module ``__getattr__``): a DAG file that imports one operator does not pay
for the others' modules at parse time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from partnership_ads.operators.fetch import FetchAdvertisableContentOperator
    from partnership_ads.operators.issue import IssueAdCodesOperator
    from partnership_ads.operators.plan import PlanIssuanceOperator
    from partnership_ads.operators.push import PushAdCodesOperator
    from partnership_ads.operators.revoke import RevokeAdCodesOperator

_MODULES = {
    "FetchAdvertisableContentOperator": "partnership_ads.operators.fetch",
    "IssueAdCodesOperator": "partnership_ads.operators.issue",
    "PlanIssuanceOperator": "partnership_ads.operators.plan",
    "PushAdCodesOperator": "partnership_ads.operators.push",
    "RevokeAdCodesOperator": "partnership_ads.operators.revoke",
}

__all__ = [
    "FetchAdvertisableContentOperator",
    "IssueAdCodesOperator",
    "PlanIssuanceOperator",
    "PushAdCodesOperator",
    "RevokeAdCodesOperator",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
