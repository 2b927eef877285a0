"""`spinemets fhir`: export cases as FHIR R4 Bundles, import a Bundle as a case, publish the CodeSystem."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from ..errors import InputError
from .terminal import EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser("fhir", help="FHIR R4: export a case as a Bundle, import a Bundle, publish the CodeSystem")
    fhir_sub = p.add_subparsers(dest="fhir_command", required=True, metavar="ACTION")

    e = fhir_sub.add_parser("export", help="write each case as a FHIR R4 Bundle (JSON)")
    e.add_argument("cases", nargs="+", metavar="CASE",
                   help="case, vignette or Bundle file(s), - for stdin, or shipped vignettes' names "
                        "(`spinemets cases`)")
    e.add_argument("--out", metavar="FILE", help="write the Bundle to FILE (one case only; default: stdout)")
    e.add_argument("--out-dir", metavar="DIR", help="write each Bundle to DIR/<case id>.json")
    e.add_argument("--type", choices=["collection", "transaction"], default="collection",
                   help="collection (default) or transaction (entries POST to a FHIR server)")
    e.set_defaults(run=_cmd_export)

    i = fhir_sub.add_parser("import", help="read a FHIR R4 Bundle and print the case it holds (YAML)")
    i.add_argument("bundle", metavar="BUNDLE", help="Bundle file (.json), or - for stdin")
    i.add_argument("--out", metavar="FILE", help="write the case to FILE (default: stdout)")
    i.add_argument("--explain", action="store_true",
                   help="also list, on stderr, each field's resource and date and every resource or coded "
                        "element that was not read")
    i.set_defaults(run=_cmd_import)

    c = fhir_sub.add_parser("codesystem", help="print the project CodeSystem (FHIR JSON) for codes with no "
                                               "standard equivalent")
    c.add_argument("--out", metavar="FILE", help="write it to FILE (default: stdout)")
    c.set_defaults(run=_cmd_codesystem)

    m = fhir_sub.add_parser("mapping", help="print the field mapping as a Markdown table")
    m.set_defaults(run=_cmd_mapping)


def _cmd_export(args: argparse.Namespace) -> int:
    from .._internal import output
    from ..case_io import read_case_file
    from ..fhir import bundle_json, case_to_bundle

    if args.out and args.out_dir:
        raise InputError("give --out or --out-dir, not both")
    if len(args.cases) > 1 and not args.out_dir:
        raise InputError("several cases: give --out-dir DIR (each Bundle is written to DIR/<case id>.json)")
    from ..vignettes import resolve

    args.cases = [resolve(path) for path in args.cases]
    # every output checked before anything is read (never one of the cases, a folder, a device or a pipe), every
    # input read before anything is written, and each file written whole through the one guarded writer; a
    # missing --out-dir is made (docs/interoperability.md writes to a new bundles/)
    folder = output.folder(args.out_dir, args.cases) if args.out_dir else None
    target = None if folder else output.target(args.out or "-", args.cases)
    documents = [read_case_file(path) for path in args.cases]
    if folder is not None:
        for document in documents:
            bundle = bundle_json(case_to_bundle(document.case, args.type))
            output.write_file(folder / f"{document.case.id}.json", bundle, args.cases)
        print(f"wrote {len(documents)} Bundle(s) to {folder}", file=sys.stderr)
        return EXIT_OK
    assert target is not None
    with target.open(binary=False) as stream:
        stream.write(bundle_json(case_to_bundle(documents[0].case, args.type)))
    return EXIT_OK


def _cmd_import(args: argparse.Namespace) -> int:
    from .._internal import limits, output, reading, yamlio
    from ..case_io import case_from_data
    from ..errors import CaseError
    from ..fhir import is_bundle

    target = output.target(args.out or "-", [args.bundle])
    name = "<stdin>" if args.bundle == "-" else args.bundle
    # the one bounded, strict reader of every case file: a byte cap before parsing (/dev/zero stops at once),
    # nesting, duplicate keys and a byte-order mark refused as `evaluate` refuses them
    raw = reading.read_bounded(args.bundle, limits.CASE_FILE, CaseError, "give a Bundle file")
    try:
        data = yamlio.load_json(yamlio.decode_text(raw), limits=limits.CASE_FILE)
    except yamlio.YamlProblem as err:
        where = f"{name}:{err.line}" if err.line else name
        raise CaseError(f"{where}: {err.message}") from None
    if not is_bundle(data):
        raise CaseError(f"{name}: not a FHIR Bundle (expected resourceType: Bundle)")
    document = case_from_data(data, name)
    case = document.case
    if document.record is not None:
        from .cli import _tell_record
        if args.explain:
            for field, source in document.record.provenance.items():
                when = f", {source.date}" if source.date else ", undated"
                print(f"{name}: read {field} from {source.resource}{when}", file=sys.stderr)
        _tell_record(document.record, name, explain=args.explain)
    with target.open(binary=False) as stream:
        stream.write(yaml.safe_dump(case.model_dump(mode="json", exclude_none=True), sort_keys=False,
                                    allow_unicode=True, width=100))
    return EXIT_OK


def _cmd_codesystem(args: argparse.Namespace) -> int:
    from .._internal import output
    from ..fhir.publish import codesystem

    target = output.target(args.out or "-")
    with target.open(binary=False) as stream:
        stream.write(json.dumps(codesystem(), indent=2, ensure_ascii=False) + "\n")
    return EXIT_OK


def _cmd_mapping(_args: argparse.Namespace) -> int:
    from ..fhir.publish import mapping_table

    sys.stdout.write(mapping_table())
    return EXIT_OK
