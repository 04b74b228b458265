#!/usr/bin/env python3
"""Writes the XML measurement of docs/benchmarks.md ("XML, 105 MB") into a directory:
orders.xml (600,000 orders, about 105 MB), orders.xsd, and two workflows for
`validibot check` (wf-wf.json: well-formedness only; wf-xsd.json: with the XSD).

    python3 host/benches/xml_orders.py /tmp/xmlbench [orders]
    /usr/bin/time -f "%e s %M KiB" validibot check /tmp/xmlbench/orders.xml -f /tmp/xmlbench/wf-xsd.json
"""
import json
import os
import sys

XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="orders">
    <xs:complexType><xs:sequence>
      <xs:element name="order" maxOccurs="unbounded">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="customer"><xs:complexType><xs:simpleContent><xs:extension base="xs:string"><xs:attribute name="email" type="xs:string" use="required"/></xs:extension></xs:simpleContent></xs:complexType></xs:element>
            <xs:element name="line" maxOccurs="unbounded"><xs:complexType>
              <xs:attribute name="sku" type="xs:string" use="required"/>
              <xs:attribute name="qty" type="xs:positiveInteger" use="required"/>
              <xs:attribute name="price" type="xs:decimal" use="required"/>
            </xs:complexType></xs:element>
          </xs:sequence>
          <xs:attribute name="id" type="xs:string" use="required"/>
          <xs:attribute name="date" type="xs:date" use="required"/>
        </xs:complexType>
      </xs:element>
    </xs:sequence></xs:complexType>
  </xs:element>
</xs:schema>
"""


def main():
    out = sys.argv[1]
    orders = int(sys.argv[2]) if len(sys.argv) > 2 else 600_000
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "orders.xml"), "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<orders>\n')
        for i in range(1, orders + 1):
            f.write(
                f'  <order id="ORD-{i:07d}" date="2024-{1 + i % 12:02d}-{1 + i % 28:02d}">\n'
                f'    <customer email="c{i}@example.org">Customer {i}</customer>\n'
                f'    <line sku="SKU-{i % 9999:05d}" qty="{1 + i % 9}" price="{(i * 7) % 10000 / 100:.2f}"/>\n'
                "  </order>\n"
            )
        f.write("</orders>\n")
    with open(os.path.join(out, "orders.xsd"), "w") as f:
        f.write(XSD)
    for name, config in (("wf", {}), ("xsd", {"schema": XSD})):
        workflow = {"slug": f"orders-{name}", "timeout_seconds": 3600,
                    "steps": [{"key": "x", "validator": "xml-schema", "config": config}]}
        with open(os.path.join(out, f"wf-{name}.json"), "w") as f:
            json.dump(workflow, f)


main()
