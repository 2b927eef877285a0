"""What the docs publish from the mapping: the project CodeSystem (FHIR JSON) and the field mapping table."""
from __future__ import annotations

from typing import Any

from .mapping import Code, FieldMap, load

KIND_VALUE = {
    "identifier": "Bundle.identifier", "text": "Basic.extension (valueString)", "gender": "Patient.gender",
    "boolean": "valueBoolean", "integer": "valueInteger", "quantity": "valueQuantity",
    "coded": "valueCodeableConcept", "present": "verificationStatus / clinicalStatus",
    "tumor": "Condition.code", "sites": "Condition.bodySite",
}


def codesystem() -> dict[str, Any]:
    """The project CodeSystem: findings without a standard code, their answers, vertebrae, options, override
    reasons. Validated with the R4B model."""
    from fhir.resources.R4B.codesystem import CodeSystem

    from .. import __version__
    mapping = load()
    concepts = mapping.project_concepts()
    resource: dict[str, Any] = {
        "resourceType": "CodeSystem",
        "id": "spinemets",
        "url": mapping.project,
        "version": __version__,
        "name": "SpinemetsFindings",
        "title": "spinemets findings, answers, vertebrae, options and override reasons",
        "status": "draft",
        "experimental": True,
        "publisher": "the spinemets project",
        "description": (
            "Codes for the findings of the spinemets data dictionary that no SNOMED CT, LOINC, ICD-10 or ICD-O-3 "
            "code is known to mean exactly (SINS components, Bilsky and ASIA grades, refractoriness, imaging "
            "findings, ...). A finding's code is its data-dictionary field name; an answer's code is "
            "`field:value`; vertebrae are `vertebra:L2`, treatment options `option:PVP`, override reasons "
            "`override:technical`. Decision support, not a medical device."),
        "caseSensitive": True,
        "hierarchyMeaning": "grouped-by",
        "content": "complete",
        "count": sum(1 for _ in _walk(concepts)),
        "concept": concepts,
    }
    CodeSystem.model_validate(resource)
    return resource


def _walk(concepts: list[dict[str, Any]]) -> Any:
    for concept in concepts:
        yield concept
        yield from _walk(concept.get("concept", []))


def _code(code: Code) -> str:
    mapping = load()
    alias = next((a for a, uri in mapping.systems.items() if uri == code.system), code.system)
    name = {"project": "spinemets", "loinc": "LOINC", "snomed": "SNOMED CT", "icd10": "ICD-10", "icd10cm":
            "ICD-10-CM", "icdo3": "ICD-O-3", "cpt": "CPT"}.get(alias, alias)
    return f"{name} `{code.code}`"


def _codes(fmap: FieldMap) -> str:
    if fmap.kind == "tumor":
        return "; ".join(f"{value}: " + ", ".join(_code(c) for c in codes) for value, codes in fmap.answers.items())
    if fmap.kind == "coded":
        return _code(fmap.codes[0]) + "; answers spinemets `" + fmap.name + ":<value>`"
    if fmap.kind == "sites":
        return ", ".join(_code(c) for c in fmap.codes) + "; bodySite SNOMED CT body structure of the vertebra " \
            "(engine/fhir/vertebrae.yaml) and spinemets `vertebra:<level>`"
    return ", ".join(_code(c) for c in fmap.codes) or "-"


def mapping_table() -> str:
    """The mapping as a Markdown table, one row per case field and lesion-only field (docs/interoperability.md)."""
    mapping = load()
    profiles = {uri: uri.rsplit("/", 1)[-1] for uri in mapping.profiles.values()}
    rows = ["| field | resource (profile) | codes (first written, all read) | value (FHIRPath) | unit | local |",
            "|---|---|---|---|---|---|"]
    for fmap in [*mapping.fields.values(), *mapping.lesion_fields.values()]:
        resource = fmap.resource + (f" ({profiles[fmap.profile]})" if fmap.profile else "")
        unit = fmap.unit or ""
        if fmap.units:
            unit += " (also " + ", ".join(f"`{u}`" for u in fmap.units) + ")"
        unit = unit.replace("|", "\\|")
        local = "local: " + fmap.local_detail() if fmap.local else ""
        path = fmap.path.replace("|", "\\|")
        rows.append(f"| `{fmap.name}` | {resource} | {_codes(fmap)} | `{path}` ({KIND_VALUE[fmap.kind]}) "
                    f"| {unit} | {local} |")
    return "\n".join(rows) + "\n"
