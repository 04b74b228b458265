#!/usr/bin/env python3
"""Validibot's EnergyPlus validator (runs inside its container, as nobody, with no network).

Reads the `validibot.input.v1` envelope, checks the model (IDF or epJSON), runs
EnergyPlus 25.2 on it and writes the `validibot.output.v1` envelope. Results come
only from the output envelope; stdout/stderr are logs.

Checks, in order:
1. epJSON: parses, every object type and field is in the shipped `Energy+.schema.epJSON`
   (EnergyPlus itself then validates values against the same schema).
2. Version: a model whose `Version` object is not 25.2 gets one finding naming both
   versions and the upgrade route, before anything else is attempted.
3. Object policy: object types matching a `forbidden_objects` pattern are refused, each
   refusal naming the object, its line (IDF) or path (epJSON) and the policy. The
   image's policy (`VALIDIBOT_ENERGYPLUS_FORBIDDEN_OBJECTS`, set when the operator
   builds the image; default `PythonPlugin:*`, `ExternalInterface*`: the image has no
   Python plugin host and containers have no network) can be tightened by a step's
   `forbidden_objects`. EnergyManagementSystem (Erl) programs run inside the engine and
   are allowed. `Schedule:File` may only name a relative local file.
4. Simulation with the model's design days, or with a weather file — one shipped in
   the image (step config "weather": "USA_IL_Chicago-OHare.Intl.AP.725300_TMY3", …) or
   one attached to the step (`step_files` in the envelope: "weather": "site.epw", or
   the step's only `.epw` file when "weather" is not set) — in which case the model's
   own SimulationControl and RunPeriod decide what runs. Every step file is also
   copied beside the model, so a `Schedule:File` can name one.
   The outcome comes from the exit code, `eplusout.end` and `eplusout.err`: severe and
   fatal messages become ERROR findings, warnings WARNING findings; counts are metrics;
   `severe_threshold` (step config, default 0) is the number of severe errors tolerated.
5. Outputs from `eplusout.sql`: `site_energy_gj`, `eui_kwh_m2`, `total_building_area`,
   `conditioned_area`, `unmet_heating_hours`, `unmet_cooling_hours`,
   `end_use.<use>.<fuel>` (GJ; snake_case, e.g. `end_use.interior_lighting.electricity`).
6. Artifacts: eplusout.sql, eplusout.err, eplusout.csv (ReadVarsESO) and eplustbl.htm,
   copied beside the output envelope (each at most 64 MiB) for the host to keep.

Step config: {"severe_threshold": int, "max_warnings_reported": int, "weather": str,
"forbidden_objects": [glob, ...]}.
"""

import fnmatch
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

ENGINE = os.environ.get("VALIDIBOT_ENERGYPLUS_DIR", "/opt/energyplus")
SCHEMA = os.path.join(ENGINE, "Energy+.schema.epJSON")
WEATHER = os.path.join(ENGINE, "WeatherData")
ENGINE_VERSION = "25.2"
# The image's object policy: why each default pattern is refused.
DEFAULT_FORBIDDEN = {
    "PythonPlugin:*": "this image has no Python plugin host",
    "ExternalInterface*": "external interfaces talk to other programs over sockets, and validator containers have no network",
}
MAX_MESSAGES = 200


def main():
    envelope_path = os.environ["VALIDIBOT_INPUT_URI"].removeprefix("file://")
    output_path = os.environ["VALIDIBOT_OUTPUT_URI"].removeprefix("file://")
    with open(envelope_path) as f:
        envelope = json.load(f)
    config = envelope.get("config") or {}
    model = envelope["files"][0]
    here = os.path.dirname(envelope_path)
    path = os.path.join(here, model["name"])
    # Step files live under step-files/ (their URI says where); names are plain.
    step_files = {f["name"]: os.path.join(here, f["uri"].split(here + "/", 1)[-1])
                  for f in envelope.get("step_files") or []}
    result = validate(path, model["mime_type"], config, os.path.dirname(output_path), step_files)
    # Create-only: the host refuses an output that is a link or already there.
    fd = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w") as f:
        json.dump({"schema_version": "validibot.output.v1", **result}, f)


def message(severity, code, text, location=None):
    m = {"severity": severity, "code": code, "text": text}
    if location:
        m["location"] = location
    return m


def failed(messages):
    return {"status": "failed_validation", "messages": messages, "metrics": [], "artifacts": []}


def validate(path, mime_type, config, output_dir, step_files=None):
    step_files = step_files or {}
    with open(path, "rb") as f:
        raw = f.read()
    is_json = mime_type.endswith("json") or path.lower().endswith(".epjson")
    if is_json:
        try:
            model = json.loads(raw)
        except ValueError as e:
            return failed([message("ERROR", "energyplus.epjson.parse", f"not JSON: {e}")])
        if not isinstance(model, dict):
            return failed([message("ERROR", "energyplus.epjson.parse", "an epJSON model is an object")])
        messages = unknown_fields(model)
        objects = [(t, v) for t, group in model.items() if isinstance(group, dict) for v in group.values()]
    else:
        text = raw.decode("latin-1")
        messages = []
        objects = idf_objects(text)
    mismatch = version_mismatch(model if is_json else objects, is_json)
    if mismatch:
        return failed([mismatch])
    refusals = policy_refusals(model if is_json else objects, is_json, config)
    if isinstance(refusals, dict):
        return failed([refusals])
    messages += refusals + safety(objects, is_json)
    if any(m["severity"] == "ERROR" for m in messages):
        return failed(messages)
    return simulate(path, is_json, config, messages, output_dir, step_files)


def version_mismatch(model, is_json):
    """A finding when the model's Version is not the engine's (None when it is or says none)."""
    if is_json:
        versions = [str(v.get("version_identifier", "")) for v in (model.get("Version") or {}).values() if isinstance(v, dict)]
        location = "/Version"
    else:
        versions = [(fields[0] if fields else "") for t, fields, _ in model if t.lower() == "version"]
        lines = [line for t, _, line in model if t.lower() == "version"]
        location = f"line {lines[0]}" if lines else None
    if not versions:
        return None
    given = versions[0].strip()
    if ".".join(given.split(".")[:2]) == ENGINE_VERSION:
        return None
    return message(
        "ERROR", "energyplus.version_mismatch",
        f"the model is for EnergyPlus {given or '(blank)'} but this validator runs EnergyPlus {ENGINE_VERSION}: "
        f"upgrade it with EnergyPlus's IDFVersionUpdater (PreProcess/IDFVersionUpdater, or the Transition-V*-to-V* "
        f"programs run in order up to {ENGINE_VERSION}) and submit the upgraded model; nothing was simulated",
        location)


def forbidden_patterns(config):
    """(pattern, policy, why) for the image's policy and the step's additions."""
    env = os.environ.get("VALIDIBOT_ENERGYPLUS_FORBIDDEN_OBJECTS")
    if env is None:
        image = [(p, "the default policy", why) for p, why in DEFAULT_FORBIDDEN.items()]
    else:
        image = [(p.strip(), "the operator's policy (VALIDIBOT_ENERGYPLUS_FORBIDDEN_OBJECTS)", None)
                 for p in env.split(",") if p.strip()]
    step = config.get("forbidden_objects", [])
    if not isinstance(step, list) or not all(isinstance(p, str) and p.strip() for p in step):
        return None
    return image + [(p.strip(), "the step's forbidden_objects", None) for p in step]


def policy_refusals(model, is_json, config):
    """One ERROR per object whose type a forbidden pattern matches (a dict: bad config)."""
    patterns = forbidden_patterns(config)
    if patterns is None:
        return message("ERROR", "energyplus.config.forbidden_objects",
                       "forbidden_objects must be a list of object type patterns such as \"EnergyManagementSystem:*\"")
    if is_json:
        found = [(t, f"/{t}/{name}", f"{t} {name!r}") for t, group in model.items() if isinstance(group, dict) for name in group]
    else:
        found = [(t, f"line {line}", f"{t} at line {line}") for t, _, line in model]
    out = []
    for obj_type, location, what in found:
        for pattern, policy, why in patterns:
            if fnmatch.fnmatch(obj_type.lower(), pattern.lower()):
                reason = f": {why}" if why else ""
                out.append(message("ERROR", "energyplus.policy.forbidden_object",
                                   f"{what} is refused by {policy} ({pattern!r}){reason}", location))
                break
        if len(out) >= MAX_MESSAGES:
            break
    return out


def unknown_fields(model):
    """Object types and fields that the schema does not know (EnergyPlus would ignore or reject them)."""
    with open(SCHEMA) as f:
        schema = json.load(f)["properties"]
    out = []
    for obj_type, group in model.items():
        if obj_type not in schema:
            out.append(message("ERROR", "energyplus.epjson.unknown_object", f"unknown object type {obj_type!r}", f"/{obj_type}"))
            continue
        pattern = next(iter(schema[obj_type].get("patternProperties", {}).values()), {})
        known = pattern.get("properties", {})
        if not isinstance(group, dict):
            out.append(message("ERROR", "energyplus.epjson.shape", f"{obj_type} must map names to objects", f"/{obj_type}"))
            continue
        for name, fields in group.items():
            if not isinstance(fields, dict):
                out.append(message("ERROR", "energyplus.epjson.shape", "an object must be a JSON object", f"/{obj_type}/{name}"))
                continue
            for field, value in fields.items():
                if field not in known:
                    out.append(message("ERROR", "energyplus.epjson.unknown_field", f"{obj_type} has no field {field!r}", f"/{obj_type}/{name}/{field}"))
                elif isinstance(value, list) and known[field].get("type") == "array":
                    item_fields = known[field].get("items", {}).get("properties", {})
                    for i, item in enumerate(value):
                        for k in item if isinstance(item, dict) else []:
                            if k not in item_fields:
                                out.append(message("ERROR", "energyplus.epjson.unknown_field", f"{obj_type}.{field} items have no field {k!r}", f"/{obj_type}/{name}/{field}/{i}/{k}"))
        if len(out) >= MAX_MESSAGES:
            break
    return out[:MAX_MESSAGES]


def idf_objects(text):
    """(type, fields, line) of each IDF object: comments (`!`) removed, split on `;`
    then `,`; `line` is where the object's type is written (1-based)."""
    body = "\n".join(line.split("!", 1)[0] for line in text.splitlines())
    out = []
    line = 1
    for chunk in body.split(";"):
        fields = [f.strip() for f in chunk.split(",")]
        if fields and fields[0]:
            start = line + chunk[: len(chunk) - len(chunk.lstrip())].count("\n")
            out.append((fields[0], fields[1:], start))
        line += chunk.count("\n")
    return out


def safety(objects, is_json):
    out = []
    for t, obj, *_ in objects:
        if t.lower() != "schedule:file":
            continue
        name = obj.get("file_name", "") if is_json else (obj[2] if len(obj) > 2 else "")
        name = str(name)
        if os.path.isabs(name) or "://" in name or ".." in name.replace("\\", "/").split("/") or re.match(r"^[A-Za-z]:", name):
            out.append(message("ERROR", "energyplus.safety.schedule_file", f"Schedule:File may only name a file beside the model, not {name!r}", t))
    return out


def simulate(path, is_json, config, messages, output_dir, step_files):
    threshold = int(config.get("severe_threshold", 0))
    max_warnings = int(config.get("max_warnings_reported", 50))
    work = tempfile.mkdtemp(prefix="eplus-", dir="/tmp")
    model = os.path.join(work, "in.epJSON" if is_json else "in.idf")
    with open(path, "rb") as src, open(model, "wb") as dst:
        dst.write(src.read())
    add_outputs(model, is_json)
    for name, src in step_files.items():
        if name not in ("in.idf", "in.epJSON"):
            shutil.copyfile(src, os.path.join(work, name))
    out_dir = os.path.join(work, "out")
    weather = config.get("weather")
    attached = sorted(n for n in step_files if n.lower().endswith(".epw"))
    if weather is None and len(attached) == 1:
        weather = attached[0]
    elif weather is None and len(attached) > 1:
        messages.append(message("ERROR", "energyplus.config.weather",
                                f"the step has several weather files ({', '.join(attached)}); name one in \"weather\""))
        return failed(messages)
    if weather is None:
        cmd = [os.path.join(ENGINE, "energyplus"), "--design-day", "--readvars", "--output-directory", out_dir, model]
    else:
        epw = step_files.get(weather) if weather in attached else weather_file(weather)
        if epw is None:
            messages.append(message("ERROR", "energyplus.config.weather",
                                    f"unknown weather file {weather!r}; this image ships: {', '.join(weather_files())}; the step has: {', '.join(attached) or 'none'}"))
            return failed(messages)
        # The model's own SimulationControl and RunPeriod decide what runs with the weather file.
        cmd = [os.path.join(ENGINE, "energyplus"), "--weather", epw, "--readvars", "--output-directory", out_dir, model]
    started = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=work)
    engine_seconds = time.monotonic() - started
    sys.stdout.write(proc.stdout.decode("utf-8", "replace")[-4000:])
    end = read(os.path.join(out_dir, "eplusout.end"))
    counts, err_messages = parse_err(read(os.path.join(out_dir, "eplusout.err")), max_warnings)
    # Facility meters this validator asked for that the model has no use for.
    ours = [m for m in err_messages if m["code"] == "energyplus.warning" and re.match(r'Output:Meter: invalid Key Name="[A-Z]+:FACILITY" - not found', m["text"])]
    counts["warning"] -= len(ours)
    err_messages = [m for m in err_messages if m not in ours]
    messages += err_messages
    metrics = [
        {"name": "weather_file", "value": weather or "design days"},
        # The engine's own run time inside the container: what a run costs beyond it is
        # the product's overhead.
        {"name": "engine_seconds", "value": round(engine_seconds, 3), "unit": "s"},
        {"name": "warnings", "value": counts["warning"]},
        {"name": "severe_errors", "value": counts["severe"]},
        {"name": "fatal_errors", "value": counts["fatal"]},
    ]
    completed = proc.returncode == 0 and "Completed Successfully" in end
    if not completed:
        if not any(m["severity"] == "ERROR" for m in messages):
            messages.append(message("ERROR", "energyplus.terminated", end.strip() or f"EnergyPlus exited with code {proc.returncode}"))
        return {"status": "failed_validation", "messages": messages, "metrics": metrics,
                "artifacts": keep_artifacts(out_dir, output_dir)}
    metrics += sql_metrics(os.path.join(out_dir, "eplusout.sql"))
    if counts["severe"] > threshold:
        messages.append(message("ERROR", "energyplus.severe_threshold", f"{counts['severe']} severe errors (at most {threshold} allowed)"))
        status = "failed_validation"
    else:
        # Severe errors under the threshold are reported but tolerated.
        for m in messages:
            if m["code"] == "energyplus.severe":
                m["severity"] = "WARNING"
        status = "success"
    return {"status": status, "messages": messages, "metrics": metrics,
            "artifacts": keep_artifacts(out_dir, output_dir)}


ARTIFACTS = (("eplusout.sql", "application/vnd.sqlite3"), ("eplusout.err", "text/plain"),
             ("eplusout.csv", "text/csv"), ("eplustbl.htm", "text/html"))
ARTIFACT_CAP = 64 << 20


def keep_artifacts(out_dir, output_dir):
    """Copies EnergyPlus's result files next to the output envelope for the host to keep."""
    kept = []
    for name, mime in ARTIFACTS:
        src = os.path.join(out_dir, name)
        if not os.path.isfile(src) or os.path.getsize(src) > ARTIFACT_CAP:
            continue
        # Create-only, like the envelope: nothing already in the output directory is replaced.
        fd = os.open(os.path.join(output_dir, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with open(src, "rb") as f, os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(f, out)
        kept.append({"name": name, "mime_type": mime, "path": name})
    return kept


def weather_files():
    """The weather files shipped in the image (stems of WeatherData/*.epw)."""
    try:
        return sorted(f[:-4] for f in os.listdir(WEATHER) if f.endswith(".epw"))
    except OSError:
        return []


def weather_file(name):
    """The path of a shipped weather file named by its stem (or file name); never a path."""
    if not isinstance(name, str):
        return None
    stem = name[:-4] if name.endswith(".epw") else name
    return os.path.join(WEATHER, stem + ".epw") if stem in weather_files() else None


def add_outputs(model, is_json):
    """Asks for the SQLite output, the summary tables and the facility meters the metrics need."""
    if is_json:
        with open(model) as f:
            m = json.load(f)
        # The metrics read the tabular reports: an existing "Simple" SQLite output is widened.
        sqlite_out = m.setdefault("Output:SQLite", {"Output:SQLite 1": {}})
        for obj in sqlite_out.values():
            if isinstance(obj, dict):
                obj["option_type"] = "SimpleAndTabular"
        m.setdefault("Output:Table:SummaryReports", {"Output:Table:SummaryReports 1": {"reports": [{"report_name": "AllSummary"}]}})
        meters = m.setdefault("Output:Meter", {})
        for i, meter in enumerate(["Electricity:Facility", "NaturalGas:Facility", "DistrictHeatingWater:Facility", "DistrictCooling:Facility"]):
            meters[f"validibot meter {i}"] = {"key_name": meter, "reporting_frequency": "RunPeriod"}
        with open(model, "w") as f:
            json.dump(m, f)
    else:
        text = read(model)
        extra = ["Output:Meter,Electricity:Facility,RunPeriod;", "Output:Meter,NaturalGas:Facility,RunPeriod;",
                 "Output:Meter,DistrictHeatingWater:Facility,RunPeriod;", "Output:Meter,DistrictCooling:Facility,RunPeriod;"]
        lower = text.lower()
        if "output:sqlite" not in lower:
            extra.append("Output:SQLite,SimpleAndTabular;")
        else:
            # The metrics read the tabular reports: an existing "Simple" SQLite output is widened.
            text = re.sub(r"(?i)(Output:SQLite\s*,(?:[ \t]*!.*)?\s*)Simple(\s*[;,])", r"\1SimpleAndTabular\2", text)
            with open(model, "w", encoding="latin-1") as f:
                f.write(text)
        if "output:table:summaryreports" not in lower:
            extra.append("Output:Table:SummaryReports,AllSummary;")
        with open(model, "a") as f:
            f.write("\n" + "\n".join(extra) + "\n")


def parse_err(text, max_warnings):
    counts = {"warning": 0, "severe": 0, "fatal": 0}
    out = []
    current = None
    for line in text.splitlines():
        m = re.match(r"\s*\*\*\s*(Warning|Severe|Fatal)\s*\*\*\s*(.*)", line)
        if m:
            kind = m.group(1).lower()
            counts[kind] += 1
            current = None
            if kind == "warning" and counts["warning"] > max_warnings:
                continue
            severity = "WARNING" if kind == "warning" else "ERROR"
            current = message(severity, f"energyplus.{kind}", m.group(2).strip())
            if len(out) < MAX_MESSAGES:
                out.append(current)
        elif current is not None and re.match(r"\s*\*\*\s*~~~\s*\*\*", line):
            current["text"] += " " + line.split("**", 2)[-1].strip()
    return counts, out


def sql_metrics(db):
    if not os.path.exists(db):
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return read_metrics(con)
    except sqlite3.Error as e:
        print(f"metrics unavailable: {e}", file=sys.stderr)
        return []
    finally:
        con.close()


def read_metrics(con):
    def tab(report, table, row, column):
        r = con.execute(
            "SELECT Value FROM TabularDataWithStrings WHERE ReportName=? AND TableName=? AND RowName=? AND ColumnName=? LIMIT 1",
            (report, table, row, column),
        ).fetchone()
        try:
            return float(r[0])
        except (TypeError, ValueError):
            return None

    abups = "AnnualBuildingUtilityPerformanceSummary"
    total_area = tab(abups, "Building Area", "Total Building Area", "Area")
    conditioned = tab(abups, "Building Area", "Net Conditioned Building Area", "Area")
    site_gj = tab(abups, "Site and Source Energy", "Total Site Energy", "Total Energy")
    # Design-day runs have no annual totals: sum the facility meters over the simulated days.
    meters_j = con.execute(
        "SELECT SUM(d.Value) FROM ReportData d JOIN ReportDataDictionary k ON k.ReportDataDictionaryIndex = d.ReportDataDictionaryIndex "
        "WHERE k.IsMeter = 1 AND k.Name LIKE '%:Facility' AND k.ReportingFrequency = 'Run Period'"
    ).fetchone()[0]
    period = "weather file run period" if site_gj else "simulated design days"
    if not site_gj and meters_j:
        site_gj = meters_j / 1e9
    metrics = []
    if site_gj is not None:
        metrics.append({"name": "site_energy_gj", "value": round(site_gj, 6), "unit": "GJ"})
        metrics.append({"name": "energy_period", "value": period})
    if total_area:
        metrics.append({"name": "total_building_area", "value": total_area, "unit": "m2"})
        if site_gj is not None:
            metrics.append({"name": "eui_kwh_m2", "value": round(site_gj * 1e9 / 3.6e6 / total_area, 4), "unit": "kWh/m2"})
    if conditioned is not None:
        metrics.append({"name": "conditioned_area", "value": conditioned, "unit": "m2"})
    for name, column in [("unmet_heating_hours", "During Occupied Heating"), ("unmet_cooling_hours", "During Occupied Cooling")]:
        v = tab("SystemSummary", "Time Setpoint Not Met", "Facility", column)
        if v is not None:
            metrics.append({"name": name, "value": v, "unit": "h"})
    for row, column, value in con.execute(
        "SELECT RowName, ColumnName, Value FROM TabularDataWithStrings WHERE ReportName=? AND TableName='End Uses' AND Units='GJ'",
        (abups,),
    ):
        try:
            gj = float(value)
        except ValueError:
            continue
        if gj > 0 and row != "Total End Uses":
            metrics.append({"name": f"end_use.{snake(row)}.{snake(column)}", "value": gj, "unit": "GJ"})
    return metrics


def snake(label):
    """A report label as an output name part: "Interior Lighting" -> "interior_lighting"."""
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def read(path):
    try:
        with open(path, encoding="latin-1") as f:
            return f.read()
    except FileNotFoundError:
        return ""


if __name__ == "__main__":
    main()
