"""Talks to Validibot's /mcp with the official MCP Python SDK (PyPI `mcp`) and prints a
JSON transcript of what it saw; host/tests/mcp.rs checks it. Usage:

    python3 client.py URL KEY VIEWER_KEY
"""

import asyncio
import base64
import json
import pathlib
import sys

from mcp import ClientSession
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "examples"


def tool_answer(result):
    """A tool result as plain data: error flag, structured content, text."""
    texts = [c.text for c in result.content if getattr(c, "type", "") == "text"]
    return {
        "is_error": bool(result.is_error),
        "structured": result.structured_content,
        "text": "\n".join(texts),
    }


async def run(url, key, viewer_key):
    out = {}
    async with create_mcp_http_client(headers={"Authorization": f"Bearer {key}"}) as http:
        async with streamable_http_client(url, http_client=http) as (read, write, *_):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                out["server"] = {"name": init.server_info.name, "version": init.server_info.version,
                                 "protocol": str(init.protocol_version),
                                 "instructions": init.instructions or ""}
                tools = await session.list_tools()
                out["tools"] = {t.name: {"read_only": bool(t.annotations and t.annotations.read_only_hint),
                                         "required": (t.input_schema or {}).get("required", []),
                                         "properties": sorted((t.input_schema or {}).get("properties", {}))}
                                for t in tools.tools}
                call = lambda name, args: session.call_tool(name, args)
                out["list_workflows"] = tool_answer(await call("list_workflows", {}))
                out["describe_workflow"] = tool_answer(await call("describe_workflow", {"workflow": "invoice"}))
                out["describe_missing"] = tool_answer(await call("describe_workflow", {"workflow": "nope"}))
                valid = (EXAMPLES / "invoice-valid.json").read_text()
                invalid = (EXAMPLES / "invoice-invalid.json").read_bytes()
                out["validate_valid"] = tool_answer(await call("validate", {
                    "workflow": "invoice", "content": valid, "filename": "valid.json"}))
                out["validate_invalid"] = tool_answer(await call("validate", {
                    "workflow": "invoice", "content_base64": base64.b64encode(invalid).decode()}))
                out["validate_no_document"] = tool_answer(await call("validate", {"workflow": "invoice"}))
                out["validate_bad_base64"] = tool_answer(await call("validate", {
                    "workflow": "invoice", "content_base64": "%%%"}))
                run_id = (out["validate_invalid"]["structured"] or {}).get("id")
                out["get_run"] = tool_answer(await call("get_run", {"run_id": run_id}))
                out["get_report"] = tool_answer(await call("get_report", {"run_id": run_id}))
                out["get_report_sarif"] = tool_answer(await call("get_report", {"run_id": run_id, "format": "sarif"}))
                out["list_runs"] = tool_answer(await call("list_runs", {"workflow": "invoice", "limit": 5}))
                resources = await session.list_resources()
                out["resources"] = [{"uri": str(r.uri), "name": r.name, "mime": r.mime_type} for r in resources.resources]
                templates = await session.list_resource_templates()
                out["templates"] = [t.uri_template for t in templates.resource_templates]
                for name, uri in [("read_workflow", "validibot://workspaces/default/workflows/invoice"),
                                  ("read_run", f"validibot://workspaces/default/runs/{run_id}")]:
                    contents = (await session.read_resource(uri)).contents
                    out[name] = {"uri": str(contents[0].uri), "mime": contents[0].mime_type,
                                 "json": json.loads(contents[0].text)}
                try:
                    await session.read_resource("validibot://workspaces/default/runs/nope")
                    out["read_missing"] = "no error"
                except Exception as e:  # the SDK raises the JSON-RPC error
                    out["read_missing"] = f"error: {e}"
    # A viewer's key: reads work, launching is the API's 403.
    async with create_mcp_http_client(headers={"Authorization": f"Bearer {viewer_key}"}) as http:
        async with streamable_http_client(url, http_client=http) as (read, write, *_):
            async with ClientSession(read, write) as session:
                await session.initialize()
                out["viewer_list"] = tool_answer(await session.call_tool("list_workflows", {}))
                out["viewer_validate"] = tool_answer(await session.call_tool("validate", {
                    "workflow": "invoice", "content": "{}", "media_type": "application/json"}))
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(run(*sys.argv[1:4]))
