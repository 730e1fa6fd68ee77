"""The pipeline's operators, each usable on its own in other DAGs."""

from __future__ import annotations

from partnership_ads.operators.fetch import FetchAdvertisableContentOperator
from partnership_ads.operators.issue import IssueAdCodesOperator
from partnership_ads.operators.push import PushAdCodesOperator
from partnership_ads.operators.revoke import RevokeAdCodesOperator

__all__ = [
    "FetchAdvertisableContentOperator",
    "IssueAdCodesOperator",
    "PushAdCodesOperator",
    "RevokeAdCodesOperator",
]
