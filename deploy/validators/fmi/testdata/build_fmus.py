#!/usr/bin/env python3
"""Builds the FMI validator's test FMUs from models.c into OUT_DIR.

usage: build_fmus.py OUT_DIR   (needs a C compiler: $CC or cc)

decay2.fmu / decay3.fmu   dx/dt = -k x (FMI 2.0 / 3.0 Co-Simulation), x(0)=x0=1, k=1
nan.fmu                   output turns NaN at t = 0.5
hang.fmu                  doStep never returns
crash.fmu                 doStep segfaults
rules.fmu                 runs, but its modelDescription.xml breaks the standard's rules
windows-only.fmu          binaries only for win64, plus sources
malformed.fmu             a truncated zip
bomb.fmu                  one entry expanding > 1000x
traversal.fmu             an entry named ../evil.so
"""
import os
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
GUID = "{validibot-test-decay}"


def description(version, body_extra="", bad_rules=False):
    if version == 2:
        var = lambda name, vr, attrs, ty: (
            f'    <ScalarVariable name="{name}" valueReference="{vr}" {attrs}><{ty}/></ScalarVariable>\n')
        variables = (
            var("x", 0, 'causality="output" initial="exact"', 'Real start="1" min="0" max="1"')
            + var("k", 1, 'causality="parameter" variability="fixed"', 'Real start="1" min="0"')
            + var("x0", 2, 'causality="parameter" variability="fixed"', 'Real start="1" min="0"')
        )
        if bad_rules:
            variables += (
                var("k", 3, 'causality="parameter" variability="fixed"', 'Real start="1"')
                + var("u", 4, 'causality="input" variability="fixed"', 'Real start="0"')
                + var("p", 5, 'causality="parameter" variability="fixed"', 'Real')
                + var("q", 6, 'causality="parameter" variability="tunable"', 'Real start="9" max="2"')
            )
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<fmiModelDescription fmiVersion="2.0" modelName="decay" guid="{GUID}" generationTool="validibot test">
  <CoSimulation modelIdentifier="decay" canHandleVariableCommunicationStepSize="true"{body_extra}/>
  <DefaultExperiment startTime="0" stopTime="2" stepSize="0.01"/>
  <ModelVariables>
{variables}  </ModelVariables>
  <ModelStructure><Outputs><Unknown index="1"/></Outputs></ModelStructure>
</fmiModelDescription>
"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<fmiModelDescription fmiVersion="3.0" modelName="decay" instantiationToken="{GUID}" generationTool="validibot test">
  <CoSimulation modelIdentifier="decay" canHandleVariableCommunicationStepSize="true"{body_extra}/>
  <DefaultExperiment startTime="0" stopTime="2" stepSize="0.01"/>
  <ModelVariables>
    <Float64 name="time" valueReference="999" causality="independent" variability="continuous"/>
    <Float64 name="x" valueReference="0" causality="output" initial="exact" start="1" min="0" max="1"/>
    <Float64 name="k" valueReference="1" causality="parameter" variability="fixed" start="1" min="0"/>
    <Float64 name="x0" valueReference="2" causality="parameter" variability="fixed" start="1" min="0"/>
  </ModelVariables>
  <ModelStructure><Output valueReference="0"/></ModelStructure>
</fmiModelDescription>
"""


def compile_model(defines, out):
    cc = os.environ.get("CC", "cc")
    cmd = [cc, "-shared", "-fPIC", "-O2", "-fvisibility=hidden", *[f"-D{d}" for d in defines],
           "-o", out, os.path.join(HERE, "models.c"), "-lm"]
    subprocess.run(cmd, check=True)


def package(path, entries):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        libs = {}
        for name, defines in {
            "decay2": ["MODEL_DECAY"],
            "decay3": ["MODEL_DECAY", "FMI3"],
            "nan": ["MODEL_NAN"],
            "hang": ["MODEL_HANG"],
            "crash": ["MODEL_CRASH"],
        }.items():
            so = os.path.join(tmp, name + ".so")
            compile_model(defines, so)
            libs[name] = open(so, "rb").read()
    source = open(os.path.join(HERE, "models.c"), "rb").read()
    v2 = lambda lib, **kw: [("modelDescription.xml", description(2, **kw)), ("binaries/linux64/decay.so", lib)]
    package(os.path.join(out, "decay2.fmu"), v2(libs["decay2"]) + [("sources/decay.c", source)])
    package(os.path.join(out, "decay3.fmu"), [("modelDescription.xml", description(3)),
                                              ("binaries/x86_64-linux/decay.so", libs["decay3"])])
    for name in ("nan", "hang", "crash"):
        package(os.path.join(out, name + ".fmu"), v2(libs[name]))
    package(os.path.join(out, "rules.fmu"), v2(libs["decay2"], bad_rules=True))
    package(os.path.join(out, "windows-only.fmu"), [("modelDescription.xml", description(2)),
                                                    ("binaries/win64/decay.dll", b"MZ not really"),
                                                    ("sources/decay.c", source)])
    whole = open(os.path.join(out, "decay2.fmu"), "rb").read()
    open(os.path.join(out, "malformed.fmu"), "wb").write(whole[: len(whole) // 2])
    package(os.path.join(out, "bomb.fmu"), [("modelDescription.xml", description(2)),
                                            ("resources/zeros.bin", b"\0" * (32 << 20))])
    package(os.path.join(out, "traversal.fmu"), v2(libs["decay2"]) + [("../evil.so", b"x")])


if __name__ == "__main__":
    main()
