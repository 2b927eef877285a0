"""A case written as a FHIR R4 Bundle by the mapping: one resource per known field, nothing for unknown ones."""
from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from ..case import PER_LEVEL_FIELDS, SINS_COMPONENTS, Case, known_values
from ..lesion import Lesion
from .mapping import FieldMap, Mapping, load

BundleType = Literal["collection", "transaction"]
# The mapping's names of the findings that belong to one vertebra (a SINS component each on its own).
PER_LEVEL_NAMES = frozenset(
    [n for n in PER_LEVEL_FIELDS if n != "sins"] + [f"sins.{c}" for c in SINS_COMPONENTS])
# Fixed, so that the same case always gives the same Bundle (golden files, diffs between exports).
_NAMESPACE = uuid.UUID("6f1d3c52-6a8e-4f5e-9b0e-2f9d0c7d9a31")
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"


def case_to_bundle(case: Case, bundle_type: BundleType = "collection") -> dict[str, Any]:
    """The case as a FHIR R4 Bundle (a JSON mapping), validated with the R4B models."""
    mapping = load()
    writer = _Writer(mapping, case)
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "identifier": {"system": mapping.case_id_system, "value": case.id},
        "type": bundle_type,
        "entry": [writer.entry(resource, bundle_type) for resource in writer.resources()],
    }
    from fhir.resources.R4B.bundle import Bundle
    Bundle.model_validate(bundle)  # a writer bug must not leave the process as a Bundle
    return bundle


def bundle_json(bundle: dict[str, Any]) -> str:
    """The Bundle as the JSON text written to files: indented, keys in the order built, UTF-8."""
    return json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"


class _Writer:
    def __init__(self, mapping: Mapping, case: Case) -> None:
        self.mapping, self.case = mapping, case
        self.values = known_values(case)
        self.patient_url = self.url("Patient", "patient")

    def url(self, resource_type: str, rid: str) -> str:
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{self.case.id}/{resource_type}/{rid}')}"

    def entry(self, resource: dict[str, Any], bundle_type: BundleType) -> dict[str, Any]:
        entry: dict[str, Any] = {"fullUrl": self.url(resource["resourceType"], resource["id"]), "resource": resource}
        if bundle_type == "transaction":
            entry["request"] = {"method": "POST", "url": resource["resourceType"]}
        return entry

    def subject(self) -> dict[str, str]:
        return {"reference": self.patient_url}

    def resources(self) -> list[dict[str, Any]]:
        patient: dict[str, Any] = {"resourceType": "Patient", "id": "patient"}
        if self.case.sex is not None:
            patient["gender"] = self.case.sex
        out = [patient]
        text = self.case_text()
        if text is not None:
            out.append(text)
        lesions = self.case.lesions or []
        for fmap in self.mapping.fields.values():
            if fmap.kind in ("identifier", "text", "gender") or fmap.name not in self.values:
                continue
            if lesions and (fmap.kind == "sites" or fmap.name in PER_LEVEL_NAMES):
                continue  # in lesion form the levels and their findings are the lesions' own
            out.append(self.resource(fmap, self.values[fmap.name]))
        for lesion in lesions:
            out += self.lesion_resources(lesion)
        return out

    def lesion_resources(self, lesion: Lesion) -> list[dict[str, Any]]:
        """One lesion: the metastasis Condition at its vertebra, then each known finding on that vertebra (an
        Observation's `focus` is the lesion's Condition, as mCODE ties a tumour's Observations to it)."""
        level = lesion.level
        prefix = level.lower()
        condition = self.condition(self.mapping.fields["levels"], f"{prefix}-metastasis", [level], level)
        focus = self.url("Condition", condition["id"])
        out = [condition]
        findings = [f for f in self.mapping.fields.values() if f.name in PER_LEVEL_NAMES]
        for fmap in [*findings, *self.mapping.lesion_fields.values()]:
            value = _lesion_value(lesion, fmap.name)
            if value is not None:
                out.append(self.resource(fmap, value, level=level, focus=focus))
        return out

    def case_text(self) -> dict[str, Any] | None:
        extensions = [{"url": self.mapping.extensions[name], "valueString": value}
                      for name, value in (("title", self.case.title), ("presentation", self.case.presentation))
                      if value]  # FHIR strings cannot be empty: an empty title is not carried
        if not extensions:
            return None
        code = self.mapping.fields["title"].codes[0]
        return {"resourceType": "Basic", "id": "case-text", "extension": extensions,
                "code": {"coding": [code.coding()], "text": code.display}, "subject": self.subject()}

    def resource(self, fmap: FieldMap, value: Any, level: str | None = None,
                 focus: str | None = None) -> dict[str, Any]:
        rid = fmap.name.replace("_", "-").replace(".", "-")
        if level is not None:
            rid = f"{level.lower()}-{rid}"
        if fmap.kind in ("present", "tumor", "sites"):
            return self.condition(fmap, rid, value, level)
        code = fmap.codes[0]
        observation: dict[str, Any] = {"resourceType": "Observation", "id": rid, "status": "final",
                                       "code": {"coding": [code.coding()], "text": fmap.title},
                                       "subject": self.subject()}
        if focus is not None:
            observation["focus"] = [{"reference": focus}]
        if level is not None:
            observation["bodySite"] = self.mapping.vertebra_site(level)
        if fmap.kind == "boolean":
            observation["valueBoolean"] = value
        elif fmap.kind == "integer":
            observation["valueInteger"] = value
        elif fmap.kind == "quantity":
            observation["valueQuantity"] = {"value": value, "unit": fmap.unit, "system": self.mapping.systems["ucum"],
                                            "code": fmap.unit}
        elif fmap.kind == "coded":
            answer = fmap.answers[value]
            observation["valueCodeableConcept"] = {"coding": [c.coding() for c in answer], "text": str(value)}
        else:
            raise AssertionError(f"no writer for kind {fmap.kind}")
        return observation

    def condition(self, fmap: FieldMap, rid: str, value: Any, level: str | None = None) -> dict[str, Any]:
        is_allergy = fmap.resource == "AllergyIntolerance"
        resource: dict[str, Any] = {"resourceType": fmap.resource, "id": rid}
        if fmap.profile:
            resource["meta"] = {"profile": [fmap.profile]}
        present = value is not False
        clinical_system = ALLERGY_CLINICAL if is_allergy else CONDITION_CLINICAL
        verification_system = ALLERGY_VERIFICATION if is_allergy else CONDITION_VERIFICATION
        if present or is_allergy:  # an AllergyIntolerance always states its clinical status (ait-1)
            resource["clinicalStatus"] = {"coding": [{"system": clinical_system,
                                                      "code": "active" if present else "inactive"}]}
        resource["verificationStatus"] = {"coding": [{"system": verification_system,
                                                      "code": "confirmed" if present else "refuted"}]}
        if fmap.kind == "tumor":
            resource["category"] = [{"coding": [{"system": CONDITION_CATEGORY, "code": "problem-list-item"}]}]
            answer = fmap.answers[value][0]
            resource["code"] = {"coding": [answer.coding()], "text": f"Primary tumour: {value}"}
        elif fmap.kind == "sites":
            resource["category"] = [{"coding": [{"system": CONDITION_CATEGORY, "code": "problem-list-item"}]}]
            text = f"Spinal metastasis at {level}" if level is not None else "Spinal metastases to treat"
            resource["code"] = {"coding": [c.coding() for c in fmap.codes], "text": text}
            # a flat case's levels keep the project's codes alone (its Bundles are unchanged since issue 12)
            resource["bodySite"] = [self.mapping.vertebra_site(level)] if level is not None else \
                [{"coding": [self.mapping.vertebra(lv).coding()], "text": lv} for lv in value]
        else:
            code = fmap.codes[0]
            resource["code"] = {"coding": [code.coding()], "text": fmap.title}
            if level is not None:
                resource["bodySite"] = [self.mapping.vertebra_site(level)]
        resource["patient" if is_allergy else "subject"] = self.subject()
        return resource


def _lesion_value(lesion: Lesion, name: str) -> Any:
    if name.startswith("sins."):
        return getattr(lesion.sins, name.split(".", 1)[1]) if lesion.sins is not None else None
    return getattr(lesion, name)
