"""Example validator in Python: flags lines longer than a limit in any text document.

The same behaviour as the Rust example (plugins/examples/line-length), built into a
wasm32-wasip2 component by componentize-py against wit/1.0.0. Step config:
{"max": 100, "severity": "warning"} (`max` required, 1..=100000; `severity` defaults to
`error`). Findings carry `line:col` paths at the first character past the limit.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports.types import (
    Finding, Input, Metadata, Outcome, Output, Severity, ValidatorError,
)

MAX_FINDINGS = 500
SEVERITIES = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}
SCHEMA = {
    "type": "object",
    "required": ["max"],
    "properties": {
        "max": {"type": "integer", "minimum": 1, "maximum": 100000},
        "severity": {"enum": ["error", "warning", "info"]},
    },
    "additionalProperties": False,
}


def finding(severity, code, message, path=""):
    return Finding(severity=severity, code=code, message=message, path=path, meta="")


def parse_config(text):
    """(max, severity), or raises ValueError with the finding that says why."""
    try:
        config = json.loads(text)
    except ValueError as e:
        raise ValueError(finding(Severity.ERROR, "config.json", f"config is not JSON: {e}"))
    m = config.get("max") if isinstance(config, dict) else None
    if not isinstance(m, int) or isinstance(m, bool) or not 1 <= m <= 100_000:
        raise ValueError(finding(Severity.ERROR, "config.max",
                                 "`max` must be an integer from 1 to 100000", "/max"))
    s = config.get("severity", "error")
    if s not in SEVERITIES:
        raise ValueError(finding(Severity.ERROR, "config.severity",
                                 f"`severity` must be error, warning or info, not {s!r}", "/severity"))
    return m, SEVERITIES[s]


class WitWorld(wit_world.WitWorld):
    def describe(self) -> Metadata:
        return Metadata(
            slug="line-length-py",
            version="0.1.0",
            name="Line length (Python)",
            description="Flags lines longer than a limit (example plugin written in Python).",
            content_types=["*/*"],
            config_schema=json.dumps(SCHEMA),
        )

    def validate_config(self, config: str) -> None:
        try:
            parse_config(config)
        except ValueError as e:
            raise Err([e.args[0]])

    def validate(self, input: Input) -> Outcome:
        try:
            limit, severity = parse_config(input.config)
        except ValueError as e:
            raise Err(ValidatorError(code="config.invalid", message=e.args[0].message))
        text = input.content.decode("utf-8", errors="replace")
        findings, long, lines = [], 0, 0
        # Lines as Rust's str::lines() cuts them: at \n, a trailing \r dropped, no
        # empty last line after a final newline.
        parts = text.split("\n")
        if parts[-1] == "":
            parts.pop()
        for i, line in enumerate(parts):
            if line.endswith("\r"):
                line = line[:-1]
            lines += 1
            if len(line) > limit:
                long += 1
                if len(findings) < MAX_FINDINGS:
                    findings.append(finding(
                        severity, "line.too_long",
                        f"line {i + 1} is {len(line)} characters long (max {limit})",
                        f"{i + 1}:{limit + 1}"))
        if long > len(findings):
            findings.append(finding(Severity.WARNING, "line.truncated",
                                    f"{long - len(findings)} more long lines not listed"))
        return Outcome(findings=findings, outputs=[
            Output(name="lines", value=json.dumps(lines), unit=None),
            Output(name="long_lines", value=json.dumps(long), unit=None),
        ])
