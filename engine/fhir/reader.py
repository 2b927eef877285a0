"""A FHIR R4 Bundle read into a case by the mapping: absent data stays unknown, contradictions are input errors."""
from __future__ import annotations

import datetime as dt
import functools
import math
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import fhirpathpy
from pydantic import ValidationError

from ..case import VERTEBRAE, Case
from ..case_io import case_from_data
from ..errors import CaseError, Problem
from ..vignette import CaseDocument
from .mapping import FieldMap, Mapping, load

CODED_RESOURCES = ("Observation", "Condition", "AllergyIntolerance", "Basic")
SUBJECT_ELEMENT = {"Observation": "subject", "Condition": "subject", "AllergyIntolerance": "patient",
                   "Basic": "subject"}
OBSERVATION_SKIPPED = frozenset({"entered-in-error", "cancelled", "registered"})
NOT_PRESENT = frozenset({"inactive", "resolved", "remission"})
UNSURE = frozenset({"unconfirmed", "provisional", "differential"})
_CASE_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def is_bundle(data: Any) -> bool:
    """Whether parsed JSON/YAML is a FHIR Bundle (a mapping whose resourceType is Bundle)."""
    return isinstance(data, dict) and data.get("resourceType") == "Bundle"


@dataclass(frozen=True)
class Entry:
    """A resource of the Bundle with the name a reader can find it by."""

    index: int
    resource: dict[str, Any]
    full_url: str | None

    @property
    def type(self) -> str:
        return str(self.resource.get("resourceType"))

    @property
    def label(self) -> str:
        rid = self.resource.get("id")
        if isinstance(rid, str) and rid:
            return f"{self.type}/{rid}"
        if self.full_url:
            return f"{self.type} {self.full_url}"
        return f"{self.type} (entry {self.index})"


@dataclass(frozen=True)
class Found:
    """One value a resource gives for a field, with where and when it was stated."""

    value: Any
    entry: Entry
    when: dt.datetime | None


class _Problems(list[Problem]):
    def add(self, name: str, message: str, field: str | None = None) -> None:
        self.append(Problem(message, file=name, field=field))


def bundle_to_document(data: dict[str, Any], name: str = "<bundle>", case_id: str | None = None) -> CaseDocument:
    """Read a Bundle into a case (a CaseDocument without board); CaseError names the resources at fault."""
    case_data, sources = bundle_to_case_data(data, name, case_id)
    try:
        return case_from_data(case_data, name)
    except CaseError as err:
        problems = [replace(p, message=f"{p.message} (from {sources[p.field]})") if p.field in sources else p
                    for p in err.problems]
        raise CaseError(f"{name}: the Bundle's values do not match the data dictionary", problems) from None


def bundle_to_case(data: dict[str, Any], name: str = "<bundle>", case_id: str | None = None) -> Case:
    """The case a Bundle holds."""
    return bundle_to_document(data, name, case_id).case


def bundle_to_case_data(data: dict[str, Any], name: str = "<bundle>",
                        case_id: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The case as a mapping of data-dictionary fields, and for each field the resource it came from."""
    mapping = load()
    problems = _Problems()
    entries = list(_entries(data, name, problems))
    if problems:
        raise CaseError(f"{name}: not a readable FHIR Bundle", problems)
    reader = _Reader(mapping, data, entries, name, problems)
    values, sources = reader.read()
    if problems:
        raise CaseError(f"{name}: the Bundle cannot be read as a case", problems)
    values["id"] = case_id or reader.case_id()
    return values, sources


def _entries(data: dict[str, Any], name: str, problems: _Problems) -> Iterator[Entry]:
    if data.get("resourceType") != "Bundle":
        problems.add(name, "expected a FHIR Bundle (resourceType: Bundle)", "resourceType")
        return
    raw = data.get("entry", [])
    if not isinstance(raw, list):
        problems.add(name, "Bundle.entry must be a list", "entry")
        return
    for i, entry in enumerate(raw):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            problems.add(name, "each entry needs a resource with a resourceType", f"entry[{i}]")
            continue
        full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
        yield Entry(i, resource, full_url)


def _norm_icd(code: str) -> str:
    return code.replace(".", "").strip().upper()


def _codings(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        return []
    coding = value.get("coding")
    return [c for c in coding if isinstance(c, dict)] if isinstance(coding, list) else []


def parse_fhir_datetime(text: Any) -> dt.datetime | None:
    """A FHIR date, dateTime or instant as an aware datetime (partial dates start their period)."""
    if not isinstance(text, str) or not text:
        return None
    value = text.strip()
    try:
        if len(value) == 4:
            return dt.datetime(int(value), 1, 1, tzinfo=dt.UTC)
        if len(value) == 7:
            return dt.datetime(int(value[:4]), int(value[5:7]), 1, tzinfo=dt.UTC)
        # FURB162 is wrong here: fromisoformat("2020-01-01Z") fails where the replaced text reads
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))  # noqa: FURB162
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class _Reader:
    """One pass over a Bundle's entries: select by coding, validate with the R4B models, read by FHIRPath."""

    def __init__(self, mapping: Mapping, bundle: dict[str, Any], entries: list[Entry], name: str,
                 problems: _Problems) -> None:
        self.mapping, self.bundle, self.entries, self.name, self.problems = mapping, bundle, entries, name, problems
        self.by_code: dict[tuple[str, str], list[Entry]] = {}
        self.by_type: dict[str, list[Entry]] = {}
        self.validated: set[int] = set()
        self.invalid: set[int] = set()
        self.project_codes = mapping.project_codes
        for entry in entries:
            self.by_type.setdefault(entry.type, []).append(entry)
            if entry.type in CODED_RESOURCES:
                for coding in _codings(entry.resource.get("code")):
                    system, code = coding.get("system"), coding.get("code")
                    if isinstance(system, str) and isinstance(code, str):
                        self.by_code.setdefault((system, code), []).append(entry)
        self.patient = self._patient()

    # --- the patient and whose resources these are ---------------------------------------------------------

    def _patient(self) -> Entry | None:
        patients = self.by_type.get("Patient", [])
        distinct: dict[str, Entry] = {}
        for entry in patients:
            distinct.setdefault(str(entry.resource.get("id") or entry.full_url or entry.index), entry)
        if len(distinct) > 1:
            first, second = list(distinct.values())[:2]
            self.problems.add(self.name, f"the Bundle holds two patients, {first.label} and {second.label}; "
                              "a case is about one patient", f"entry[{second.index}]")
            return None
        return patients[0] if patients else None

    def _about_patient(self, entry: Entry) -> bool:
        """False (with a problem) when the resource names a patient other than the Bundle's."""
        if self.patient is None:
            return True
        ref = entry.resource.get(SUBJECT_ELEMENT.get(entry.type, "subject"))
        reference = ref.get("reference") if isinstance(ref, dict) else None
        if not isinstance(reference, str) or not reference:
            return True
        pid = self.patient.resource.get("id")
        own = {self.patient.full_url} if self.patient.full_url else set()
        if isinstance(pid, str):
            own.add(f"Patient/{pid}")
        if reference in own:
            return True
        tail = reference.split("/_history/")[0]
        if isinstance(pid, str) and tail.endswith(f"/Patient/{pid}"):
            return True
        others = {e.full_url for e in self.by_type.get("Patient", []) if e.full_url}
        if reference.startswith("Patient/") or "/Patient/" in reference or reference in others:
            self.problems.add(self.name, f"{entry.label} is about {reference}, not the Bundle's patient "
                              f"{self.patient.label}", f"entry[{entry.index}]")
            return False
        return True  # an urn:uuid of no entry here: nothing says it is someone else

    def case_id(self) -> str:
        """The case id: the Bundle's case-id identifier, else the patient's id, else 'fhir-bundle'."""
        ident = self.bundle.get("identifier")
        for item in ident if isinstance(ident, list) else [ident]:
            if isinstance(item, dict) and item.get("system") == self.mapping.case_id_system:
                value = item.get("value")
                if isinstance(value, str) and value:
                    return value
        pid = self.patient.resource.get("id") if self.patient else None
        if isinstance(pid, str) and pid and pid[0].isalnum() and set(pid) <= _CASE_ID_CHARS and len(pid) <= 72:
            return f"patient-{pid}"
        return "fhir-bundle"

    # --- validation ----------------------------------------------------------------------------------------

    def _valid(self, entry: Entry) -> bool:
        """Validate a selected resource with its R4B model, once; an invalid one is reported and skipped."""
        if entry.index in self.validated:
            return True
        if entry.index in self.invalid:
            return False
        model = _model_class(entry.type)
        if model is None:
            self.problems.add(self.name, f"{entry.label}: unknown FHIR R4 resource type", f"entry[{entry.index}]")
            self.invalid.add(entry.index)
            return False
        try:
            model.model_validate(entry.resource)
        except ValidationError as err:
            for e in err.errors(include_url=False)[:5]:
                where = ".".join(str(p) for p in e["loc"])
                self.problems.add(self.name, f"{entry.label} is not valid FHIR R4: {where}: {e['msg']}",
                                  f"entry[{entry.index}].resource.{where}".rstrip("."))
            self.invalid.add(entry.index)
            return False
        self._check_project_codes(entry)
        self.validated.add(entry.index)
        return True

    def _check_project_codes(self, entry: Entry) -> None:
        resource = entry.resource
        places = [resource.get("code"), resource.get("valueCodeableConcept")]
        places += resource.get("bodySite") or [] if isinstance(resource.get("bodySite"), list) else []
        for place in places:
            for coding in _codings(place):
                if coding.get("system") == self.mapping.project and coding.get("code") not in self.project_codes:
                    self.problems.add(self.name, f"{entry.label}: {coding.get('code')!r} is not a code of the "
                                      f"spinemets CodeSystem ({self.mapping.project})", f"entry[{entry.index}]")

    # --- selection -----------------------------------------------------------------------------------------

    def _selected(self, fmap: FieldMap) -> list[Entry]:
        if fmap.kind == "tumor":
            hits = [e for e in self.by_type.get("Condition", []) if self._tumor_values(fmap, e)]
        else:
            hits = []
            seen: set[int] = set()
            for code in fmap.codes:
                for entry in self._with_code(code.system, code.code):
                    if entry.type == fmap.resource and entry.index not in seen:
                        seen.add(entry.index)
                        hits.append(entry)
        return [e for e in hits if self._valid(e) and self._about_patient(e)]

    def _with_code(self, system: str, code: str) -> list[Entry]:
        if system not in self.mapping.icd10_family:
            return self.by_code.get((system, code), [])
        prefix = _norm_icd(code)
        return [e for (s, c), entries in self.by_code.items() if s in self.mapping.icd10_family
                and _norm_icd(c).startswith(prefix) for e in entries]

    def _matches(self, coding: dict[str, Any], system: str, code: str) -> bool:
        got_system, got_code = coding.get("system"), coding.get("code")
        if not isinstance(got_code, str):
            return False
        if system in self.mapping.icd10_family:
            return got_system in self.mapping.icd10_family and _norm_icd(got_code).startswith(_norm_icd(code))
        return got_system == system and got_code == code

    def _tumor_values(self, fmap: FieldMap, entry: Entry) -> set[str]:
        exact, prefixes = _tumor_index(self.mapping, fmap.name)
        family = self.mapping.icd10_family
        values: set[str] = set()
        for coding in _codings(entry.resource.get("code")):
            system, code = coding.get("system"), coding.get("code")
            if not isinstance(code, str):
                continue
            if system in family:
                norm = _norm_icd(code)
                matched = {value for prefix, value in prefixes if norm.startswith(prefix)}
                if not matched and any(lo <= norm[:3] <= hi for lo, hi in fmap.other_ranges):
                    matched = {"other"}
                values |= matched
            elif isinstance(system, str) and (system, code) in exact:
                values.add(exact[(system, code)])
        return values

    # --- reading -------------------------------------------------------------------------------------------

    def read(self) -> tuple[dict[str, Any], dict[str, str]]:
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for fmap in self.mapping.fields.values():
            if fmap.kind == "identifier":
                continue
            found = self._found(fmap)
            if not found:
                continue
            chosen = self._resolve(fmap, found)
            if chosen is None:
                continue
            _put(values, fmap.name, chosen.value)
            sources[fmap.name] = chosen.entry.label
        return values, sources

    def _found(self, fmap: FieldMap) -> list[Found]:
        if fmap.kind == "gender":
            if self.patient is None or not self._valid(self.patient):
                return []
            gender = self.patient.resource.get("gender")
            return [Found(gender, self.patient, None)] if gender in ("female", "male", "other") else []
        found: list[Found] = []
        for entry in self._selected(fmap):
            value = self._value(fmap, entry)
            if value is not None:
                found.append(Found(value, entry, _stated_at(entry.resource)))
        return found

    def _value(self, fmap: FieldMap, entry: Entry) -> Any:
        resource = entry.resource
        if entry.type == "Observation" and resource.get("status") in OBSERVATION_SKIPPED:
            return None
        if fmap.kind in ("present", "tumor", "sites"):
            presence = _presence(resource)
            if fmap.kind == "present":
                return presence
            if presence is not True:
                return None  # a refuted, resolved or unsure cancer says nothing of the present one
        got = _evaluate(fmap.path, resource)
        reader = _READERS[fmap.kind]
        try:
            return reader(self, fmap, entry, got)
        except _Refused as why:
            self.problems.add(self.name, f"{entry.label}: {why}", fmap.name)
            return None

    def _resolve(self, fmap: FieldMap, found: list[Found]) -> Found | None:
        """One value from several statements: equal values agree; the newest of differing values wins when every
        statement is dated and one is newest; otherwise the two that disagree are named."""
        if fmap.kind == "sites":
            levels = sorted({lv for f in found for lv in f.value}, key=VERTEBRAE.index)
            return Found(levels, found[0].entry, None)
        distinct = {_key(f.value) for f in found}
        if len(distinct) == 1:
            return found[0]
        dated = [f for f in found if f.when is not None]
        if len(dated) == len(found):
            newest = max(f.when for f in dated)  # type: ignore[type-var]
            latest = [f for f in dated if f.when == newest]
            if len({_key(f.value) for f in latest}) == 1:
                return latest[0]
        a = found[0]
        b = next(f for f in found if _key(f.value) != _key(a.value))
        self.problems.add(self.name, f"{a.entry.label} says {_show(a.value)} but {b.entry.label} says "
                          f"{_show(b.value)}; correct or remove one of them (or date both: the newer one counts)",
                          fmap.name)
        return None

    # --- one reader per kind -------------------------------------------------------------------------------

    def _boolean(self, fmap: FieldMap, entry: Entry, got: list[Any]) -> bool | None:
        if not got:
            self._expect_value(entry, "valueBoolean")
            return None
        return bool(got[0])

    def _integer(self, fmap: FieldMap, entry: Entry, got: list[Any]) -> int | None:
        if got:
            return int(got[0])
        quantity = entry.resource.get("valueQuantity")
        if isinstance(quantity, dict) and quantity.get("value") is not None:
            number = Decimal(str(quantity["value"]))
            if number != number.to_integral_value():
                raise _Refused(f"expected a whole number for {fmap.name}, got {quantity['value']}")
            return int(number)
        self._expect_value(entry, "valueInteger")
        return None

    def _quantity(self, fmap: FieldMap, entry: Entry, got: list[Any]) -> Any:
        if not got:
            self._expect_value(entry, "valueQuantity")
            return None
        quantity = got[0]
        raw = quantity.get("value")
        if raw is None:
            return None
        unit = quantity.get("code") if quantity.get("system") in (None, self.mapping.systems["ucum"]) else None
        unit = unit if unit is not None else quantity.get("unit")
        if isinstance(raw, bool) or not isinstance(raw, (int, float, Decimal)):
            raise _Refused(f"valueQuantity.value of {fmap.name} is not a number")
        if unit is not None and unit != fmap.unit:
            if unit not in fmap.units:
                accepted = ", ".join([str(fmap.unit)] + list(fmap.units))
                raise _Refused(f"unit {unit!r} is not one read for {fmap.name} (UCUM: {accepted})")
            raw = float(raw) * fmap.units[unit]
        if isinstance(raw, int):
            return raw
        if _is_int_field(fmap.name):
            return math.floor(raw + (1e-9 if isinstance(raw, float) else 0))
        return float(raw)  # a Decimal made from the JSON number's text: the same float

    def _coded(self, fmap: FieldMap, entry: Entry, got: list[Any]) -> str | None:
        if not got:
            self._expect_value(entry, "valueCodeableConcept")
            return None
        values = {v for coding in got for v, codes in fmap.answers.items()
                  for c in codes if self._matches(coding, c.system, c.code)}
        if len(values) > 1:
            raise _Refused(f"its codings give {fmap.name} several values ({', '.join(sorted(values))})")
        if not values:
            shown = ", ".join(f"{c.get('system')}|{c.get('code')}" for c in got)
            raise _Refused(f"no answer of {fmap.name} is coded ({shown}); expected one of "
                           f"{', '.join(codes[0].code for codes in fmap.answers.values())}")
        return values.pop()

    def _tumor(self, fmap: FieldMap, entry: Entry, got: list[Any]) -> str | None:
        values = self._tumor_values(fmap, entry)
        if len(values) > 1:
            raise _Refused(f"its codings name several primary tumours ({', '.join(sorted(values))})")
        return values.pop() if values else None

    def _sites(self, fmap: FieldMap, entry: Entry, got: list[Any]) -> list[str] | None:
        prefix = "vertebra:"
        levels = {c.get("code", "")[len(prefix):] for c in got
                  if c.get("system") == self.mapping.project and str(c.get("code", "")).startswith(prefix)}
        levels = {lv for lv in levels if lv in VERTEBRAE}
        return sorted(levels, key=VERTEBRAE.index) or None

    def _text(self, fmap: FieldMap, entry: Entry, got: list[Any]) -> str | None:
        return str(got[0]) if got else None

    def _expect_value(self, entry: Entry, element: str) -> None:
        """_Refused when the resource has another value[x]; without any, the field is unknown (the reader's None)."""
        if entry.resource.get("dataAbsentReason") is not None:
            return  # the value is absent on purpose: unknown
        value_keys = [k for k in entry.resource if k.startswith("value")]
        if value_keys:
            raise _Refused(f"expected {element}, got {value_keys[0]}")


class _Refused(ValueError):
    """A selected resource whose value cannot be read as the field."""


_READERS: dict[str, Callable[[_Reader, FieldMap, Entry, list[Any]], Any]] = {
    "boolean": _Reader._boolean, "integer": _Reader._integer, "quantity": _Reader._quantity,
    "coded": _Reader._coded, "tumor": _Reader._tumor, "sites": _Reader._sites, "text": _Reader._text,
    "present": lambda self, fmap, entry, got: None, "gender": lambda self, fmap, entry, got: None,
}


def _presence(resource: dict[str, Any]) -> bool | None:
    """A Condition or AllergyIntolerance as true, false or unknown (None)."""
    verification = {c.get("code") for c in _codings(resource.get("verificationStatus"))}
    clinical = {c.get("code") for c in _codings(resource.get("clinicalStatus"))}
    if "entered-in-error" in verification:
        return None
    if "refuted" in verification:
        return False
    if clinical & NOT_PRESENT:
        return False
    if verification & UNSURE:
        return None
    return True


def _stated_at(resource: dict[str, Any]) -> dt.datetime | None:
    for key in ("effectiveDateTime", "effectiveInstant", "issued", "recordedDate", "lastOccurrence"):
        when = parse_fhir_datetime(resource.get(key))
        if when is not None:
            return when
    period = resource.get("effectivePeriod")
    if isinstance(period, dict):
        when = parse_fhir_datetime(period.get("end")) or parse_fhir_datetime(period.get("start"))
        if when is not None:
            return when
    meta = resource.get("meta")
    return parse_fhir_datetime(meta.get("lastUpdated")) if isinstance(meta, dict) else None


@functools.cache
def _tumor_index(mapping: Mapping, name: str) -> tuple[dict[tuple[str, str], str], tuple[tuple[str, str], ...]]:
    """The tumour answers as exact codings and as ICD prefixes, for one pass over a Condition's codings."""
    fmap = mapping.fields[name]
    exact: dict[tuple[str, str], str] = {}
    prefixes: list[tuple[str, str]] = []
    for value, codes in fmap.answers.items():
        for code in codes:
            if code.system in mapping.icd10_family:
                prefixes.append((_norm_icd(code.code), value))
            else:
                exact[(code.system, code.code)] = value
    return exact, tuple(prefixes)


_COMPILED: dict[str, Callable[..., Any]] = {}


def _evaluate(path: str, resource: dict[str, Any]) -> list[Any]:
    compiled = _COMPILED.get(path)
    if compiled is None:
        compiled = _COMPILED[path] = fhirpathpy.compile(path, None)
    result = compiled(resource, None)  # no model: the resource is plain FHIR JSON
    return list(result) if isinstance(result, list) else [result]


_MODELS: dict[str, Any] = {}


def _model_class(resource_type: str) -> Any:
    if resource_type not in _MODELS:
        from fhir.resources.R4B import get_fhir_model_class
        try:
            _MODELS[resource_type] = get_fhir_model_class(resource_type)
        except (KeyError, ValueError, ImportError, AttributeError):
            _MODELS[resource_type] = None
    return _MODELS[resource_type]


def _is_int_field(name: str) -> bool:
    info = Case.model_fields.get(name)
    return info is not None and int in typing.get_args(info.annotation)


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def _put(values: dict[str, Any], name: str, value: Any) -> None:
    if name.startswith("sins."):
        values.setdefault("sins", {})[name.split(".", 1)[1]] = value
    else:
        values[name] = value
