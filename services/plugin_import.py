"""Importing a plugin from what people have at hand (Coze's convert_to_openapi): an OpenAPI 3
document as it is, a Swagger 2 document converted, a Postman collection (v2.0 or v2.1) or curl
command lines turned into operations. The result is an OpenAPI 3 document and a manifest that
`register` accepts: it is checked by the same code before it is returned."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import shlex
from urllib.parse import parse_qsl, urlsplit

from core import errors
from services import plugin_docs

FORMAT_OPENAPI, FORMAT_CURL, FORMAT_POSTMAN, FORMAT_SWAGGER = 1, 2, 3, 4
METHODS = tuple(plugin_docs.METHODS)
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")
_POSTMAN_VARIABLE = re.compile(r"\{\{([^{}]+)\}\}")
MAX_SAMPLE_DEPTH = 8
SKIPPED_HEADERS = {
    "content-type",
    "content-length",
    "accept",
    "authorization",
    "cookie",
    "host",
    "user-agent",
}


def _invalid(message: str) -> errors.ApiError:
    return errors.PLUGIN_OPENAPI_INVALID(message)


@dataclasses.dataclass
class Converted:
    openapi: str
    ai_plugin: str
    data_format: int
    duplicates: list[dict]


def convert(
    data: str, plugin_name: str = "", plugin_url: str = "", description: str = "", merge: bool = False
):
    """`data` as an OpenAPI 3 document and a manifest, or 400 naming what is wrong."""
    text = (data or "").strip()
    if text.lower().startswith("curl"):
        document, data_format, duplicates = _from_curl(text, plugin_url, merge)
    else:
        source = plugin_docs.parse(text, "data", errors.PLUGIN_OPENAPI_INVALID)
        if str(source.get("openapi") or "").startswith("3."):
            document, data_format, duplicates = source, FORMAT_OPENAPI, []
        elif str(source.get("swagger") or "") == "2.0":
            document, data_format, duplicates = _from_swagger(source), FORMAT_SWAGGER, []
        elif isinstance(source.get("item"), list) and isinstance(source.get("info"), dict):
            document, data_format, duplicates = _from_postman(source, plugin_url, merge)
        else:
            raise _invalid(
                "data: not an OpenAPI 3 or Swagger 2 document, a Postman collection or a curl command"
            )
    if plugin_url:
        document["servers"] = [{"url": plugin_url}]
    title = plugin_name or str((document.get("info") or {}).get("title") or "Imported plugin")
    document.setdefault("info", {})
    document["info"] = {
        **document["info"],
        "title": title,
        "version": str(document["info"].get("version") or "v1"),
    }
    plugin_docs.check_openapi(document, "data")
    plugin_docs.server_url(document, "data")
    plugin_docs.tools_of(document, "data")  # what register would refuse is refused here
    about = description or str(document["info"].get("description") or title)
    manifest = {
        "schema_version": "v1",
        "name_for_human": title[:255],
        "name_for_model": _model_name(title),
        "description_for_human": about[:2000],
        "description_for_model": about[:2000],
        "auth": {"type": "none"},
    }
    return Converted(
        plugin_docs.dump(document), json.dumps(manifest, ensure_ascii=False), data_format, duplicates
    )


def _model_name(title: str) -> str:
    name = re.sub("_+", "_", _UNSAFE.sub("_", title)).strip("_").lower() or "plugin"
    if not name[0].isalpha():
        name = f"plugin_{name}"
    return name[:64]


def _operation_id(text: str, taken: set[str]) -> str:
    base = _model_name(text)
    candidate, number = base, 2
    while candidate in taken:
        suffix = f"_{number}"
        candidate, number = base[: 64 - len(suffix)] + suffix, number + 1
    taken.add(candidate)
    return candidate


# --- Swagger 2 --------------------------------------------------------------------------------------


def _refs_moved(node):
    """Swagger's #/definitions/X references as OpenAPI's #/components/schemas/X."""
    if isinstance(node, list):
        return [_refs_moved(item) for item in node]
    if not isinstance(node, dict):
        return node
    moved = {key: _refs_moved(value) for key, value in node.items()}
    ref = moved.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        moved["$ref"] = "#/components/schemas/" + ref[len("#/definitions/") :]
    return moved


def _swagger_schema(parameter: dict) -> dict:
    """A non-body Swagger parameter's type fields as a schema."""
    schema = {
        key: copy.deepcopy(parameter[key])
        for key in (
            "type",
            "format",
            "enum",
            "default",
            "minimum",
            "maximum",
            "pattern",
            "maxLength",
            "minLength",
        )
        if key in parameter
    }
    if parameter.get("type") == "array":
        schema["items"] = _swagger_schema(parameter.get("items") or {"type": "string"})
    return schema or {"type": "string"}


def _from_swagger(source: dict) -> dict:
    shared = source.get("parameters") or {}
    schemes = source.get("schemes") or ["https"]
    host = source.get("host") or ""
    servers = [{"url": f"{schemes[0]}://{host}{source.get('basePath') or ''}".rstrip("/")}] if host else []
    paths, taken = {}, set()
    for path, item in (source.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        common = item.get("parameters") or []
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            where = f"data.paths.{path}.{method}"
            converted = {
                "operationId": operation.get("operationId") or _operation_id(f"{method}_{path}", taken),
                "summary": operation.get("summary") or "",
                "description": operation.get("description") or "",
                "parameters": [],
                "responses": {},
            }
            consumes = operation.get("consumes") or source.get("consumes") or ["application/json"]
            form: dict = {"type": "object", "properties": {}, "required": []}
            for index, parameter in enumerate([*common, *(operation.get("parameters") or [])]):
                if isinstance(parameter, dict) and "$ref" in parameter:
                    name = str(parameter["$ref"]).rsplit("/", 1)[-1]
                    if name not in shared:
                        raise _invalid(f"{where}.parameters[{index}].$ref: {parameter['$ref']} names nothing")
                    parameter = shared[name]
                location = parameter.get("in")
                if location == "body":
                    media = "application/json" if any("json" in c for c in consumes) else consumes[0]
                    converted["requestBody"] = {
                        "required": bool(parameter.get("required")),
                        "content": {
                            media: {"schema": _refs_moved(parameter.get("schema") or {"type": "object"})}
                        },
                    }
                elif location == "formData":
                    if parameter.get("type") == "file":
                        raise errors.PLUGIN_TOOL_UNSUPPORTED(
                            f"{where}.parameters[{index}]: a file upload is not supported"
                        )
                    form["properties"][parameter["name"]] = _swagger_schema(parameter)
                    if parameter.get("required"):
                        form["required"].append(parameter["name"])
                else:
                    entry = {
                        "name": parameter.get("name"),
                        "in": location,
                        "required": bool(parameter.get("required")) or location == "path",
                        "schema": _swagger_schema(parameter),
                    }
                    if parameter.get("description"):
                        entry["description"] = parameter["description"]
                    if (
                        parameter.get("collectionFormat") not in (None, "multi")
                        and parameter.get("type") == "array"
                    ):
                        entry["explode"] = False
                    converted["parameters"].append(entry)
            if form["properties"]:
                if not form["required"]:
                    form.pop("required")
                converted["requestBody"] = {
                    "content": {"application/x-www-form-urlencoded": {"schema": form}}
                }
            for status, response in (operation.get("responses") or {"200": {"description": "OK"}}).items():
                response = response if isinstance(response, dict) else {}
                entry = {"description": response.get("description") or "OK"}
                if response.get("schema"):
                    entry["content"] = {"application/json": {"schema": _refs_moved(response["schema"])}}
                converted["responses"][str(status)] = entry
            if not converted["parameters"]:
                converted.pop("parameters")
            paths.setdefault(path, {})[method] = converted
    document = {
        "openapi": "3.0.1",
        "info": source.get("info") or {"title": "Imported plugin", "version": "v1"},
        "servers": servers,
        "paths": paths,
    }
    if source.get("definitions"):
        document["components"] = {"schemas": _refs_moved(source["definitions"])}
    return document


# --- requests seen in samples (Postman, curl) -------------------------------------------------------


@dataclasses.dataclass
class Sample:
    """One request as a collection or a command line shows it."""

    name: str
    method: str
    url: str  # absolute, with {name} for path parameters
    headers: list[tuple[str, str]]
    body_kind: str = ""  # "json", "form" or ""
    body: object = None  # the JSON value, or [(name, value)] for a form


def _schema_of_sample(value, depth: int = 0) -> dict:
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, dict) and depth < MAX_SAMPLE_DEPTH:
        return {
            "type": "object",
            "properties": {k: _schema_of_sample(v, depth + 1) for k, v in value.items()},
        }
    if isinstance(value, list) and depth < MAX_SAMPLE_DEPTH:
        return {
            "type": "array",
            "items": _schema_of_sample(value[0], depth + 1) if value else {"type": "string"},
        }
    return {"type": "string"}


def _document_of_samples(samples: list[Sample], title: str, plugin_url: str, merge: bool):
    """(document, duplicates): one operation per method and path; duplicates refused unless
    `merge` (then the first is kept)."""
    if not samples:
        raise _invalid("data: no request found")
    server = plugin_url
    paths, taken, seen = {}, set(), {}
    for index, sample in enumerate(samples):
        parts = urlsplit(sample.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _invalid(
                f"data: request {index + 1} ({sample.name}): an absolute http(s) URL is needed,"
                f" got {sample.url[:200]!r}"
            )
        origin = f"{parts.scheme}://{parts.netloc}"
        if not server:
            server = origin
        path = parts.path or "/"
        method = sample.method.lower()
        if method not in METHODS:
            raise errors.PLUGIN_TOOL_UNSUPPORTED(
                f"data: request {index + 1} ({sample.name}): the method {sample.method}"
            )
        key = (method, path)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            continue
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"\{([^{}/]+)\}", path)
        ]
        parameters += [
            {"name": name, "in": "query", "schema": {"type": "string", "example": value}}
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ]
        parameters += [
            {"name": name, "in": "header", "schema": {"type": "string", "example": value}}
            for name, value in sample.headers
            if name.lower() not in SKIPPED_HEADERS
        ]
        operation = {
            "operationId": _operation_id(sample.name or f"{method}_{path}", taken),
            "summary": sample.name,
        }
        if parameters:
            operation["parameters"] = parameters
        if sample.body_kind == "json":
            schema = _schema_of_sample(sample.body)
            if schema["type"] != "object":
                raise errors.PLUGIN_TOOL_UNSUPPORTED(
                    f"data: request {index + 1} ({sample.name}): a body that is not a JSON object"
                )
            operation["requestBody"] = {"content": {"application/json": {"schema": schema}}}
        elif sample.body_kind == "form":
            properties = {name: {"type": "string", "example": value} for name, value in sample.body}
            schema = {"type": "object", "properties": properties}
            operation["requestBody"] = {"content": {"application/x-www-form-urlencoded": {"schema": schema}}}
        operation["responses"] = {"200": {"description": "OK"}}
        paths.setdefault(path, {})[method] = operation
    duplicates = [{"method": m.upper(), "path": p, "count": n} for (m, p), n in seen.items() if n > 1]
    if duplicates and not merge:
        named = ", ".join(f"{d['method']} {d['path']} ({d['count']} times)" for d in duplicates[:10])
        raise _invalid(
            f"data: the same method and path more than once: {named}; send merge_same_paths to keep the first"
        )
    document = {
        "openapi": "3.0.1",
        "info": {"title": title, "version": "v1"},
        "servers": [{"url": server}],
        "paths": paths,
    }
    return document, duplicates


# --- Postman ---------------------------------------------------------------------------------------


def _postman_text(value, variables: dict) -> str:
    """Collection variables filled in; others left as {name} (path parameters)."""
    return _POSTMAN_VARIABLE.sub(
        lambda m: variables.get(m.group(1).strip(), "{" + m.group(1).strip() + "}"), str(value)
    )


def _postman_url(url, variables: dict) -> str:
    if isinstance(url, str):
        raw = url
    elif isinstance(url, dict):
        raw = url.get("raw") or ""
        if not raw:
            host = url.get("host") or []
            path = url.get("path") or []
            host_text = ".".join(host) if isinstance(host, list) else str(host)
            path_text = "/".join(
                p if isinstance(p, str) else str(p.get("value", ""))
                for p in (path if isinstance(path, list) else [path])
            )
            raw = f"{url.get('protocol') or 'https'}://{host_text}/{path_text}"
            query = [q for q in url.get("query") or [] if isinstance(q, dict) and not q.get("disabled")]
            if query:
                raw += "?" + "&".join(f"{q.get('key', '')}={q.get('value') or ''}" for q in query)
    else:
        raw = ""
    text = _postman_text(raw, variables)
    # :name path segments are Postman's path variables
    parts = urlsplit(text)
    path = "/".join(
        "{" + seg[1:] + "}" if seg.startswith(":") and len(seg) > 1 else seg for seg in parts.path.split("/")
    )
    return parts._replace(path=path).geturl()


def _postman_items(items, variables: dict, found: list[Sample], prefix: str = "", depth: int = 0) -> None:
    for item in items or []:
        if not isinstance(item, dict):
            continue
        name = f"{prefix} {item.get('name') or ''}".strip()
        if isinstance(item.get("item"), list) and depth < 10:
            _postman_items(item["item"], variables, found, name, depth + 1)
            continue
        request = item.get("request")
        if isinstance(request, str):
            request = {"method": "GET", "url": request}
        if not isinstance(request, dict):
            continue
        headers = [
            (str(h.get("key", "")), _postman_text(h.get("value", ""), variables))
            for h in request.get("header") or []
            if isinstance(h, dict) and not h.get("disabled") and h.get("key")
        ]
        sample = Sample(
            name, str(request.get("method") or "GET"), _postman_url(request.get("url"), variables), headers
        )
        body = request.get("body") or {}
        mode = body.get("mode") if isinstance(body, dict) else None
        if mode == "raw" and str(body.get("raw") or "").strip():
            try:
                sample.body_kind, sample.body = "json", json.loads(_postman_text(body["raw"], variables))
            except ValueError:
                raise errors.PLUGIN_TOOL_UNSUPPORTED(f"data: request {name!r}: a raw body that is not JSON")
        elif mode in ("urlencoded", "formdata"):
            fields = [f for f in body.get(mode) or [] if isinstance(f, dict) and not f.get("disabled")]
            if any(f.get("type") == "file" for f in fields):
                raise errors.PLUGIN_TOOL_UNSUPPORTED(
                    f"data: request {name!r}: a file upload is not supported"
                )
            sample.body_kind, sample.body = (
                "form",
                [(str(f.get("key", "")), str(f.get("value") or "")) for f in fields],
            )
        found.append(sample)


def _from_postman(source: dict, plugin_url: str, merge: bool):
    variables = {
        str(v.get("key")): str(v.get("value") or "")
        for v in source.get("variable") or []
        if isinstance(v, dict) and v.get("key")
    }
    samples: list[Sample] = []
    _postman_items(source["item"], variables, samples)
    title = str(source["info"].get("name") or "Imported plugin")
    document, duplicates = _document_of_samples(samples, title, plugin_url, merge)
    if source["info"].get("description"):
        document["info"]["description"] = str(source["info"]["description"])[:2000]
    return document, FORMAT_POSTMAN, duplicates


# --- curl --------------------------------------------------------------------------------------------

_DATA_OPTIONS = {"-d", "--data", "--data-raw", "--data-binary", "--data-ascii", "--data-urlencode"}
_VALUE_OPTIONS = {
    "-o",
    "--output",
    "-A",
    "--user-agent",
    "-e",
    "--referer",
    "-m",
    "--max-time",
    "--connect-timeout",
    "-b",
    "--cookie",
    "-x",
    "--proxy",
}


def _from_curl(text: str, plugin_url: str, merge: bool):
    commands = [
        c for c in re.split(r"\n\s*(?=curl\s)", text.replace("\\\r\n", " ").replace("\\\n", " ")) if c.strip()
    ]
    samples = [_curl_sample(command, index) for index, command in enumerate(commands)]
    document, duplicates = _document_of_samples(samples, "Imported plugin", plugin_url, merge)
    return document, FORMAT_CURL, duplicates


def _curl_sample(command: str, index: int) -> Sample:
    where = f"data: curl command {index + 1}"
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise _invalid(f"{where}: {exc}")
    method, url, headers, data, as_json, as_query = "", "", [], [], False, False
    position = 1
    while position < len(words):
        word = words[position]
        value = words[position + 1] if position + 1 < len(words) else None
        if word in ("-X", "--request"):
            method, position = str(value or ""), position + 2
        elif word in ("-H", "--header"):
            name, _, header_value = str(value or "").partition(":")
            headers.append((name.strip(), header_value.strip()))
            position += 2
        elif word in _DATA_OPTIONS or word == "--json":
            data.append(str(value or ""))
            as_json = as_json or word == "--json"
            position += 2
        elif word == "--url":
            url, position = str(value or ""), position + 2
        elif word in ("-G", "--get"):
            as_query, position = True, position + 1
        elif word in ("-u", "--user", "-F", "--form"):
            raise errors.PLUGIN_TOOL_UNSUPPORTED(
                f"{where}: {word} is not supported (use a header or a form body)"
            )
        elif word in _VALUE_OPTIONS:
            position += 2
        elif word.startswith("-"):
            position += 1  # -s, -L, -k, --compressed ...: they do not change the request
        else:
            url = url or word
            position += 1
    if not url:
        raise _invalid(f"{where}: no URL")
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    joined = "&".join(data)
    sample = Sample(
        f"request {index + 1}", method or ("POST" if data and not as_query else "GET"), url, headers
    )
    if data and as_query:
        sample.url += ("&" if "?" in url else "?") + joined
    elif data and (as_json or "json" in content_type or joined.lstrip().startswith(("{", "["))):
        try:
            sample.body_kind, sample.body = "json", json.loads(joined)
        except ValueError:
            raise errors.PLUGIN_TOOL_UNSUPPORTED(f"{where}: the data is not JSON")
    elif data:
        sample.body_kind, sample.body = "form", parse_qsl(joined, keep_blank_values=True)
    path = urlsplit(sample.url).path.strip("/") or "root"
    sample.name = f"{sample.method.lower()}_{path}"
    return sample
