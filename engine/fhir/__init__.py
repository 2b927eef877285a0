"""FHIR R4 in and out: a Bundle read into a case and a case written as a Bundle, by engine/fhir/mapping.yaml."""
from .mapping import Mapping, load
from .reader import bundle_to_case, bundle_to_case_data, bundle_to_document, is_bundle
from .writer import bundle_json, case_to_bundle

__all__ = ["Mapping", "bundle_json", "bundle_to_case", "bundle_to_case_data", "bundle_to_document",
           "case_to_bundle", "is_bundle", "load"]
