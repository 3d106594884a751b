"""Vocabulary shared by manifests, profiles, track records and decisions."""

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")]



class OversightTier(StrEnum):
    """The tiers, least oversight first: the one list. Models validate against Tier (its values); reporters and
    the workflow key their tables by it (tests/test_vocabulary.py checks that each table covers every tier)."""

    AUTO_APPROVE = "auto_approve"
    SINGLE_APPROVAL = "single_approval"
    DOUBLE_APPROVAL = "double_approval"
    ESCALATE = "escalate"
    BLOCK = "block"


TIERS: tuple[str, ...] = tuple(tier.value for tier in OversightTier)
Tier = Literal[TIERS]  # the values as a pydantic field type: strict models take the plain strings

Risk = Literal["low", "medium", "high"]
AgentLevel = Literal["suggestion", "low", "medium"]
PromotableLevel = Literal["low", "medium"]
Delivery = Literal["none", "digest", "interrupt"]


class DeferredModel(BaseModel):
    """Every hitl model: its validator and serializer are built when it is first used, not when its module is
    imported (pydantic's defer_build), so a command builds only the models it uses (bench/RESULTS.md, start-up)."""

    model_config = ConfigDict(defer_build=True)


class StrictModel(DeferredModel):
    """Unknown keys are errors (a typo must not pass silently), values are not coerced across types, and a
    number is finite (an infinite cost would reach the policy as null, and dodge the budget)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
