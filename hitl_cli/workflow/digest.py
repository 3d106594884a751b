"""The digest: what the profile routes to batched review, grouped and ordered by priority.

An entry is a request whose decision's delivery is `digest` and that still waits for people: an approval
(single approvals, in the shipped profiles) or a post-hoc review of an auto-approved action. Approvals come
first, then reviews; within a group, the stricter tier, then the higher risk, then the older request first.
"""

import re
from datetime import datetime, timedelta
from typing import get_args

from hitl_cli.errors import UsageError
from hitl_cli.models.common import DeferredModel, Risk
from hitl_cli.workflow.status import WAITING
from hitl_cli.workflow.views import RequestView

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RISK_RANK = {risk: rank for rank, risk in enumerate(get_args(Risk))}


class DigestGroup(DeferredModel):
    title: str
    entries: list[RequestView]


def parse_since(text: str) -> timedelta:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not match:
        raise UsageError(f"--since {text!r}: expected a duration such as 90m, 24h or 7d")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def _priority(view: RequestView) -> tuple:
    return (-view.decision.severity, -_RISK_RANK[view.decision.risk], view.submitted_at)


def groups(views: list[RequestView], since: datetime) -> list[DigestGroup]:
    recent = [view for view in views if view.decision.delivery == "digest" and view.submitted_at >= since]
    approvals = [view for view in recent if view.status in WAITING]
    reviews = [view for view in recent if view.status == "approved" and view.awaiting_review]
    found = [
        DigestGroup(title="Waiting for approval", entries=sorted(approvals, key=_priority)),
        DigestGroup(title="Post-hoc review of auto-approved actions", entries=sorted(reviews, key=_priority)),
    ]
    return [group for group in found if group.entries]
