"""The built wheel holds what an installed copy needs, under the one import name `spinemets`, and nothing else.

    python .ci/check_wheel.py dist/spinemets-X-py3-none-any.whl

Checks: every file sits under spinemets/ or the dist-info (no top-level engine/ or ui/); every module of engine/
and ui/ and every rule and vignette file of rules/ and cases/ is there (a subpackage missing from pyproject.toml's
`packages` list fails here, not on a user's machine); the app's settings; py.typed; the version in the metadata
is engine/__init__.py's; the metadata carries the licence files, the classifiers and a long description without
relative links (the package index has no repository to resolve them against); the optional packages (front end,
prover, service) are required only under their extra.
"""
from __future__ import annotations

import ast
import re
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Repository folder -> where its files land in the wheel (pyproject.toml's package-dir mapping).
MAPPING = {"engine": "spinemets", "ui": "spinemets/ui", "rules": "spinemets/rules", "cases": "spinemets/cases",
           ".streamlit": "spinemets/ui/settings"}
SHIPPED = {"engine": {".py"}, "ui": {".py", ".ttf", ".txt"}, "rules": {".yaml"}, "cases": {".yaml", ".json"},
           ".streamlit": {".toml"}}


# Markdown links and images, inline `[text](target)` and reference `[label]: target`, and HTML src/href.
_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)|^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)|(?:src|href)\s*=\s*[\"']([^\"']+)",
                   re.MULTILINE)
# Packages only an extra may bring: a bare requirement on one of them would put it back into the core install.
OPTIONAL = ("streamlit", "altair", "pandas", "fpdf2", "z3-solver", "fastapi", "uvicorn", "httpx", "pyjwt")
LICENCES = ("LICENSE", "ui/fonts/LICENSE-DejaVu.txt")


def relative_links(markdown: str) -> list[str]:
    """Link and image targets that only resolve inside the repository (not http(s), mailto or a #fragment)."""
    targets = [next(g for g in m.groups() if g) for m in _LINK.finditer(markdown)]
    return [t for t in targets if not t.startswith(("http://", "https://", "mailto:", "#"))]


def package_version() -> str:
    tree = ast.parse((ROOT / "engine" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            return str(ast.literal_eval(node.value))
    raise SystemExit("engine/__init__.py sets no __version__")


def expected() -> set[str]:
    names = set()
    for folder, target in MAPPING.items():
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in SHIPPED[folder] and "__pycache__" not in path.parts:
                names.add(f"{target}/{path.relative_to(ROOT / folder).as_posix()}")
    return names


def check(wheel: Path) -> list[str]:
    version = package_version()
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"spinemets-{version}.dist-info"
        metadata = archive.read(f"{info}/METADATA").decode() if f"{info}/METADATA" in names else ""
        top_level = archive.read(f"{info}/top_level.txt").decode().split() if f"{info}/top_level.txt" in names else []
    problems = []
    stray = sorted(n for n in names if not n.startswith(("spinemets/", f"{info}/")))
    if stray:
        problems.append(f"files outside spinemets/ and {info}/: {', '.join(stray[:10])}")
    if top_level not in ([], ["spinemets"]):
        problems.append(f"top-level import names {top_level}, expected only spinemets")
    missing = sorted(expected() - names)
    if missing:
        problems.append(f"{len(missing)} files of the repository missing from the wheel: {', '.join(missing[:10])}")
    if f"\nVersion: {version}\n" not in metadata:
        problems.append(f"the wheel's metadata does not say Version: {version}")
    if "spinemets/py.typed" not in names:
        problems.append("no spinemets/py.typed: callers' type checkers would not read the package's annotations")
    for licence in LICENCES:
        if f"{info}/licenses/{licence}" not in names or f"\nLicense-File: {licence}\n" not in metadata:
            problems.append(f"the licence file {licence} is not in {info}/licenses/ and the metadata")
    if "\nLicense-Expression: MIT" not in metadata or "\nClassifier: " not in metadata:
        problems.append("the metadata lacks the licence expression or the classifiers")
    head, _, description = metadata.partition("\n\n")
    if not description.strip() or relative_links(description):
        problems.append(f"the long description is empty or links inside the repository: {relative_links(description)}")
    for line in head.splitlines():
        if line.startswith("Requires-Dist: ") and "extra ==" not in line:
            name = re.split(r"[\s\[<>=!~;(]", line.removeprefix("Requires-Dist: "), maxsplit=1)[0].lower()
            if name in OPTIONAL:
                problems.append(f"{name} is a core requirement; it belongs to an extra ({line})")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    wheel = Path(argv[0])
    problems = check(wheel)
    for problem in problems:
        print(f"check_wheel: {wheel.name}: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_wheel: {wheel.name}: {len(expected())} repository files in place, only spinemets/ at the top")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
