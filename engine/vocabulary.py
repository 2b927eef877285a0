"""The fixed words of the contract: option codes, statuses, citations."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Option = Literal["PVP", "TAE_PVP", "PVP_ITR", "KP", "SURGERY", "CONSERVATIVE"]
OPTIONS: tuple[str, ...] = ("PVP", "TAE_PVP", "PVP_ITR", "KP", "SURGERY", "CONSERVATIVE")

Status = Literal["recommended", "appropriate", "caution", "not_recommended", "contraindicated"]
# Best first, as the data dictionary orders them.
STATUSES: tuple[str, ...] = ("recommended", "appropriate", "caution", "not_recommended", "contraindicated")
STATUS_RANK = {s: len(STATUSES) - 1 - i for i, s in enumerate(STATUSES)}  # higher is better

Stance = Literal["states", "reports", "speculates"]
STANCES: tuple[str, ...] = ("states", "reports", "speculates")


class Citation(BaseModel):
    """A passage of a paper (or an external source) that a rule, figure or vignette rests on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(
        title="Source id", description="key of rules/sources.yaml (for papers: ../shared/seeds/index.yaml)")
    section: str = Field(title="Section", description="section, table or figure of the source")
    locator: str = Field(
        title="Locator", description="a phrase of 4-30 words copied from the source, to find the passage")
    claim: str | None = Field(default=None, title="Claim", description="what the passage supports, in plain words")
    stance: Stance = Field(
        title="Stance", description="states: the source's own finding or position; reports: another study or group "
        "the source reports (name it in attributed_to); speculates: a hypothesis the source puts forward")
    attributed_to: str | None = Field(
        default=None, title="Attributed to",
        description="whom the passage reports, as the source names them (e.g. 'Saliou et al. (ref. 14)'); "
        "required when the stance is reports, refused otherwise")

    @model_validator(mode="after")
    def _attribution_goes_with_reports(self) -> Citation:
        if self.stance == "reports" and not (self.attributed_to or "").strip():
            raise ValueError("a citation that reports another study names it in attributed_to")
        if self.stance != "reports" and self.attributed_to is not None:
            raise ValueError(f"attributed_to is only for stance 'reports' (this citation {self.stance})")
        return self

    @property
    def stance_label(self) -> str:
        """The stance as a reader sees it beside its passage: 'states', 'reports Chen et al. (ref. 21)' or
        'speculates'."""
        return f"reports {self.attributed_to}" if self.stance == "reports" else self.stance
