"""Run mypy on the package as it installs: build/typecheck/spinemets/ is a tree of symlinks mirroring the wheel.

pyproject.toml maps engine/ to `spinemets` and ui/ to `spinemets.ui`; mypy cannot follow that mapping from the
repository's folders (and cannot see through setuptools' editable-install import hook), so this script lays out
the same names as symlinks, one per entry of engine/ plus `ui`, rebuilt on every run so that added or removed
modules are seen, then runs mypy with pyproject.toml's [tool.mypy] (mypy_path = build/typecheck,
packages = spinemets) and reports paths as engine/... and ui/..., where the files are edited.

    python .ci/typecheck.py [extra mypy options]
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"
PACKAGE = TREE / "spinemets"


def lay_out() -> None:
    """The package tree: symlinks only, so an edit in engine/ or ui/ is what mypy reads, with nothing to refresh."""
    if TREE.exists():
        shutil.rmtree(TREE)
    PACKAGE.mkdir(parents=True)
    for entry in sorted((ROOT / "engine").iterdir()):
        if entry.name == "__pycache__" or entry.suffix == ".egg-info":
            continue
        (PACKAGE / entry.name).symlink_to(entry)
    (PACKAGE / "ui").symlink_to(ROOT / "ui")


def to_repository_paths(text: str) -> str:
    """build/typecheck/spinemets/ui/x.py -> ui/x.py; build/typecheck/spinemets/x.py -> engine/x.py."""
    prefix = "build/typecheck/spinemets/"
    return text.replace(prefix + "ui/", "ui/").replace(prefix, "engine/")


def main(argv: list[str]) -> int:
    from mypy import api

    lay_out()
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), *argv])
    sys.stdout.write(to_repository_paths(stdout))
    sys.stderr.write(to_repository_paths(stderr))
    return status


if __name__ == "__main__":
    import os

    os.chdir(ROOT)
    sys.exit(main(sys.argv[1:]))
