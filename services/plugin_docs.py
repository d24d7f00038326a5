"""A plugin's OpenAPI document: parsed (YAML or JSON, no aliases, bounded size), validated with
openapi-spec-validator, and cut into tools, one per operation, each kept as a self-contained
operation (local $refs resolved) whose parameters this server knows how to send.

Supported: path, query and header parameters of primitive types (arrays of primitives in the
query), in their default styles; request bodies of application/json or
application/x-www-form-urlencoded. Anything else (cookies, other styles, multipart, parameters
given as `content`) is refused with the place it was found, rather than sent wrongly."""

from __future__ import annotations

import dataclasses
import json
import re
from itertools import islice

import yaml
from yaml.composer import Composer

from core import errors

MAX_DOCUMENT = 512 * 1024
MAX_TOOLS = 100
MAX_DEPTH = 12  # nesting of parameters shown as APIParameter trees
MAX_NESTING = 64  # nesting of the document's objects, $refs expanded
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
METHODS = {"get": 1, "post": 2, "put": 3, "delete": 4, "patch": 5}
TYPES = {"string": 1, "integer": 2, "number": 3, "object": 4, "array": 5, "boolean": 6}
TYPE_NAMES = {number: name for name, number in TYPES.items()}
LOCATIONS = {"path": 1, "query": 2, "body": 3, "header": 4}
LOCATION_NAMES = {number: name for name, number in LOCATIONS.items()}
PRIMITIVES = {"string", "integer", "number", "boolean"}
DEFAULT_STYLES = {"path": "simple", "query": "form", "header": "simple"}
BODY_TYPES = ("application/json", "application/x-www-form-urlencoded")
_TEMPLATE = re.compile(r"\{([^{}/]+)\}")


class _NoAliases(yaml.SafeLoader):
    """YAML without anchors and aliases: a small document cannot expand into a huge one."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.YAMLError(f"aliases are not accepted (line {event.start_mark.line + 1})")
        return Composer.compose_node(self, parent, index)


def parse(text: str, where: str, error: errors.ErrorCode) -> dict:
    """A JSON or YAML mapping, or `error` naming `where`."""
    if not isinstance(text, str) or not text.strip():
        raise error(f"{where}: must not be empty")
    if len(text.encode()) > MAX_DOCUMENT:
        raise error(f"{where}: larger than {MAX_DOCUMENT // 1024} KB")
    try:
        document = json.loads(text) if text.lstrip().startswith("{") else yaml.load(text, Loader=_NoAliases)
    except (ValueError, yaml.YAMLError) as exc:
        raise error(f"{where}: not valid JSON or YAML ({str(exc).splitlines()[0][:200]})")
    if not isinstance(document, dict):
        raise error(f"{where}: must be an object (a mapping)")
    return document


def _path_of(parts) -> str:
    shown = ".".join(str(p) for p in parts)
    return shown or "(the document)"


def check_openapi(document: dict, where: str = "openapi") -> None:
    """Validate against the OpenAPI 3.0 or 3.1 schema; the first problem is named with its path."""
    invalid = errors.PLUGIN_OPENAPI_INVALID
    if "swagger" in document:
        raise invalid(f"{where}: a Swagger 2 document; convert it first (/api/plugin_api/convert_to_openapi)")
    from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator  # slow to import

    version = str(document.get("openapi") or "")
    if version.startswith("3.0"):
        validator = OpenAPIV30SpecValidator(document)
    elif version.startswith("3.1"):
        validator = OpenAPIV31SpecValidator(document)
    else:
        raise invalid(f"{where}.openapi: must be 3.0.x or 3.1.x (got {version[:20]!r})")
    try:
        found = list(islice(validator.iter_errors(), 1))
    except RecursionError:
        raise invalid(f"{where}: nested too deeply")
    except Exception as exc:  # the validator follows $refs; a broken one raises its own errors
        raise invalid(f"{where}: {type(exc).__name__}: {str(exc)[:200]}")
    if found:
        problem = found[0]
        message = problem.message.splitlines()[0][:300]
        raise invalid(f"{where}: at {_path_of(problem.absolute_path)}: {message}")


def server_url(document: dict, where: str = "openapi") -> str:
    servers = document.get("servers") or []
    url = servers[0].get("url") if servers and isinstance(servers[0], dict) else ""
    if not isinstance(url, str) or not re.match(r"https?://[^/\s]+", url):
        raise errors.PLUGIN_OPENAPI_INVALID(
            f"{where}.servers[0].url: the service's absolute http(s) URL is required"
        )
    return url.rstrip("/")


# --- $refs ---------------------------------------------------------------------------------------


def _resolved(document: dict, node, where: str, depth: int = 0, expanding: tuple = ()):
    """`node` with every local $ref replaced by what it names (copies; cycles refused)."""
    if depth > MAX_NESTING:
        raise errors.PLUGIN_OPENAPI_INVALID(f"{where}: nested too deeply")
    if isinstance(node, list):
        return [
            _resolved(document, item, f"{where}[{i}]", depth + 1, expanding) for i, item in enumerate(node)
        ]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in expanding:
            raise errors.PLUGIN_OPENAPI_INVALID(f"{where}.$ref: {ref} refers to itself (a cycle)")
        target = _target(document, ref, where)
        return _resolved(document, target, f"{where} ({ref})", depth + 1, (*expanding, ref))
    return {
        key: _resolved(document, value, f"{where}.{key}", depth + 1, expanding) for key, value in node.items()
    }


def inline_refs(schema: dict, where: str) -> dict:
    """A JSON schema with its local $refs (#/$defs/...) replaced by what they name, as a tool's
    stored schema has no document around it (cycles refused)."""
    if not isinstance(schema, dict):
        raise errors.PLUGIN_OPENAPI_INVALID(f"{where}: must be an object")
    return _resolved(schema, schema, where)


def _target(document: dict, ref, where: str):
    if not isinstance(ref, str) or not ref.startswith("#/"):
        raise errors.PLUGIN_OPENAPI_INVALID(f"{where}.$ref: only local references (#/...) are followed")
    node = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise errors.PLUGIN_OPENAPI_INVALID(f"{where}.$ref: {ref} names nothing")
        node = node[part]
    return node


# --- operations as tools -----------------------------------------------------------------------


@dataclasses.dataclass
class ToolSpec:
    name: str
    description: str
    method: str  # lower case
    path: str
    operation: dict  # resolved: summary, description, parameters, requestBody, responses

    def columns(self) -> dict:
        """What a stored tool keeps of it, besides its name."""
        return {
            "description": self.description,
            "method": self.method,
            "path": self.path,
            "operation": self.operation,
        }


def _unsupported(where: str, what: str):
    return errors.PLUGIN_TOOL_UNSUPPORTED(f"{where}: {what} is not supported")


def _check_parameter(parameter: dict, where: str) -> dict:
    location = parameter.get("in")
    if location not in DEFAULT_STYLES:
        raise _unsupported(f"{where}.in", f"a parameter in {location!r} (path, query and header are)")
    if "content" in parameter:
        raise _unsupported(f"{where}.content", "a parameter given as content")
    style = parameter.get("style", DEFAULT_STYLES[location])
    if style != DEFAULT_STYLES[location]:
        raise _unsupported(f"{where}.style", f"style {style!r} in the {location}")
    schema = parameter.get("schema") or {"type": "string"}
    kind = schema.get("type", "string")
    if kind == "array" and location == "query":
        item = (schema.get("items") or {}).get("type", "string")
        if item not in PRIMITIVES:
            raise _unsupported(f"{where}.schema.items", f"an array of {item}")
        if parameter.get("explode") is False:
            raise _unsupported(f"{where}.explode", "explode: false")
    elif kind not in PRIMITIVES:
        raise _unsupported(f"{where}.schema.type", f"a parameter of type {kind!r} in the {location}")
    name = parameter.get("name")
    if not isinstance(name, str) or not name:
        raise errors.PLUGIN_OPENAPI_INVALID(f"{where}.name: required")
    return {
        "name": name,
        "in": location,
        "required": bool(parameter.get("required")) or location == "path",
        "description": str(parameter.get("description") or ""),
        "schema": schema,
    }


def _check_body(request_body: dict, where: str) -> dict | None:
    content = request_body.get("content") or {}
    if not content:
        return None
    media = next((m for m in BODY_TYPES if m in content), None)
    if media is None:
        raise _unsupported(f"{where}.content", f"a request body of {', '.join(content)[:100]}")
    schema = (content[media] or {}).get("schema") or {"type": "object"}
    if schema.get("type", "object") != "object":
        raise _unsupported(f"{where}.content.{media}.schema.type", "a request body that is not an object")
    if media != "application/json":
        for name, prop in (schema.get("properties") or {}).items():
            if (prop or {}).get("type", "string") not in PRIMITIVES:
                raise _unsupported(f"{where}.content.{media}.schema.properties.{name}", "a nested form field")
    return {"required": bool(request_body.get("required")), "content": {media: {"schema": schema}}}


def _response_schema(responses: dict) -> dict | None:
    for status in ("200", "201", "default"):
        content = ((responses or {}).get(status) or {}).get("content") or {}
        for media, entry in content.items():
            if "json" in media and isinstance(entry, dict) and entry.get("schema"):
                return entry["schema"]
    return None


def operation_of(document: dict, path: str, method: str, where: str) -> dict:
    """One operation, resolved and checked, in the form a tool keeps."""
    item = _resolved(document, document["paths"][path], f"paths.{path}")
    operation = item[method]
    merged = {(p.get("in"), p.get("name")): p for p in item.get("parameters") or [] if isinstance(p, dict)}
    merged.update(
        {(p.get("in"), p.get("name")): p for p in operation.get("parameters") or [] if isinstance(p, dict)}
    )
    parameters = [_check_parameter(p, f"{where}.parameters[{i}]") for i, p in enumerate(merged.values())]
    in_path = set(_TEMPLATE.findall(path))
    declared = {p["name"] for p in parameters if p["in"] == "path"}
    if in_path != declared:
        missing = sorted(in_path - declared) or sorted(declared - in_path)
        raise errors.PLUGIN_OPENAPI_INVALID(
            f"{where}.parameters: path parameters must match the path's {{names}} ({', '.join(missing)})"
        )
    body = (
        _check_body(operation["requestBody"], f"{where}.requestBody")
        if operation.get("requestBody")
        else None
    )
    names = [p["name"] for p in parameters] + list(body_properties(body))
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise _unsupported(f"{where}.parameters", f"the same name in two places ({', '.join(twice)})")
    checked = {
        "summary": str(operation.get("summary") or ""),
        "description": str(operation.get("description") or ""),
        "parameters": parameters,
        "responses": {"200": {"description": "OK"}},
    }
    schema = _response_schema(operation.get("responses") or {})
    if schema is not None:
        checked["responses"]["200"]["content"] = {"application/json": {"schema": schema}}
    if body is not None:
        checked["requestBody"] = body
    return checked


def body_properties(request_body: dict | None) -> dict:
    if not request_body:
        return {}
    schema = next(iter(request_body["content"].values()))["schema"]
    return schema.get("properties") or {}


def tools_of(document: dict, where: str = "openapi") -> list[ToolSpec]:
    paths = document.get("paths") or {}
    found, names = [], set()
    for path, item in paths.items():
        for method in METHODS:
            if not isinstance(item, dict) or method not in item:
                continue
            at = f"{where}.paths.{path}.{method}"
            raw = item[method] or {}
            name = raw.get("operationId")
            if not isinstance(name, str) or not NAME.fullmatch(name):
                raise errors.PLUGIN_OPENAPI_INVALID(
                    f"{at}.operationId: each operation needs one"
                    " (a letter, then letters, digits and _; at most 64)"
                )
            if name.lower() in names:
                raise errors.PLUGIN_OPENAPI_INVALID(f"{at}.operationId: {name} is used twice")
            names.add(name.lower())
            operation = operation_of(document, path, method, at)
            description = operation["summary"] or operation["description"]
            found.append(ToolSpec(name, description, method, path, operation))
    if not found:
        raise errors.PLUGIN_OPENAPI_INVALID(f"{where}.paths: the document describes no operation")
    if len(found) > MAX_TOOLS:
        raise errors.PLUGIN_OPENAPI_INVALID(f"{where}.paths: at most {MAX_TOOLS} operations")
    return found


# --- Coze's APIParameter lists ------------------------------------------------------------------


def _api_parameter(name: str, schema: dict, location: int, required: bool, description: str, depth=0) -> dict:
    kind = schema.get("type", "string")
    view = {
        "id": f"{location}:{name}",
        "name": name,
        "desc": description or str(schema.get("description") or ""),
        "type": TYPES.get(kind, 1),
        "location": location,
        "is_required": required,
        "sub_parameters": [],
        "global_default": "" if schema.get("default") is None else _text(schema["default"]),
        "global_disable": False,
        "local_disable": False,
    }
    if depth < MAX_DEPTH and kind == "object":
        needed = set(schema.get("required") or [])
        view["sub_parameters"] = [
            _api_parameter(key, sub or {}, location, key in needed, "", depth + 1)
            for key, sub in (schema.get("properties") or {}).items()
        ]
    elif depth < MAX_DEPTH and kind == "array":
        items = schema.get("items") or {}
        view["sub_type"] = TYPES.get(items.get("type", "string"), 1)
        view["sub_parameters"] = [_api_parameter("[Array Item]", items, location, False, "", depth + 1)]
    return view


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def request_params(operation: dict) -> list[dict]:
    params = [
        _api_parameter(p["name"], p["schema"], LOCATIONS[p["in"]], p["required"], p["description"])
        for p in operation.get("parameters") or []
    ]
    body = operation.get("requestBody")
    if body:
        schema = next(iter(body["content"].values()))["schema"]
        needed = set(schema.get("required") or [])
        params += [
            _api_parameter(name, prop or {}, LOCATIONS["body"], name in needed, "")
            for name, prop in (schema.get("properties") or {}).items()
        ]
    return params


def response_params(operation: dict) -> list[dict]:
    content = ((operation.get("responses") or {}).get("200") or {}).get("content") or {}
    schema = (content.get("application/json") or {}).get("schema") or {}
    needed = set(schema.get("required") or [])
    return [
        _api_parameter(name, prop or {}, LOCATIONS["body"], name in needed, "")
        for name, prop in (schema.get("properties") or {}).items()
    ]


def _schema_of(parameter: dict, depth: int = 0) -> dict:
    """An APIParameter (as the console edits it) back into a JSON schema."""
    kind = TYPE_NAMES.get(parameter.get("type"), "string")
    schema: dict = {"type": kind}
    if parameter.get("desc"):
        schema["description"] = parameter["desc"]
    default = parameter.get("global_default")
    if default not in (None, ""):
        schema["default"] = _typed_default(kind, default)
    subs = parameter.get("sub_parameters") or []
    if depth < MAX_DEPTH and kind == "object":
        schema["properties"] = {s["name"]: _schema_of(s, depth + 1) for s in subs}
        needed = [s["name"] for s in subs if s.get("is_required")]
        if needed:
            schema["required"] = needed
    elif kind == "array":
        schema["items"] = (
            _schema_of(subs[0], depth + 1)
            if subs
            else {"type": TYPE_NAMES.get(parameter.get("sub_type"), "string")}
        )
    return schema


def typed_value(kind: str, text: str):
    """`text` as a value of the JSON type `kind`; ValueError when it is not one."""
    if kind == "integer":
        return int(text)
    if kind == "number":
        return float(text)
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ValueError("true or false")
        return text.lower() == "true"
    if kind in ("object", "array"):
        value = json.loads(text)
        if not isinstance(value, dict if kind == "object" else list):
            raise ValueError(f"a JSON {kind}")
        return value
    return text


def _typed_default(kind: str, text: str):
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
        if kind == "boolean":
            return text.lower() == "true"
        if kind in ("object", "array"):
            return json.loads(text)
    except ValueError:
        pass
    return text


def operation_from_params(
    summary: str, request: list[dict], response: list[dict], method: str, where: str
) -> dict:
    """The operation a tool edited in the console's form (APIParameter lists) stands for."""
    parameters, body_props, body_required = [], {}, []
    for index, parameter in enumerate(request):
        location = LOCATION_NAMES.get(parameter.get("location") or 3)
        name = parameter.get("name")
        at = f"{where}.request_params[{index}]"
        if not isinstance(name, str) or not name:
            raise errors.PLUGIN_INVALID_PARAM(f"{at}.name: required")
        if location is None:
            raise errors.PLUGIN_INVALID_PARAM(f"{at}.location: 1 path, 2 query, 3 body or 4 header")
        schema = _schema_of(parameter)
        if location == "body":
            if method == "get":
                raise _unsupported(f"{at}.location", "a body parameter on a GET tool")
            body_props[name] = schema
            if parameter.get("is_required"):
                body_required.append(name)
        else:
            parameters.append(
                _check_parameter(
                    {
                        "name": name,
                        "in": location,
                        "required": bool(parameter.get("is_required")),
                        "description": parameter.get("desc") or "",
                        "schema": schema,
                    },
                    at,
                )
            )
    operation = {
        "summary": summary,
        "description": summary,
        "parameters": parameters,
        "responses": {"200": {"description": "OK"}},
    }
    if body_props:
        body_schema = {
            "type": "object",
            "properties": body_props,
            **({"required": body_required} if body_required else {}),
        }
        operation["requestBody"] = {
            "required": bool(body_required),
            "content": {"application/json": {"schema": body_schema}},
        }
    if response:
        props = {p.get("name") or f"field{i}": _schema_of(p) for i, p in enumerate(response)}
        operation["responses"]["200"]["content"] = {
            "application/json": {"schema": {"type": "object", "properties": props}}
        }
    return operation


# --- the whole document, and the model's view of a tool ---------------------------------------


def document_of(info: dict, server: str, tools) -> dict:
    """The plugin's OpenAPI document as its tools now stand."""
    paths: dict = {}
    for tool in tools:
        operation = {"operationId": tool.name, **tool.operation}
        paths.setdefault(tool.path, {})[tool.method] = operation
    return {
        "openapi": "3.0.1",
        "info": info or {"title": "plugin", "version": "v1"},
        "servers": [{"url": server}],
        "paths": paths,
    }


def dump(document: dict) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def arguments_schema(operation: dict) -> dict:
    """The JSON schema of a call's arguments: every parameter and body property at the top."""
    properties, required = {}, []
    for parameter in operation.get("parameters") or []:
        schema = dict(parameter["schema"])
        if parameter["description"] and "description" not in schema:
            schema["description"] = parameter["description"]
        properties[parameter["name"]] = schema
        if parameter["required"]:
            required.append(parameter["name"])
    body = operation.get("requestBody")
    if body:
        schema = next(iter(body["content"].values()))["schema"]
        properties.update(schema.get("properties") or {})
        required += list(schema.get("required") or [])
    return {"type": "object", "properties": properties, "required": required}
