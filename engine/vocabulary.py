"""The fixed words of the contract: option codes, statuses, citations."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Option = Literal["PVP", "TAE_PVP", "PVP_ITR", "KP", "SURGERY", "CONSERVATIVE"]
OPTIONS: tuple[str, ...] = ("PVP", "TAE_PVP", "PVP_ITR", "KP", "SURGERY", "CONSERVATIVE")

Status = Literal["recommended", "appropriate", "caution", "not_recommended", "contraindicated"]
# Best first, as the data dictionary orders them.
STATUSES: tuple[str, ...] = ("recommended", "appropriate", "caution", "not_recommended", "contraindicated")
STATUS_RANK = {s: len(STATUSES) - 1 - i for i, s in enumerate(STATUSES)}  # higher is better


class Citation(BaseModel):
    """A passage of a paper (or an external source) that a rule, figure or vignette rests on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(title="Source id",
                        description="key of rules/sources.yaml (for papers: ../shared/seeds/index.yaml)")
    section: str = Field(title="Section", description="section, table or figure of the source")
    locator: str = Field(
        title="Locator", description="a phrase of 4-30 words copied from the source, to find the passage")
    claim: str | None = Field(default=None, title="Claim", description="what the passage supports, in plain words")
