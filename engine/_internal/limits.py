"""Bounds on what any input may make the engine read or build: one place, each value with its reason."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """How large one document (a case file, a registry row or a rule-base file) may be, read and parsed.

    Every bound is checked while reading or on the parser's event stream, before the document is built,
    so that an input past one costs at most its `bytes` of memory and a linear scan: a YAML alias bomb
    is refused by its expanded size without ever being expanded.
    """

    kind: str            # what the document is, for the message: "case file", "registry row", "rule-base file"
    bytes: int           # raw size
    nodes: int           # scalars, lists and mappings after expanding every alias and merge key
    depth: int           # lists and mappings inside one another
    items: int           # entries of one list or mapping
    int_digits: int      # digits of one integer (Python refuses to convert past 4,300, with a ValueError)

    def describe(self, which: str) -> str:
        """'the limit of 256 KiB for a case file', for a message naming the limit exceeded."""
        value = getattr(self, which)
        shown = _size(value) if which == "bytes" else f"{value:,}"
        words = {"bytes": "", "nodes": " values (aliases and merge keys expanded)", "depth": " levels of nesting",
                 "items": " entries in one list or mapping", "int_digits": " digits in a whole number"}[which]
        return f"the limit of {shown}{words} for a {self.kind}"


def _size(n: int) -> str:
    return f"{n // 1024 ** 2} MiB" if n >= 1024 ** 2 and n % 1024 ** 2 == 0 else f"{n // 1024} KiB"


# The largest vignette is about 2 KiB and a case has some 60 fields; 256 KiB leaves room for long
# presentations and for a FHIR Bundle of one patient, while a file this size parses in milliseconds and
# composes to at most ~40 MB of YAML nodes. `evaluate /dev/zero` stops after reading 256 KiB + 1 byte.
# A case nests 3 levels (a vignette's board section, SINS, a list of levels; a FHIR Bundle about 8),
# lists at most the 33 vertebrae, and no clinical whole number has more than 3 digits.
CASE_FILE = Limits("case file", bytes=256 * 1024, nodes=20_000, depth=32, items=2_000, int_digits=30)

# A registry row is one case without the vignette's teaching text: 64 KiB is 30x a full synthetic row
# with a long presentation, and bounds what one CSV record or JSON line can make a worker build.
REGISTRY_ROW = Limits("registry row", bytes=64 * 1024, nodes=5_000, depth=16, items=2_000, int_digits=30)

# The built-in rule base is 200 KiB in 25 files (the largest 20 KiB, some 4,000 values in all), its
# conditions nest about 6 levels. A generated rule base of a few thousand rules in one file still fits;
# past 200,000 values a file would take more than 100 MB to build.
RULE_FILE = Limits("rule-base file", bytes=4 * 1024 * 1024, nodes=200_000, depth=64, items=50_000, int_digits=30)

# A condition's value (`levels in [T11, T12]`) is a short YAML flow value inside a rule.
CONDITION_VALUE = Limits("condition value", bytes=64 * 1024, nodes=5_000, depth=8, items=2_000, int_digits=30)
