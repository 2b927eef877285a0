"""A FHIR R4 Bundle read into a case by the mapping: absent data stays unknown; a value that cannot be read, or
that two resources state differently, voids its field (unknown, with a note) and the rest is read. Only a
Bundle that is not one patient's, or of which nothing can be read, is refused."""
from __future__ import annotations

import datetime as dt
import functools
import math
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import fhirpathpy
from pydantic import ValidationError

from ..case import PER_LEVEL_FIELDS, SINS_COMPONENTS, VERTEBRAE, Case
from ..case_io import case_from_data
from ..errors import CaseError, Problem
from ..record import NoteKind, Provenance, RecordNote, RecordReading
from ..vignette import CaseDocument
from .mapping import Code, FieldMap, FieldQuestions, Lab, Mapping, load

CODED_RESOURCES = ("Observation", "Condition", "AllergyIntolerance", "Basic")
SUBJECT_ELEMENT = {"Observation": "subject", "Condition": "subject", "AllergyIntolerance": "patient",
                   "Basic": "subject", "MedicationRequest": "subject", "MedicationStatement": "subject"}
MEDICATION_ACTIVE = {"MedicationRequest": frozenset({"active", "on-hold"}),
                     "MedicationStatement": frozenset({"active", "intended", "on-hold"})}
FUTURE_TOLERANCE = dt.timedelta(days=1)  # time zones and clocks: a day ahead is not yet "the future"
OBSERVATION_SKIPPED = frozenset({"entered-in-error", "cancelled", "registered"})
NOT_PRESENT = frozenset({"inactive", "resolved", "remission"})
UNSURE = frozenset({"unconfirmed", "provisional", "differential"})
# The mapping's names of the findings that belong to one vertebra (read per lesion in lesion form).
PER_LEVEL_NAMES = frozenset(
    [n for n in PER_LEVEL_FIELDS if n != "sins"] + [f"sins.{c}" for c in SINS_COMPONENTS])
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


def bundle_to_document(data: dict[str, Any], name: str = "<bundle>", case_id: str | None = None,
                       patient_id: str | None = None, today: dt.date | None = None) -> CaseDocument:
    """Read a Bundle into a case (a CaseDocument whose `record` holds provenance and notes); CaseError names
    the resources at fault when the Bundle is not one patient's or nothing in it can be read."""
    case_data, reading = _read(data, name, case_id, patient_id, today)
    notes = list(reading.notes)
    provenance = dict(reading.provenance)
    lesion_values = sum(len(lesion) for lesion in case_data.get("lesions") or ())
    for _attempt in range(len(case_data) + lesion_values + 1):
        try:
            document = case_from_data(case_data, name)
        except CaseError as err:
            fields = [p.field for p in err.problems if p.field]
            if not fields or not any(_drop(case_data, f) for f in fields):
                raise CaseError(f"{name}: the Bundle's values do not match the data dictionary",
                                err.problems) from None
            for p in err.problems:
                source = provenance.pop(p.field, None) if p.field else None
                notes.append(RecordNote(kind="voided", field=p.field, resource=source.resource if source else None,
                                        message=p.message + (f" (from {source.resource})" if source else "")))
            continue
        if set(case_data) <= {"id"} and any(n.kind == "voided" for n in notes):
            raise CaseError(f"{name}: nothing in the Bundle can be read as a case",
                            [Problem(n.message, file=name, field=n.field) for n in notes if n.kind == "voided"])
        record = RecordReading(provenance=provenance, notes=tuple(notes))
        return document.model_copy(update={"record": record})
    raise AssertionError("unreachable: every attempt drops a field")  # pragma: no cover


def bundle_to_case(data: dict[str, Any], name: str = "<bundle>", case_id: str | None = None) -> Case:
    """The case a Bundle holds."""
    return bundle_to_document(data, name, case_id).case


def bundle_to_case_data(data: dict[str, Any], name: str = "<bundle>",
                        case_id: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The case as a mapping of data-dictionary fields, and for each field the resource it came from."""
    case_data, reading = _read(data, name, case_id, None, None)
    return case_data, {f: p.resource for f, p in reading.provenance.items()}


def _read(data: dict[str, Any], name: str, case_id: str | None, patient_id: str | None,
          today: dt.date | None) -> tuple[dict[str, Any], RecordReading]:
    mapping = load()
    problems = _Problems()
    notes: list[RecordNote] = []
    entries = list(_entries(data, name, problems, notes))
    if problems:
        raise CaseError(f"{name}: not a readable FHIR Bundle", problems)
    reader = _Reader(mapping, data, entries, name, problems, notes, patient_id, today)
    values, provenance = reader.read()
    if problems:  # the Bundle is not one patient's: nothing of it may be used
        raise CaseError(f"{name}: the Bundle cannot be read as a case", problems)
    if not values and any(n.kind == "voided" for n in notes):
        raise CaseError(f"{name}: nothing in the Bundle can be read as a case",
                        [Problem(n.message, file=name, field=n.field) for n in notes if n.kind == "voided"])
    values["id"] = case_id or reader.case_id()
    return values, RecordReading(provenance=provenance, notes=tuple(notes))


def _drop(values: dict[str, Any], name: str) -> bool:
    parts = name.split(".", 2)
    if parts[0] == "lesions" and len(parts) == 3 and parts[1].isdigit():
        lesions = values.get("lesions")
        i = int(parts[1])
        if not isinstance(lesions, list) or i >= len(lesions) or parts[2] == "level":
            return False
        return _drop(lesions[i], parts[2])
    if name.startswith("sins.") and isinstance(values.get("sins"), dict):
        return values["sins"].pop(name.split(".", 1)[1], None) is not None
    if name == "sins" or name not in values or name == "id":
        return False
    del values[name]
    return True


def _entries(data: dict[str, Any], name: str, problems: _Problems, notes: list[RecordNote]) -> Iterator[Entry]:
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
            notes.append(RecordNote(kind="ignored", resource=f"entry[{i}]",
                                    message=f"entry[{i}] has no resource with a resourceType: not read"))
            continue
        full_url = entry.get("fullUrl") if isinstance(entry, dict) and isinstance(entry.get("fullUrl"), str) else None
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
    """One pass over a Bundle's entries: select by coding, validate with the R4B models, read by FHIRPath, each
    value strictly by its JSON type."""

    def __init__(self, mapping: Mapping, bundle: dict[str, Any], entries: list[Entry], name: str,
                 problems: _Problems, notes: list[RecordNote], patient_id: str | None = None,
                 today: dt.date | None = None) -> None:
        self.mapping, self.bundle, self.entries, self.name, self.problems = mapping, bundle, entries, name, problems
        self.notes = notes
        self.expected_patient = patient_id
        self.by_code: dict[tuple[str, str], list[Entry]] = {}
        self.by_type: dict[str, list[Entry]] = {}
        self.by_reference: dict[str, Entry] = {}
        self.validated: set[int] = set()
        self.invalid: dict[int, str] = {}
        self.used: set[int] = set()
        self.voided: set[str] = set()
        self.capture: list[Entry] | None = None  # the entries whose value is voided, while reading one field
        self.project_codes = mapping.project_codes
        self.now = self._reference_time(today)
        for entry in entries:
            self.by_type.setdefault(entry.type, []).append(entry)
            rid = entry.resource.get("id")
            if isinstance(rid, str):
                self.by_reference[f"{entry.type}/{rid}"] = entry
            if entry.full_url:
                self.by_reference[entry.full_url] = entry
            if entry.type in CODED_RESOURCES:
                for coding in _codings(entry.resource.get("code")):
                    system, code = coding.get("system"), coding.get("code")
                    if isinstance(system, str) and isinstance(code, str):
                        self.by_code.setdefault((system, code), []).append(entry)
        self.patient = self._patient()

    def _reference_time(self, today: dt.date | None) -> dt.datetime:
        """'Now' for staleness and age: the Bundle's timestamp, else the given day, else today (UTC)."""
        stamp = parse_fhir_datetime(self.bundle.get("timestamp"))
        if stamp is not None:
            return stamp
        day = today or dt.datetime.now(dt.UTC).date()
        return dt.datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=dt.UTC)

    def note(self, kind: NoteKind, message: str, field: str | None = None, entry: Entry | None = None) -> None:
        self.notes.append(RecordNote(kind=kind, message=message, field=field,
                                     resource=entry.label if entry is not None else None))

    def void(self, fmap_name: str, message: str, entry: Entry | None = None) -> None:
        self.voided.add(fmap_name)
        if self.capture is not None and entry is not None:
            self.capture.append(entry)
        self.note("voided", message, fmap_name, entry)

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
        patient = patients[0] if patients else None
        if self.expected_patient is not None:
            pid = patient.resource.get("id") if patient else None
            if pid != self.expected_patient:
                what = patient.label if patient else "no Patient"
                self.problems.add(self.name, f"the record's patient is {what}, not Patient/{self.expected_patient}",
                                  "patient")
                return None
        if patient is None:
            self._one_subject()
        return patient

    def _one_subject(self) -> None:
        """Without a Patient entry, the resources must still name one patient between them."""
        named: dict[str, Entry] = {}
        for entry in self.entries:
            ref = entry.resource.get(SUBJECT_ELEMENT.get(entry.type, "subject"))
            reference = ref.get("reference") if isinstance(ref, dict) else None
            if isinstance(reference, str) and (reference.startswith("Patient/") or "/Patient/" in reference):
                named.setdefault(_patient_tail(reference), entry)
        if len(named) > 1:
            (a, first), (b, second) = list(named.items())[:2]
            self.problems.add(self.name, f"{first.label} is about Patient/{a} but {second.label} is about "
                              f"Patient/{b}; a case is about one patient", f"entry[{second.index}]")

    def _about_patient(self, entry: Entry) -> bool:
        """False (with a problem) when the resource names a patient other than the Bundle's."""
        if self.patient is None and self.expected_patient is None:
            return True
        ref = entry.resource.get(SUBJECT_ELEMENT.get(entry.type, "subject"))
        reference = ref.get("reference") if isinstance(ref, dict) else None
        if not isinstance(reference, str) or not reference:
            if self.expected_patient is not None:
                self.problems.add(self.name, f"{entry.label} names no patient; every resource used must be "
                                  f"Patient/{self.expected_patient}'s", f"entry[{entry.index}]")
                return False
            return True
        pid = self.patient.resource.get("id") if self.patient else self.expected_patient
        own = {self.patient.full_url} if self.patient is not None and self.patient.full_url else set()
        if isinstance(pid, str):
            own.add(f"Patient/{pid}")
        if reference in own:
            return True
        if isinstance(pid, str) and (reference.startswith("Patient/") or "/Patient/" in reference) \
                and _patient_tail(reference) == pid:
            return True
        others = {e.full_url for e in self.by_type.get("Patient", []) if e.full_url}
        if reference.startswith("Patient/") or "/Patient/" in reference or reference in others \
                or self.expected_patient is not None:
            whose = self.patient.label if self.patient else f"Patient/{self.expected_patient}"
            self.problems.add(self.name, f"{entry.label} is about {reference}, not the record's patient {whose}",
                              f"entry[{entry.index}]")
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

    def _valid(self, entry: Entry, field: str | None = None) -> bool:
        """Validate a selected resource with its R4B model, once; an invalid one voids the field it was read for."""
        if entry.index in self.validated:
            return True
        if entry.index not in self.invalid:
            why = self._invalid_reason(entry)
            if why is None:
                self.validated.add(entry.index)
                return True
            self.invalid[entry.index] = why
        if field is not None:
            self.void(field, f"{entry.label} {self.invalid[entry.index]}; {field} is unknown", entry)
        return False

    def _invalid_reason(self, entry: Entry) -> str | None:
        model = _model_class(entry.type)
        if model is None:
            return "has an unknown FHIR R4 resource type"
        try:
            model.model_validate(entry.resource)
        except ValidationError as err:
            parts = []
            for e in err.errors(include_url=False)[:3]:
                where = ".".join(str(p) for p in e["loc"])
                parts.append(f"{where}: {e['msg']}")
            return "is not valid FHIR R4: " + "; ".join(parts)
        return self._project_code_problem(entry)

    def _project_code_problem(self, entry: Entry) -> str | None:
        resource = entry.resource
        places = [resource.get("code"), resource.get("valueCodeableConcept")]
        body = resource.get("bodySite")
        places += body if isinstance(body, list) else [body]
        for place in places:
            for coding in _codings(place):
                if coding.get("system") == self.mapping.project and coding.get("code") not in self.project_codes:
                    return (f"holds {coding.get('code')!r}, not a code of the spinemets CodeSystem "
                            f"({self.mapping.project})")
        return None

    # --- selection -----------------------------------------------------------------------------------------

    def _selected(self, fmap: FieldMap) -> list[Entry]:
        if fmap.kind == "tumor":
            hits = [e for e in self.by_type.get("Condition", []) if self._tumor_values(fmap, e)]
        else:
            hits = self._coded(fmap.resource, fmap.codes)
        chosen = [e for e in hits if self._about_patient(e)]
        return [e for e in chosen if self._valid(e, fmap.name)]

    def _coded(self, resource_type: str, codes: tuple[Code, ...]) -> list[Entry]:
        hits: list[Entry] = []
        seen: set[int] = set()
        for code in codes:
            for entry in self._with_code(code.system, code.code):
                if entry.type == resource_type and entry.index not in seen:
                    seen.add(entry.index)
                    hits.append(entry)
        return hits

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

    def read(self) -> tuple[dict[str, Any], dict[str, Provenance]]:
        values: dict[str, Any] = {}
        sources: dict[str, Provenance] = {}
        sites = self.mapping.fields["levels"]
        # the metastases are read first (whether the record describes lesions decides how the findings are read);
        # their notes and problems keep their place in the mapping's order
        notes_at, problems_at = len(self.notes), len(self.problems)
        sites_found = self._current(sites, self._found(sites))
        sites_notes, sites_problems = self.notes[notes_at:], self.problems[problems_at:]
        del self.notes[notes_at:], self.problems[problems_at:]
        lesion_levels = self._lesion_levels(sites_found)
        for fmap in self.mapping.fields.values():
            if fmap.kind == "identifier":
                continue
            if fmap.kind == "sites":
                self.notes += sites_notes
                self.problems += sites_problems
            if lesion_levels is not None and (fmap.kind == "sites" or fmap.name in PER_LEVEL_NAMES):
                continue
            found = sites_found if fmap.kind == "sites" else self._current(fmap, self._found(fmap))
            chosen = self._resolve(fmap, found) if found and fmap.name not in self.voided else None
            if chosen is None:
                continue
            _put(values, fmap.name, chosen.value)
            # the levels gather every metastasis Condition: each is named
            label = ", ".join(dict.fromkeys(f.entry.label for f in found)) if fmap.kind == "sites" \
                else chosen.entry.label
            sources[fmap.name] = Provenance(resource=label, date=chosen.when.isoformat() if chosen.when else None)
        if lesion_levels is not None:
            self._read_lesions(values, sources, lesion_levels, sites_found)
        self._age_from_birth_date(values, sources)
        for name in self.voided:
            if _take(values, name):
                sources.pop(name, None)
        self._ask(values, sources)
        self._list_ignored()
        return values, sources

    # --- lesions: one per vertebra, when the record describes its vertebrae one by one ----------------------

    def _lesion_levels(self, sites_found: list[Found]) -> list[str] | None:
        """The lesions' levels (in the order the record first names them) when the record describes its
        vertebrae one by one; None for a record read as one lesion (today's flat case).

        Lesions when the vertebrae are two or more and either each metastasis Condition names one vertebra, or a
        per-level finding names its vertebra (bodySite, or focus on a metastasis); and whenever a lesion's own
        finding (painful, prior cement, causes the deficit) is recorded. One Condition listing several vertebrae
        with findings that name none is one description of them all: a flat case, as before."""
        if "levels" in self.voided or not sites_found:
            return None
        levels = list(dict.fromkeys(lv for f in sites_found for lv in f.value))
        if any(self._coded(f.resource, f.codes) for f in self.mapping.lesion_fields.values()):
            return levels
        if len(levels) < 2:
            return None
        if len(sites_found) >= 2 and all(len(f.value) == 1 for f in sites_found):
            return levels
        condition_levels = self._condition_levels(sites_found)
        for fmap in self.mapping.fields.values():
            if fmap.name in PER_LEVEL_NAMES:
                for entry in self._coded(fmap.resource, fmap.codes):
                    named, _ = self._entry_sites(entry, condition_levels)
                    if named & set(levels):
                        return levels
        return None

    @staticmethod
    def _condition_levels(sites_found: list[Found]) -> dict[int, set[str]]:
        return {f.entry.index: set(f.value) for f in sites_found}

    def _codeable_levels(self, concept: Any) -> set[str]:
        """The vertebrae one CodeableConcept names (SNOMED CT or the project's codes)."""
        return {self.mapping.level_of[(c["system"], c["code"])] for c in _codings(concept)
                if isinstance(c.get("system"), str) and isinstance(c.get("code"), str)
                and (c["system"], c["code"]) in self.mapping.level_of}

    def _entry_sites(self, entry: Entry, condition_levels: dict[int, set[str]]) -> tuple[set[str], str | None]:
        """The vertebrae a finding names, and why it cannot be placed when its elements disagree.

        A Condition's bodySite may list several vertebrae (a fracture at each); an Observation has one bodySite
        and may have `focus` on a metastasis Condition: both must name the same vertebra."""
        resource = entry.resource
        body = resource.get("bodySite")
        if isinstance(body, list):
            named = [self._codeable_levels(c) for c in body]
        else:
            named = [self._codeable_levels(body)] if body is not None else []
        for levels in named:
            if len(levels) > 1:
                return set(), f"its bodySite codes name {_levels_text(levels)} at once"
        at = set().union(*named) if named else set()
        focus: set[str] = set()
        for ref in resource.get("focus") or [] if isinstance(resource.get("focus"), list) else []:
            reference = ref.get("reference") if isinstance(ref, dict) else None
            target = self.by_reference.get(reference) if isinstance(reference, str) else None
            if target is not None and target.index in condition_levels:
                focus |= condition_levels[target.index]
        if at and focus and not at <= focus:
            return set(), (f"its bodySite names {_levels_text(at)} but its focus is the metastasis at "
                           f"{_levels_text(focus)}")
        if at:
            return at, None
        return (focus, None) if len(focus) == 1 else (set(), None)

    def _read_lesions(self, values: dict[str, Any], sources: dict[str, Provenance], levels: list[str],
                      sites_found: list[Found]) -> None:
        """Each per-level finding on the lesion of its vertebra; duplicates, newer and stale statements resolved
        per lesion. A finding that names no vertebra belongs to the one lesion of a one-lesion record; with
        several it is not read, never put on a level of the reader's choosing."""
        lesions: list[dict[str, Any]] = [{"level": lv} for lv in levels]
        index = {lv: i for i, lv in enumerate(levels)}
        for lv, i in index.items():
            stating = [f for f in sites_found if lv in f.value]
            dates = [f.when for f in stating if f.when is not None]
            labels = ", ".join(dict.fromkeys(f.entry.label for f in stating))
            sources[f"lesions.{i}.level"] = Provenance(resource=labels, date=max(dates).isoformat() if dates else None)
        condition_levels = self._condition_levels(sites_found)
        findings = [f for f in self.mapping.fields.values() if f.name in PER_LEVEL_NAMES]
        for fmap in [*findings, *self.mapping.lesion_fields.values()]:
            self.capture = []
            found = self._current(fmap, self._found(fmap))
            unreadable, self.capture = self.capture, None
            self.voided.discard(fmap.name)  # a statement that cannot be read voids the field at its own level
            spoiled: set[str] = set()
            for entry in unreadable:
                named, _ = self._entry_sites(entry, condition_levels)
                spoiled |= named or set(levels)  # a value that cannot be placed: unknown everywhere
            by_level: dict[str, list[Found]] = {lv: [] for lv in levels}
            for f in found:
                named, why = self._entry_sites(f.entry, condition_levels)
                if why is not None:
                    self.note("voided", f"{f.entry.label} ({fmap.name} {_show(f.value)}): {why}; not read for "
                              "any level", fmap.name, f.entry)
                    continue
                if not named:
                    if len(levels) == 1:
                        named = {levels[0]}
                    else:
                        self.note("voided", f"{f.entry.label} ({fmap.name} {_show(f.value)}) names no vertebra "
                                  f"(no bodySite, no focus on one metastasis) and the record holds lesions at "
                                  f"{_levels_text(levels)}: which level's is it? Not read", fmap.name, f.entry)
                        continue
                outside = named - set(levels)
                if outside:
                    self.note("ignored", f"{f.entry.label} ({fmap.name} {_show(f.value)}) is at "
                              f"{_levels_text(outside)}, where the record holds no spinal metastasis: not read "
                              "there", fmap.name, f.entry)
                for lv in named & set(levels):
                    by_level[lv].append(f)
            for lv, stated in by_level.items():
                if not stated or lv in spoiled:
                    continue
                key = f"lesions.{index[lv]}.{fmap.name}"
                chosen = self._resolve(fmap, stated, key)
                if chosen is None:
                    continue
                _put(lesions[index[lv]], fmap.name, chosen.value)
                sources[key] = Provenance(resource=chosen.entry.label,
                                          date=chosen.when.isoformat() if chosen.when else None)
        values["lesions"] = lesions

    def _found(self, fmap: FieldMap) -> list[Found]:
        if fmap.kind == "gender":
            if self.patient is None or not self._valid(self.patient, fmap.name):
                return []
            self.used.add(self.patient.index)
            gender = self.patient.resource.get("gender")
            if gender is not None and not isinstance(gender, str):
                self.void(fmap.name, f"{self.patient.label}: gender must be a JSON string, got "
                          f"{_json_type(gender)}; sex is unknown", self.patient)
                return []
            return [Found(gender, self.patient, None)] if gender in ("female", "male", "other") else []
        found: list[Found] = []
        for entry in self._selected(fmap):
            self.used.add(entry.index)
            value = self._value(fmap, entry)
            if value is not None:
                found.append(Found(value, entry, _stated_at(entry.resource)))
        return found

    def _current(self, fmap: FieldMap, found: list[Found]) -> list[Found]:
        """Statements dated in the future are not read; those older than the field's window neither."""
        kept = []
        for f in found:
            if f.when is not None and f.when > self.now + FUTURE_TOLERANCE:
                self.note("ignored", f"{f.entry.label} is dated {f.when.date()}, after the record's date "
                          f"{self.now.date()}: not read for {fmap.name}", fmap.name, f.entry)
                continue
            if f.when is not None and fmap.stale_after_days is not None and \
                    f.when < self.now - dt.timedelta(days=fmap.stale_after_days):
                self.note("ignored", f"{f.entry.label} ({fmap.name} {_show(f.value)}) is dated {f.when.date()}, "
                          f"more than {fmap.stale_after_days} days before {self.now.date()}: not read as current",
                          fmap.name, f.entry)
                continue
            kept.append(f)
        return kept

    def _value(self, fmap: FieldMap, entry: Entry) -> Any:
        resource = entry.resource
        if entry.type == "Observation" and resource.get("status") in OBSERVATION_SKIPPED:
            self.note("ignored", f"{entry.label} has status {resource.get('status')}: not read", fmap.name, entry)
            return None
        try:
            if fmap.kind in ("present", "tumor", "sites"):
                presence = _presence(resource)
                if presence is None:
                    self.note("ignored", f"{entry.label} is unconfirmed, provisional or entered in error: not read "
                              f"for {fmap.name}", fmap.name, entry)
                if fmap.kind == "present":
                    if presence is False and not self._project_coded(fmap, entry):
                        self.note("ignored", f"{entry.label} is resolved, inactive or refuted: a standard-coded "
                                  f"diagnosis of the past says nothing of {fmap.name} now", fmap.name, entry)
                        return None
                    return presence
                if presence is not True:  # a refuted, resolved or unsure cancer says nothing of the present one
                    if presence is False:
                        self.note("ignored", f"{entry.label} ({_code_text(entry)}) is resolved, in remission or "
                                  f"refuted: not read for {fmap.name}", fmap.name, entry)
                    return None
            got = _evaluate(fmap.path, resource)
            reader = _READERS[fmap.kind]
            value = reader(self, fmap, entry, got)
            if value is None and fmap.kind == "sites":
                self.note("question", f"{entry.label} ({_code_text(entry)}) records a bone metastasis whose vertebrae "
                          "the mapping cannot read from its bodySite: which levels are to be treated?", "levels",
                          entry)
            return value
        except _Refused as why:
            self.void(fmap.name, f"{entry.label}: {why}; {fmap.name} is unknown", entry)
            return None

    def _project_coded(self, fmap: FieldMap, entry: Entry) -> bool:
        return any(c.get("system") == self.mapping.project for c in _codings(entry.resource.get("code")))

    def _resolve(self, fmap: FieldMap, found: list[Found], key: str | None = None) -> Found | None:
        """One value from several statements: equal values agree; the newest of differing values wins when every
        statement is dated and one is newest; otherwise the field is unknown and the two that disagree named.
        `key` names the field in notes (a lesion's: `lesions.0.height_loss_percent`)."""
        name = key or fmap.name
        if fmap.kind == "sites":
            levels = sorted({lv for f in found for lv in f.value}, key=VERTEBRAE.index)
            dates = [f.when for f in found if f.when is not None]
            return Found(levels, found[0].entry, max(dates) if dates else None)
        distinct = {_key(f.value) for f in found}
        if len(distinct) == 1:
            self._others(fmap, found, found[0], "agrees with", name)
            return found[0]
        dated = [f for f in found if f.when is not None]
        # two active cancers can coexist: the newer diagnosis does not replace the older one
        if len(dated) == len(found) and fmap.kind != "tumor":
            newest = max(f.when for f in dated)  # type: ignore[type-var]
            latest = [f for f in dated if f.when == newest]
            if len({_key(f.value) for f in latest}) == 1:
                self._others(fmap, found, latest[0], "is older than", name)
                return latest[0]
        a = found[0]
        b = next(f for f in found if _key(f.value) != _key(a.value))
        for f in found[1:]:  # each statement of the conflict is named with its resource
            self.note("voided", f"{f.entry.label} says {_show(f.value)}: one of the statements that disagree on "
                      f"{name}", name, f.entry)
        if fmap.kind == "tumor":
            self.void(name, f"{a.entry.label} and {b.entry.label} are both active primary cancers "
                      f"({_show(a.value)}, {_show(b.value)}): which one do the spinal metastases come from? "
                      f"{name} is unknown until the board says", a.entry)
            return None
        self.void(name, f"{a.entry.label} says {_show(a.value)} but {b.entry.label} says {_show(b.value)}: "
                  f"{name} is unknown until the record is corrected (or both dated: the newer one counts)",
                  a.entry)
        return None

    def _others(self, fmap: FieldMap, found: list[Found], chosen: Found, relation: str, name: str) -> None:
        for f in found:
            if f is not chosen and f.entry is not chosen.entry:
                same = "agrees with" if _key(f.value) == _key(chosen.value) else relation
                self.note("ignored", f"{f.entry.label} ({name} {_show(f.value)}) {same} {chosen.entry.label}, "
                          "which is read", name, f.entry)

    def _age_from_birth_date(self, values: dict[str, Any], sources: dict[str, Provenance]) -> None:
        if "age" in values or "age" in self.voided or self.patient is None or self.patient.index in self.invalid:
            return
        raw = self.patient.resource.get("birthDate")
        if raw is None:
            return
        born = parse_fhir_datetime(raw) if isinstance(raw, str) and len(raw) == 10 else None
        if born is None:
            self.void("age", f"{self.patient.label}: birthDate {raw!r} is not a full date (YYYY-MM-DD); age is "
                      "unknown", self.patient)
            return
        if born > self.now:
            self.void("age", f"{self.patient.label}: birthDate {raw} is after the record's date "
                      f"{self.now.date()}; age is unknown", self.patient)
            return
        now = self.now.date()
        years = now.year - born.year - ((now.month, now.day) < (born.month, born.day))
        values["age"] = years
        sources["age"] = Provenance(resource=f"{self.patient.label}.birthDate", date=str(raw))

    # --- questions for the board -----------------------------------------------------------------------------

    def _ask(self, values: dict[str, Any], sources: dict[str, Provenance]) -> None:
        for name, spec in self.mapping.questions.items():
            facts: list[tuple[str, Entry, dt.datetime | None]] = []
            for lab in spec.labs:
                facts += self._lab_facts(name, lab)
            for nr in spec.not_read:
                for entry in self._coded("Observation", nr.codes):
                    self.used.add(entry.index)
                    self.note("ignored", f"{entry.label}: not read for {name}: {nr.why}", name, entry)
            facts += self._medication_facts(name, spec.medications)
            for entry in self._coded("Condition", spec.diagnoses):
                if not self._about_patient(entry) or not self._valid(entry):
                    continue
                self.used.add(entry.index)
                if _presence(entry.resource) is True:
                    facts.append((f"a bleeding disorder is recorded ({_code_text(entry)})", entry,
                                  _stated_at(entry.resource)))
                else:
                    self.note("ignored", f"{entry.label} ({_code_text(entry)}) is not active and confirmed: not "
                              f"asked about for {name}", name, entry)
            for entry in self._coded("Observation", spec.ecog):
                fact = self._ecog_fact(name, entry, spec.ecog_stale_after_days)
                if fact is not None:
                    facts.append(fact)
            for entry in self._coded("Observation", spec.cultures):
                fact = self._culture_fact(name, entry, spec)
                if fact is not None:
                    facts.append(fact)
            if not facts:
                continue
            stated = sources.get(name)
            if name in values and values[name] is not False:
                for text, entry, when in facts:
                    self.note("question", f"{text} ({entry.label}{_on(when)}); {name} is recorded as "
                              f"{_show(values[name])} ({stated.resource if stated else 'the record'})", name, entry)
                continue
            if name in values:  # recorded false: a fact as new or newer reopens it
                when_stated = parse_fhir_datetime(stated.date) if stated and stated.date else None
                reopen = [f for f in facts if when_stated is None or f[2] is None or f[2] >= when_stated]
                if not reopen:
                    continue
                _take(values, name)
                sources.pop(name, None)
            source = f" ({self._source_name(spec.source)})" if spec.source else ""
            for text, entry, when in facts:
                self.note("question", f"{text} ({entry.label}{_on(when)}): {spec.ask} {name} stays "
                          f"unknown{source}", name, entry)

    @staticmethod
    def _source_name(source_id: str) -> str:
        return {"sir-periprocedural-2019": "thresholds: SIR periprocedural consensus, Patel et al., "
                "J Vasc Interv Radiol 2019"}.get(source_id, source_id)

    def _lab_facts(self, name: str, lab: Lab) -> list[tuple[str, Entry, dt.datetime | None]]:
        facts: list[tuple[str, Entry, dt.datetime | None]] = []
        for entry in self._coded("Observation", lab.codes):
            if not self._about_patient(entry) or not self._valid(entry):
                if entry.index in self.invalid:
                    self.note("ignored", f"{entry.label} {self.invalid[entry.index]}", name, entry)
                continue
            self.used.add(entry.index)
            resource = entry.resource
            if resource.get("status") in OBSERVATION_SKIPPED:
                self.note("ignored", f"{entry.label} ({lab.name}) has status {resource.get('status')}: not read",
                          name, entry)
                continue
            when = _stated_at(resource)
            if not self._lab_current(name, lab.name, entry, when, lab.stale_after_days):
                continue
            try:
                number = self._lab_number(lab, resource)
            except _Refused as why:
                facts.append((f"a {lab.name} that cannot be read ({why})", entry, when))
                continue
            if number is None:
                continue
            shown = f"{lab.name} {_number(number)} {lab.unit if lab.unit != '{INR}' else ''}".rstrip()
            if lab.ask_above is not None and number > lab.ask_above:
                facts.append((f"{shown}, above {_number(lab.ask_above)}", entry, when))
            elif lab.ask_below is not None and number < lab.ask_below:
                facts.append((f"{shown}, below {_number(lab.ask_below)}", entry, when))
            else:  # a normal value does not rule out an uncorrectable coagulopathy: shown, not read as false
                self.note("ignored", f"{shown} ({entry.label}{_on(when)}) is within the threshold: it raises no "
                          f"question, and does not make {name} false", name, entry)
        return facts

    def _lab_current(self, name: str, what: str, entry: Entry, when: dt.datetime | None,
                     stale_after_days: int | None) -> bool:
        if when is not None and when > self.now + FUTURE_TOLERANCE:
            self.note("ignored", f"{entry.label} ({what}) is dated {when.date()}, after the record's date "
                      f"{self.now.date()}: not read", name, entry)
            return False
        if when is not None and stale_after_days is not None and \
                when < self.now - dt.timedelta(days=stale_after_days):
            self.note("ignored", f"{entry.label} ({what}) is dated {when.date()}, more than {stale_after_days} "
                      f"days before {self.now.date()}: not read as current", name, entry)
            return False
        return True

    def _lab_number(self, lab: Lab, resource: dict[str, Any]) -> float | None:
        if resource.get("dataAbsentReason") is not None and "valueQuantity" not in resource:
            return None
        quantity = resource.get("valueQuantity")
        if not isinstance(quantity, dict):
            value_keys = [k for k in resource if k.startswith("value")]
            if value_keys:
                raise _Refused(f"expected valueQuantity, got {value_keys[0]}")
            return None
        raw = quantity.get("value")
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise _Refused(f"valueQuantity.value must be a JSON number, got {_json_type(raw)}")
        if quantity.get("comparator") is not None:
            raise _Refused(f"valueQuantity has comparator {quantity.get('comparator')!r}: not an exact value")
        unit = quantity.get("code") if quantity.get("code") is not None else quantity.get("unit")
        if unit is None or unit == lab.unit:
            return float(raw)
        if not isinstance(unit, str) or unit not in lab.units:
            accepted = ", ".join([lab.unit, *lab.units])
            raise _Refused(f"unit {unit!r} is not one read for {lab.name} (UCUM: {accepted})")
        return float(raw) * lab.units[unit]

    def _medication_facts(self, name: str, medications: dict[str, tuple[Code, ...]]
                          ) -> list[tuple[str, Entry, dt.datetime | None]]:
        known = {(c.system, c.code): (kind, c.display or c.code) for kind, codes in medications.items() for c in codes}
        facts: list[tuple[str, Entry, dt.datetime | None]] = []
        if not known:
            return facts
        for rtype, active in MEDICATION_ACTIVE.items():
            for entry in self.by_type.get(rtype, []):
                codings = self._medication_codings(entry)
                if codings is None:  # an active drug the record cannot name may be an anticoagulant
                    if entry.resource.get("status") in active and self._about_patient(entry):
                        self.used.add(entry.index)
                        when = _stated_at(entry.resource) or parse_fhir_datetime(entry.resource.get("authoredOn"))
                        facts.append(("an active medication the record cannot name (its reference points "
                                      "nowhere): is it an anticoagulant or antiplatelet?", entry, when))
                    continue
                hits = [known[(str(c.get("system")), str(c.get("code")))] for c in codings
                        if (str(c.get("system")), str(c.get("code"))) in known]
                if not hits:
                    continue
                if not self._about_patient(entry):
                    continue
                self.used.add(entry.index)
                kind, drug = hits[0]
                status = entry.resource.get("status")
                when = _stated_at(entry.resource) or parse_fhir_datetime(entry.resource.get("authoredOn"))
                if status not in active:
                    self.note("ignored", f"{entry.label} ({drug}) has status {status!r}: not taken now", name, entry)
                    continue
                facts.append((f"an active {kind}, {drug}", entry, when))
        return facts

    def _medication_codings(self, entry: Entry) -> list[dict[str, Any]] | None:
        """The medication's codings; None when its reference points to nothing in the record."""
        resource = entry.resource
        if "medicationCodeableConcept" in resource:
            return _codings(resource["medicationCodeableConcept"])
        ref = resource.get("medicationReference")
        reference = ref.get("reference") if isinstance(ref, dict) else None
        if not isinstance(reference, str):
            return []
        if reference.startswith("#"):
            contained = resource.get("contained")
            for item in contained if isinstance(contained, list) else []:
                if isinstance(item, dict) and item.get("id") == reference[1:]:
                    return _codings(item.get("code"))
        elif reference in self.by_reference:
            target = self.by_reference[reference]
            self.used.add(target.index)
            return _codings(target.resource.get("code"))
        return None

    def _ecog_fact(self, name: str, entry: Entry, stale: int | None) -> tuple[str, Entry, dt.datetime | None] | None:
        if not self._about_patient(entry) or not self._valid(entry):
            return None
        self.used.add(entry.index)
        resource = entry.resource
        if resource.get("status") in OBSERVATION_SKIPPED:
            return None
        when = _stated_at(resource)
        if not self._lab_current(name, "ECOG", entry, when, stale):
            return None
        grade = resource.get("valueInteger")
        if isinstance(grade, bool) or not isinstance(grade, int) or not 0 <= grade <= 5:
            self.note("voided", f"{entry.label}: ECOG must be valueInteger 0-5, got {_json_type(grade)} "
                      f"{grade!r}", name, entry)
            return None
        return (f"ECOG performance status {grade} is recorded; Karnofsky is not derived from it (the two scales "
                "correspond as ranges, and the rules read a Karnofsky number)", entry, when)

    def _culture_fact(self, name: str, entry: Entry, spec: FieldQuestions
                      ) -> tuple[str, Entry, dt.datetime | None] | None:
        if not self._about_patient(entry) or not self._valid(entry):
            return None
        self.used.add(entry.index)
        resource = entry.resource
        if resource.get("status") in OBSERVATION_SKIPPED:
            self.note("ignored", f"{entry.label} (blood culture) has status {resource.get('status')}: not read",
                      name, entry)
            return None
        when = _stated_at(resource)
        if not self._lab_current(name, "blood culture", entry, when, spec.culture_stale_after_days):
            return None
        codes = {c.get("code") for item in resource.get("interpretation") or [] if isinstance(item, dict)
                 for c in _codings(item)}
        if codes & spec.culture_positive:
            return ("a positive blood culture", entry, when)
        if codes & spec.culture_negative:
            self.note("ignored", f"{entry.label} (blood culture{_on(when)}) is negative: it raises no question, "
                      f"and does not make {name} false", name, entry)
            return None
        return ("a blood culture without a positive or negative interpretation", entry, when)

    def _list_ignored(self) -> None:
        """Every resource no field or question read, with the codes it holds."""
        noted = {n.resource for n in self.notes}
        for entry in self.entries:
            if entry.index in self.used or entry.type in ("Patient", "Basic") or entry.label in noted:
                continue
            codes = _code_text(entry) or "no code"
            self.note("ignored", f"{entry.label} ({codes}): no field of the case reads it", None, entry)
        for entry in self.entries:
            contained = entry.resource.get("contained")
            if isinstance(contained, list) and contained and entry.type not in MEDICATION_ACTIVE:
                self.note("ignored", f"{entry.label} holds {len(contained)} contained resource(s): not read",
                          None, entry)
        for fmap in self.mapping.fields.values():
            if fmap.kind != "sites":
                continue
            for entry in self._coded(fmap.resource, fmap.codes):
                if entry.index not in self.used:
                    continue
                for site in entry.resource.get("bodySite") or [] if isinstance(entry.resource.get("bodySite"),
                                                                                  list) else []:
                    for coding in _codings(site):
                        if (coding.get("system"), coding.get("code")) not in self.mapping.level_of:
                            self.note("ignored", f"{entry.label}: bodySite {coding.get('system')}|"
                                      f"{coding.get('code')} is not read (the mapping reads the vertebra from "
                                      "SNOMED CT body structures of vertebrae and the project's vertebra codes)",
                                      "levels", entry)

    # --- one reader per kind, each strict about the JSON type of what it reads ------------------------------

    def _boolean(self, fmap: FieldMap, entry: Entry, got: list[Any]) -> bool | None:
        raw = entry.resource.get("valueBoolean")
        if "valueBoolean" in entry.resource and not isinstance(raw, bool):
            raise _Refused(f"valueBoolean must be JSON true or false, got {_json_type(raw)} {raw!r}")
        if not got:
            self._expect_value(entry, "valueBoolean")
            return None
        return raw if isinstance(raw, bool) else None

    def _integer(self, fmap: FieldMap, entry: Entry, got: list[Any]) -> int | None:
        if "valueInteger" in entry.resource:
            raw = entry.resource["valueInteger"]
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise _Refused(f"valueInteger must be a JSON whole number, got {_json_type(raw)} {raw!r}")
            return raw
        quantity = entry.resource.get("valueQuantity")
        if isinstance(quantity, dict) and quantity.get("value") is not None:
            raw = quantity["value"]
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                raise _Refused(f"valueQuantity.value must be a JSON number, got {_json_type(raw)} {raw!r}")
            number = Decimal(str(raw))
            if number != number.to_integral_value():
                raise _Refused(f"expected a whole number for {fmap.name}, got {raw}")
            return int(number)
        if fmap.answers and "valueCodeableConcept" in entry.resource:  # the score as a coded answer (LOINC LA...)
            concept = entry.resource["valueCodeableConcept"]
            codings = concept.get("coding") if isinstance(concept, dict) else None
            if not isinstance(codings, list):
                raise _Refused("valueCodeableConcept must hold a coding list")
            answer = self._coded_value(fmap, entry, codings)
            return int(answer) if answer is not None else None
        self._expect_value(entry, "valueInteger")
        return None

    def _quantity(self, fmap: FieldMap, entry: Entry, got: list[Any]) -> Any:
        if not got:
            self._expect_value(entry, "valueQuantity")
            return None
        quantity = entry.resource.get("valueQuantity")
        if not isinstance(quantity, dict):
            raise _Refused(f"valueQuantity must be a JSON object, got {_json_type(quantity)}")
        raw = quantity.get("value")
        if raw is None:
            return None
        for element in ("system", "code", "unit"):
            if quantity.get(element) is not None and not isinstance(quantity.get(element), str):
                raise _Refused(f"valueQuantity.{element} must be a JSON string, got {_json_type(quantity[element])}")
        if quantity.get("comparator") is not None:
            raise _Refused(f"valueQuantity has comparator {quantity['comparator']!r}: not an exact value")
        unit = quantity.get("code") if quantity.get("system") in (None, self.mapping.systems["ucum"]) else None
        unit = unit if unit is not None else quantity.get("unit")
        if isinstance(raw, bool) or not isinstance(raw, (int, float, Decimal)):
            raise _Refused(f"valueQuantity.value of {fmap.name} must be a JSON number, got {_json_type(raw)} "
                           f"{raw!r}")
        if unit is not None and unit != fmap.unit:
            if unit not in fmap.units:
                accepted = ", ".join([str(fmap.unit)] + list(fmap.units))
                raise _Refused(f"unit {unit!r} is not one read for {fmap.name} (UCUM: {accepted})")
            raw = float(raw) * fmap.units[unit]
        if isinstance(raw, int):
            return raw
        if _is_int_field(fmap.name):
            return math.floor(raw + 1e-9) if isinstance(raw, float) else math.floor(raw)
        return float(raw)  # a Decimal made from the JSON number's text: the same float

    def _coded_value(self, fmap: FieldMap, entry: Entry, got: list[Any]) -> str | None:
        if not got:
            self._expect_value(entry, "valueCodeableConcept")
            return None
        for coding in got:
            if not isinstance(coding, dict) or any(coding.get(k) is not None and not isinstance(coding.get(k), str)
                                                   for k in ("system", "code")):
                raise _Refused("valueCodeableConcept.coding holds a system or code that is not a JSON string")
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
        """The vertebrae of the bodySite, from SNOMED CT body structures (engine/fhir/vertebrae.yaml) or the
        project's codes; one bodySite whose codings name two vertebrae is refused, never read as both."""
        body = entry.resource.get("bodySite")
        levels: set[str] = set()
        for concept in body if isinstance(body, list) else []:
            named = self._codeable_levels(concept)
            if len(named) > 1:
                raise _Refused(f"one bodySite's codes name {_levels_text(named)} at once")
            levels |= named
        return sorted(levels, key=VERTEBRAE.index) or None

    def _text(self, fmap: FieldMap, entry: Entry, got: list[Any]) -> str | None:
        if got and not isinstance(got[0], str):
            raise _Refused(f"expected a JSON string, got {_json_type(got[0])}")
        return got[0] if got else None

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
    "coded": _Reader._coded_value, "tumor": _Reader._tumor, "sites": _Reader._sites, "text": _Reader._text,
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


def _levels_text(levels: Any) -> str:
    return ", ".join(sorted(levels, key=VERTEBRAE.index))


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


def _take(values: dict[str, Any], name: str) -> bool:
    """Remove a field (a SINS component included) from the values; whether it was there."""
    if name.startswith("sins."):
        sins = values.get("sins")
        return isinstance(sins, dict) and sins.pop(name.split(".", 1)[1], None) is not None
    return values.pop(name, None) is not None


def _patient_tail(reference: str) -> str:
    """The patient id of a reference: Patient/1, https://x/fhir/Patient/1 or .../Patient/1/_history/2."""
    path = reference.split("/_history/", maxsplit=1)[0]
    return path.rsplit("Patient/", 1)[-1]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _code_text(entry: Entry) -> str:
    resource = entry.resource
    element = resource.get("code") if "code" in resource else resource.get("medicationCodeableConcept")
    return ", ".join(f"{_system_name(c.get('system'))} {c.get('code')}" for c in _codings(element))


_SYSTEM_NAMES = {"http://loinc.org": "LOINC", "http://snomed.info/sct": "SNOMED CT",
                 "http://hl7.org/fhir/sid/icd-10": "ICD-10", "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
                 "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm"}


def _system_name(system: Any) -> str:
    return _SYSTEM_NAMES.get(system, str(system)) if isinstance(system, str) else "no system"


def _on(when: dt.datetime | None) -> str:
    return f", {when.date()}" if when is not None else ", undated"


def _number(value: float) -> str:
    return f"{value:g}"
