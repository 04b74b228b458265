"""Validates the served OpenAPI document (openapi-spec-validator, OpenAPI 3.1) and
real API responses against the document's component schemas (JSON Schema 2020-12).

usage: check.py OPENAPI.json [SCHEMA=RESPONSE.json ...]
"""
import json
import sys

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

doc = json.load(open(sys.argv[1]))
validate(doc)
failures = 0
for arg in sys.argv[2:]:
    name, path = arg.split("=", 1)
    schema = dict(doc)
    schema["$ref"] = f"#/components/schemas/{name}"
    errors = list(Draft202012Validator(schema).iter_errors(json.load(open(path))))
    for e in errors:
        failures += 1
        print(f"{name} ({path}): {e.message} at {list(e.absolute_path)}")
    if not errors:
        print(f"{name}: ok")
sys.exit(1 if failures else 0)
