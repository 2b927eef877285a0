"""The rule base: the rule language's models (`models`) and the loader that reads rules/ into them (`loader`)."""
from .loader import DEFAULT_CASES_DIR, DEFAULT_RULES_DIR, files_digest, load_rulebook, rule_files
from .models import (
                     LOCATOR_WORDS,
                     RULE_ID,
                     Adjunct,
                     AdviseAgainst,
                     Conflict,
                     Constraint,
                     Contraindicate,
                     Derive,
                     Effect,
                     Indicate,
                     Limit,
                     Manifest,
                     Named,
                     OptionInfo,
                     PlanNote,
                     PlanRule,
                     Prefer,
                     Question,
                     Rule,
                     Rulebook,
                     SessionLimit,
                     Source,
                     effect_key,
                     effect_options,
)

__all__ = [
    "DEFAULT_CASES_DIR", "DEFAULT_RULES_DIR", "LOCATOR_WORDS", "RULE_ID", "Adjunct", "AdviseAgainst", "Conflict",
    "Constraint", "Contraindicate", "Derive", "Effect", "Indicate", "Limit", "Manifest", "Named", "OptionInfo",
    "PlanNote", "PlanRule", "Prefer", "Question", "Rule", "Rulebook", "SessionLimit", "Source", "effect_key",
    "effect_options", "files_digest", "load_rulebook", "rule_files",
]
