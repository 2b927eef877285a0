"""Small self-contained rule bases for the proof tests: a manifest of our own, the shipped bibliography."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from spinemets.rulebook import DEFAULT_RULES_DIR

from .conftest import CITATION, RATIONALE

MANIFEST = {
    "rulebook": {
        "name": "verify-test", "version": "0.0.1", "title": "rule base written by a test",
        "options": [
            {"code": "CONSERVATIVE", "title": "Conservative care", "description": "-", "cement": False},
            {"code": "PVP", "title": "Vertebroplasty", "description": "-", "cement": True},
            {"code": "KP", "title": "Kyphoplasty", "description": "-", "cement": True},
            {"code": "TAE_PVP", "title": "Embolization then PVP", "description": "-", "cement": True},
            {"code": "PVP_ITR", "title": "PVP with tumour removal", "description": "-", "cement": True},
            {"code": "SURGERY", "title": "Open surgery", "description": "-", "cement": False},
        ],
        "adjuncts": {"biopsy": {"title": "Biopsy"}},
        "facts": {"compressed": {"title": "Cord compressed"}},
    }
}


# A conflict cites both sides: a second source whose locator the loader accepts.
OTHER_SIDE = {"source": "gu-2017", "section": "Discussion",
              "locator": "it has the risk of damaging the posterior wall when the balloon is inflated too high",
              "claim": "The balloon can damage the posterior wall.", "stance": "states"}


def rule(rule_id: str, when: Any, *effects: dict) -> dict:
    citations = [CITATION] + ([OTHER_SIDE] if any("conflict" in e for e in effects) else [])
    return {"id": rule_id, "title": rule_id, "when": when, "then": list(effects), "text": f"test rule {rule_id}",
            "evidence_level": 5, "strength_rationale": RATIONALE, "citations": citations}


def invariant(inv_id: str, when: Any, *claims: dict) -> dict:
    entry = {"id": inv_id, "title": inv_id, "then": list(claims), "rationale": "written by a test",
             "basis": "semantics", "see": "docs/decision.md"}
    if when is not None:
        entry["when"] = when
    return entry


def check(check_id: str, name: str, allow: list | None = None) -> dict:
    entry = {"id": check_id, "title": check_id, "check": name, "rationale": "written by a test",
             "see": "docs/decision.md"}
    if allow:
        entry["allow"] = allow
    return entry


def write_base(folder: Path, rules: list[dict], invariants: list[dict], consistency: list[dict] | None = None) -> Path:
    """A complete rule base in `folder` (created); YAML is written as JSON, which the YAML loader reads."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rulebook.yaml").write_text(json.dumps(MANIFEST, indent=1))
    shutil.copy(DEFAULT_RULES_DIR / "sources.yaml", folder / "sources.yaml")
    (folder / "rules.yaml").write_text(json.dumps({"rules": rules}, indent=1))
    (folder / "invariants.yaml").write_text(json.dumps({"invariants": invariants}, indent=1))
    if consistency:
        (folder / "consistency.yaml").write_text(json.dumps({"consistency": consistency}, indent=1))
    return folder
