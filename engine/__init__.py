"""spinemets: cited decision support for painful spinal metastases, executed by durable-rules from YAML rules.

Decision support for a multidisciplinary tumor board, not a medical device.
"""
from .case import Case, Sins
from .case_io import case_from_data, parse_case_text, read_case_file
from .decision import Decision
from .engine import Engine, evaluate, get_engine
from .errors import CaseError, EngineError, InputError, Problem, RulebookError, SpinemetsError
from .registry_io import read_registry
from .rulebook import DEFAULT_RULES_DIR, Rulebook, load_rulebook
from .vignette import Board, CaseDocument
from .vignettes import load_vignette, vignette_files
from .vocabulary import OPTIONS, STATUSES

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_RULES_DIR",
    "OPTIONS",
    "STATUSES",
    "Board",
    "Case",
    "CaseDocument",
    "CaseError",
    "Decision",
    "Engine",
    "EngineError",
    "InputError",
    "Problem",
    "Rulebook",
    "RulebookError",
    "Sins",
    "SpinemetsError",
    "case_from_data",
    "evaluate",
    "get_engine",
    "load_rulebook",
    "load_vignette",
    "parse_case_text",
    "read_case_file",
    "read_registry",
    "vignette_files",
]
