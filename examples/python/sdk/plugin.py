"""Plugins: register one from an OpenAPI document, list its tools, call a tool, delete the plugin."""

import json
import os

import cozeplus_sdk as sdk
from common import DATA, client, personal_space

TOOL_URL = os.environ.get("EXAMPLE_TOOL_URL", "https://httpbin.org")

with client() as api:
    plugins = sdk.PluginApi(api)
    document = (DATA / "lookup-tool.openapi.yaml").read_text().replace("TOOL_URL", TOOL_URL)
    registered = plugins.register_plugin(
        sdk.RegisterPluginRequest.from_dict(
            {
                "space_id": personal_space(api),
                "ai_plugin": (DATA / "lookup-tool.manifest.json").read_text(),
                "openapi": document,
            }
        )
    )
    plugin_id = registered.data.plugin_id
    print("registered plugin", plugin_id)

    tools = plugins.get_plugin_apis(sdk.GetPluginApisRequest.from_dict({"plugin_id": plugin_id})).api_info
    print("tools:", ", ".join(tool.name for tool in tools))
    tool = next(tool for tool in tools if tool.name == "lookup_city")

    # operation 1 calls the tool with these arguments (a JSON string) and reports what it answered
    result = plugins.debug_api(
        sdk.DebugApiRequest.from_dict(
            {
                "plugin_id": plugin_id,
                "api_id": tool.api_id,
                "operation": 1,
                "parameters": json.dumps({"city": "Lyon"}),
            }
        )
    )
    print("tool answered:", json.dumps(json.loads(result.raw_resp)["args"], separators=(",", ":")))

    plugins.del_plugin(sdk.DelPluginRequest.from_dict({"plugin_id": plugin_id}))
    print("deleted plugin", plugin_id)
