"""Vocabulary shared by manifests, profiles, track records and decisions."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")]

Tier = Literal["auto_approve", "single_approval", "double_approval", "escalate", "block"]
TIERS: tuple[Tier, ...] = ("auto_approve", "single_approval", "double_approval", "escalate", "block")

Risk = Literal["low", "medium", "high"]
AgentLevel = Literal["suggestion", "low", "medium"]
PromotableLevel = Literal["low", "medium"]
Delivery = Literal["none", "digest", "interrupt"]


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo must not pass silently), values are not coerced across types, and a
    number is finite (an infinite cost would reach the policy as null, and dodge the budget)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
