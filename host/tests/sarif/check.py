"""Validates a SARIF log against the official SARIF 2.1.0 schema, and checks what GitHub
code scanning needs beyond it: each result on a file URI with a region where the finding
has a line, and partialFingerprints. Usage: check.py LOG [--lines]"""
import json
import pathlib
import sys

import jsonschema

schema = json.loads((pathlib.Path(__file__).parent / "sarif-2.1.0-rtm.5.json").read_text())
log = json.loads(pathlib.Path(sys.argv[1]).read_text())
errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(log), key=str)
for e in errors:
    print(f"schema: {'/'.join(map(str, e.absolute_path))}: {e.message}")
problems = len(errors)
for run in log["runs"]:
    for i, result in enumerate(run["results"]):
        loc = result["locations"][0]["physicalLocation"]
        uri = loc["artifactLocation"]["uri"]
        if uri.startswith("/") or "\\" in uri:
            print(f"result {i}: artifact URI {uri!r} is not a relative URI")
            problems += 1
        if "--lines" in sys.argv and "region" not in loc:
            print(f"result {i} ({result['ruleId']}): no region (startLine)")
            problems += 1
        if not result.get("partialFingerprints"):
            print(f"result {i}: no partialFingerprints")
            problems += 1
sys.exit(1 if problems else 0)
