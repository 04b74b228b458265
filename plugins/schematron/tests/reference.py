"""The reference Schematron engine, for the differential test and the bench.

Saxon (SaxonC-HE, `pip install saxonche`) runs the ISO Schematron skeleton that lxml
ships (iso_dsdl_include -> iso_abstract_expand -> iso_svrl_for_xslt1) to compile the
schema to XSLT, then runs that over each document. The skeleton only accepts the xslt
query binding, so the schema is compiled as xslt and the generated stylesheet is run as
XSLT 3.0: its XPath is then Saxon's XPath 3.1, which is what xslt2/xslt3 rules need.

    python3 reference.py SCHEMA PHASE REPEAT DOC...

prints one JSON line: {"results": [[{id, test, location, text, kind}, ...] per doc],
"ms": [median transform ms per doc], "saxon": version}.
"""
import json
import os
import re
import statistics
import sys
import time
import xml.etree.ElementTree as ET

import lxml.isoschematron as iso
from saxonche import PySaxonProcessor

SKELETON = os.path.join(os.path.dirname(iso.__file__), "resources/xsl/iso-schematron-xslt1")
SVRL = "{http://purl.oclc.org/dsdl/svrl}"


def main():
    schema, phase, repeat, docs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    with PySaxonProcessor(license=False) as proc:
        xslt = proc.new_xslt30_processor()
        text = re.sub(r'queryBinding="[^"]*"', 'queryBinding="xslt"', open(schema, encoding="utf-8").read())
        for step in ["iso_dsdl_include.xsl", "iso_abstract_expand.xsl", "iso_svrl_for_xslt1.xsl"]:
            exe = xslt.compile_stylesheet(stylesheet_file=os.path.join(SKELETON, step))
            if step == "iso_svrl_for_xslt1.xsl" and phase:
                exe.set_parameter("phase", proc.make_string_value(phase))
            text = exe.transform_to_string(xdm_node=proc.parse_xml(xml_text=text))
        text = re.sub(r'(<xsl:stylesheet[^>]*?)version="1.0"', r'\g<1>version="3.0"', text, count=1)
        exe = xslt.compile_stylesheet(stylesheet_text=text)
        results, ms = [], []
        for doc in docs:
            node = proc.parse_xml(xml_file_name=doc)
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                out = exe.transform_to_string(xdm_node=node)
                times.append((time.perf_counter() - t) * 1000)
            ms.append(statistics.median(times))
            results.append(svrl_results(out))
        print(json.dumps({"results": results, "ms": ms, "saxon": proc.version}))


def svrl_results(svrl):
    out = []
    for el in ET.fromstring(svrl):
        kind = {"failed-assert": "assert", "successful-report": "report"}.get(el.tag.replace(SVRL, ""))
        if kind:
            text = el.find(SVRL + "text")
            out.append({
                "kind": kind,
                "id": el.get("id"),
                "test": el.get("test"),
                "location": el.get("location"),
                "text": " ".join(("".join(text.itertext()) if text is not None else "").split()),
            })
    return out


if __name__ == "__main__":
    main()
