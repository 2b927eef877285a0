"""`spinemets cases` and vignettes by name wherever a command takes a case file."""
from __future__ import annotations

import json

import pytest
import yaml

from spinemets import CaseError, get_engine, load_vignette, read_case_file, vignette_files
from spinemets.commands.cli import main
from spinemets.ui.labels import neutral_title
from spinemets.vignettes import resolve

from .conftest import CASES_DIR


def test_cases_lists_every_shipped_vignette_by_name_with_a_title_that_gives_nothing_away(capsys):
    assert main(["cases", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    files = sorted(p for p in CASES_DIR.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    assert [r["name"] for r in rows] == [p.stem for p in files]
    rulebook = get_engine().rulebook
    for number, (row, path) in enumerate(zip(rows, files, strict=True), start=1):
        document = read_case_file(path)
        # the trainee page's own words for it, numbered as that page numbers it
        assert row["title"] == neutral_title(rulebook, number, document.case)
        assert document.case.title and document.case.title not in row["title"]
        assert document.board is not None and document.board.top not in row["title"]
    assert main(["cases"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(files) and lines[0].split()[0] == files[0].stem and "Vignette 1" in lines[0]


def test_evaluate_takes_a_vignette_name(capsys):
    assert main(["evaluate", "teach-coagulopathy-lung-t9", "--json"]) == 0
    by_name = json.loads(capsys.readouterr().out)
    assert main(["evaluate", str(CASES_DIR / "teach-coagulopathy-lung-t9.yaml"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == by_name
    assert main(["evaluate", "teach-coagulopathy-lung-t9.yaml", "--json"]) == 0  # the file name works too
    assert json.loads(capsys.readouterr().out) == by_name


def test_a_file_that_exists_wins_over_a_vignette_of_that_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "teach-coagulopathy-lung-t9").write_text(yaml.safe_dump({"id": "local-file", "primary_tumor": "lung"}))
    assert main(["evaluate", "teach-coagulopathy-lung-t9", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["case_id"] == "local-file"


def test_a_name_that_is_neither_is_refused_with_the_nearest_names(capsys):
    assert main(["evaluate", "coagulopathy"]) == 2
    err = capsys.readouterr().err
    assert "no such file, and no vignette of that name" in err and "teach-coagulopathy-lung-t9" in err
    assert "Traceback" not in err
    assert main(["evaluate", "teach-coagulopathy-lung-t8"]) == 2  # a typo: the close name is offered
    assert "teach-coagulopathy-lung-t9" in capsys.readouterr().err
    with pytest.raises(CaseError, match="spinemets cases"):
        resolve("no-such-vignette-at-all-xyz")


def test_a_path_with_folders_is_never_taken_for_a_name(tmp_path, capsys):
    missing = tmp_path / "teach-coagulopathy-lung-t9.yaml"
    assert resolve(str(missing)) == str(missing)
    assert main(["evaluate", str(missing)]) == 2
    assert "vignette of that name" not in capsys.readouterr().err
    assert resolve("-") == "-"


def test_fhir_export_and_board_record_take_vignette_names(tmp_path, capsys):
    assert main(["fhir", "export", "teach-coagulopathy-lung-t9", "teach-sins-unstable-t12", "--out-dir",
                 str(tmp_path / "bundles")]) == 0
    assert len(list((tmp_path / "bundles").glob("*.json"))) == 2
    db = tmp_path / "board.sqlite"
    assert main(["board", "record", "teach-sins-unstable-t12", "--chosen", "SURGERY", "--db", str(db)]) == 0
    capsys.readouterr()


def test_load_vignette_and_vignette_files():
    shipped = {p.stem for p in CASES_DIR.iterdir() if p.suffix in (".yaml", ".yml", ".json")}
    assert set(vignette_files()) == shipped
    assert load_vignette("teach-sins-unstable-t12").case.id == read_case_file(
        CASES_DIR / "teach-sins-unstable-t12.yaml").case.id
    with pytest.raises(CaseError, match="teach-sins-unstable-t12"):
        load_vignette("sins-unstable")
