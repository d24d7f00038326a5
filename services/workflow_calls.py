"""Workflow nodes that call the platform's services as the run's owner: LLM and intent detection
(models from the registry), Plugin (a tool, through the same call path as agents), Knowledge
retrieval, HTTP request (through the SSRF guard) and Sub-workflow. Every id a node names is
resolved through the ownership-checked lookup (services/refs), as the user who runs it."""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import urlencode

from core import errors
from core.ids import new_id
from core.settings import get_settings
from models.db import run_db
from models.llm import LlmModel
from services import llm, model_registry, plugin_calls, plugin_oauth, plugins, refs, retrieval, webfetch
from services import workflow_canvas as wc
from services.workflow_engine import NodeError, Outcome, Run, RunInterrupted, handles

HTTP_REQUEST = "45"
MAX_SUBWORKFLOW_DEPTH = 5
MAX_HTTP_RESPONSE = 2 * 1024 * 1024


def _user(node: wc.Node, run: Run):
    user = run.context.get("user")
    if user is None:
        raise NodeError(f"node {node.id} ({node.title}): runs only inside a workflow run of a user")
    return user


def _params(node: wc.Node, key: str, run: Run) -> dict:
    """A node's list of {name, input} settings (llmParam, apiParam, datasetParam) by name."""
    found = node.inputs.get(key)
    if isinstance(found, dict):  # some canvases keep llmParam as an object
        return found
    return {
        p.get("name"): wc.value_of(p.get("input") or {}, run.scope, f"node {node.id}.{key}.{p.get('name')}")
        for p in found or []
        if isinstance(p, dict) and p.get("name")
    }


# --- models ---------------------------------------------------------------------------------------


def _model(model_id) -> LlmModel:
    """The registry's model the node names, else the default chat model (a canvas from Coze
    Studio names models this server does not have)."""
    try:
        return model_registry.usable(model_id)
    except errors.ApiError:
        found = LlmModel.default_model()
        if found is None:
            raise errors.AGENT_NO_MODEL("no chat model is enabled for the workflow's LLM node")
        return found


async def _ask(
    node: wc.Node, run: Run, settings: dict, system: str, prompt: str, stream: bool = False
) -> str:
    model = await run_db(_model, settings.get("modelType"))
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": prompt}
    ]
    params = {}
    if settings.get("temperature") not in (None, ""):
        params["temperature"] = float(settings["temperature"])
    if settings.get("maxTokens") not in (None, ""):
        params["max_tokens"] = int(settings["maxTokens"])
    request = llm.ChatRequest(messages, params=params)
    target = run.stream_target(node) if stream else None
    try:
        if target is None:
            text, usage = await llm.complete(model, request)
        else:  # the answer node after it says the text as it comes
            answer, before, _ = target
            if before:
                run.on_message(answer, before, False)
            pieces, usage = [], llm.Usage()

            def on_delta(content: str, reasoning: str) -> None:
                if content:
                    pieces.append(content)
                    run.on_message(answer, content, False)

            async for chunk in llm.stream(model, request, on_delta):
                if chunk.usage:
                    usage.add(chunk.usage)
            text = "".join(pieces)
    except llm.ProviderError as exc:
        raise NodeError(f"node {node.id} ({node.title}): the model failed: {exc.msg}")
    run.results[node.id].tokens += usage.input_tokens + usage.output_tokens
    return text


@handles(wc.LLM)
async def llm_node(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    settings = _params(node, "llmParam", run)
    prompt = wc.render(str(settings.get("prompt") or ""), inputs)
    system = wc.render(str(settings.get("systemPrompt") or ""), inputs)
    declared = [o for o in node.outputs if isinstance(o, dict) and o.get("name")]
    structured = [o for o in declared if o["name"] not in ("output", "reasoning_content")]
    text = await _ask(node, run, settings, system, prompt, stream=not structured)
    if not structured:
        return Outcome({"output": text})
    try:  # a JSON answer fills the declared outputs (Coze's responseFormat JSON)
        parsed = json.loads(re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip()))
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return Outcome({"output": text})
    return Outcome(
        {
            o["name"]: wc.typed(
                o.get("type") or "string", parsed[o["name"]], f"node {node.id} output {o['name']}"
            )
            for o in structured
            if parsed.get(o["name"]) is not None
        }
    )


@handles(wc.INTENT)
async def intent_node(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    """The intent the query is about: port "branch_<i>" for the i-th intent, "default" for none.
    A query naming exactly one intent needs no model; otherwise the model picks one."""
    intents = [str((i or {}).get("name") or "") for i in node.inputs.get("intents") or []]
    query = str(inputs.get("query") or next(iter(inputs.values()), "") or "")
    named = [index for index, name in enumerate(intents) if name and name.lower() in query.lower()]
    if len(named) != 1:
        listing = "\n".join(f"{index + 1}. {name}" for index, name in enumerate(intents))
        system = (
            "Classify the user's message into one of these intents. Answer with the intent's number "
            f"only, or 0 if none fits.\n{listing}"
        )
        answer = await _ask(node, run, _params(node, "llmParam", run), system, query)
        number = re.search(r"\d+", answer)
        chosen = int(number.group()) - 1 if number else -1
        named = [chosen] if 0 <= chosen < len(intents) else []
    if not named:
        return Outcome({"classificationId": 0, "reason": "no intent matched"}, port="default")
    index = named[0]
    return Outcome({"classificationId": index + 1, "reason": intents[index]}, port=f"branch_{index}")


# --- plugins and knowledge ----------------------------------------------------------------------


@handles(wc.PLUGIN)
async def plugin_node(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    user = _user(node, run)
    settings = _params(node, "apiParam", run)

    def resolve():
        plugin = plugins.load(user, settings.get("pluginID"), field=f"node {node.id}.apiParam.pluginID")
        return plugin, plugins.tool_of(plugin, settings.get("apiID"), field=f"node {node.id}.apiParam.apiID")

    plugin, tool = await run_db(resolve)
    arguments = {k: v for k, v in inputs.items() if v is not None}
    outcome = await asyncio.to_thread(
        plugin_calls.call,
        plugin,
        tool.method,
        tool.path,
        tool.operation,
        arguments,
        holder=plugin_oauth.holder_of(user.id),
    )
    if not outcome.success:
        raise NodeError(f"node {node.id} ({node.title}): {outcome.reason}", errors.PLUGIN_CALL_FAILED.code)
    try:
        answer = json.loads(outcome.response)
    except ValueError:
        answer = outcome.response
    if not isinstance(answer, dict):
        return Outcome({"data": answer})
    declared = [o for o in node.outputs if isinstance(o, dict) and o.get("name")]
    return Outcome({o["name"]: answer.get(o["name"]) for o in declared} if declared else answer)


@handles(wc.KNOWLEDGE)
async def knowledge_node(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    user = _user(node, run)
    settings = _params(node, "datasetParam", run)
    query = str(inputs.get("Query") or inputs.get("query") or "")
    listed = settings.get("datasetList") or []

    def search():
        datasets = refs.many(user, refs.DATASET, listed, field=f"node {node.id}.datasetParam.datasetList")
        strategy = int(
            settings.get("strategy") if settings.get("strategy") is not None else retrieval.FULL_TEXT
        )
        return retrieval.retrieve(
            datasets,
            query,
            strategy=strategy,
            top_k=max(1, min(int(settings.get("topK") or 5), 50)),
            min_score=float(settings.get("minScore") or 0),
            use_rerank=bool(settings.get("useRerank")),
        )

    found = await run_db(search)
    return Outcome({"outputList": [{"output": hit.slice.content} for hit in found.hits]})


# --- HTTP -------------------------------------------------------------------------------------------

_BLOCK_TEMPLATE = re.compile(r"\{\{\s*block_output_([^.}\s]+)\.([^}\s]+)\s*\}\}")


def _fill(template: str, run: Run) -> str:
    """Coze's HTTP templates: {{block_output_<node id>.<path>}} from earlier nodes' outputs."""

    def value(match: re.Match) -> str:
        found = run.scope.lookup({"blockID": match.group(1), "name": match.group(2)}, "template")
        return (
            ""
            if found is None
            else found
            if isinstance(found, str)
            else json.dumps(found, ensure_ascii=False)
        )

    return _BLOCK_TEMPLATE.sub(value, template or "")


def _pairs(node: wc.Node, entries, run: Run, where: str) -> list[tuple[str, str]]:
    pairs = []
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name"):
            value = wc.value_of(
                entry.get("input") or {}, run.scope, f"node {node.id}.{where}.{entry['name']}"
            )
            pairs.append((str(entry["name"]), "" if value is None else str(value)))
    return pairs


def _multipart(fields: list[tuple[str, str]], boundary: str) -> bytes:
    """Text fields as multipart/form-data (a file field sends its URL as text)."""
    parts = []
    for name, value in fields:
        quoted = name.replace('"', "%22")
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{quoted}"\r\n\r\n{value}\r\n')
    return ("".join(parts) + f"--{boundary}--\r\n").encode()


@handles(HTTP_REQUEST)
async def http_node(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    where = f"node {node.id} ({node.title})"
    api = node.inputs.get("apiInfo") or {}
    method = str(api.get("method") or "GET").upper()
    url = _fill(str(api.get("url") or "").strip(), run)
    headers = dict(_pairs(node, node.inputs.get("headers"), run, "headers"))
    query = _pairs(node, node.inputs.get("params"), run, "params")
    auth = node.inputs.get("auth") or {}
    if auth.get("authOpen"):
        data = auth.get("authData") or {}
        if auth.get("authType") == "BEARER_AUTH":
            token = dict(_pairs(node, data.get("bearerTokenData"), run, "auth")).get("token", "")
            headers["Authorization"] = f"Bearer {token}"
        elif auth.get("authType") == "CUSTOM_AUTH":
            custom = data.get("customData") or {}
            pair = dict(_pairs(node, custom.get("data"), run, "auth"))
            if custom.get("addTo") == "query":
                query.append((pair.get("Key", ""), pair.get("Value", "")))
            else:
                headers[pair.get("Key", "")] = pair.get("Value", "")
    if query:
        url += ("&" if "?" in url else "?") + urlencode(query)
    body_spec = node.inputs.get("body") or {}
    kind, data = body_spec.get("bodyType") or "EMPTY", body_spec.get("bodyData") or {}
    body = b""
    if kind == "JSON":
        body = _fill(str(data.get("json") or ""), run).encode()
        headers.setdefault("Content-Type", "application/json")
    elif kind == "RAW_TEXT":
        body = _fill(str(data.get("rawText") or ""), run).encode()
        headers.setdefault("Content-Type", "text/plain")
    elif kind == "FORM_URLENCODED":
        body = urlencode(_pairs(node, data.get("formURLEncoded"), run, "body")).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif kind == "FORM_DATA":
        boundary = f"cozeplus-{new_id()}"
        fields = _pairs(node, (data.get("formData") or {}).get("data"), run, "body")
        body = _multipart(fields, boundary)
        headers.setdefault("Content-Type", f"multipart/form-data; boundary={boundary}")
    elif kind != "EMPTY":
        raise NodeError(
            f"{where}.body.bodyType: EMPTY, JSON, RAW_TEXT, FORM_URLENCODED or FORM_DATA, not {kind}"
        )
    setting = node.inputs.get("setting") or {}
    timeout = float(setting.get("timeout") or get_settings().plugin_timeout_seconds)
    try:
        sent = await asyncio.to_thread(
            webfetch.send,
            method,
            url,
            headers=headers,
            body=body,
            max_bytes=MAX_HTTP_RESPONSE,
            timeout=min(timeout, 120.0),
            user_agent="cozeplus-workflow/1.0",
        )
    except webfetch.FetchError as exc:
        raise NodeError(f"{where}: {exc}")
    outputs = {
        "body": sent.response_body.decode("utf-8", "replace"),
        "statusCode": sent.status,
        "headers": json.dumps(dict(sent.response_headers), ensure_ascii=False),
    }
    if sent.status >= 400:
        raise NodeError(f"{where}: the server answered HTTP {sent.status}")
    return Outcome(outputs)


# --- sub-workflows ------------------------------------------------------------------------------


@handles(wc.SUB_WORKFLOW)
async def subworkflow_node(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    """Runs another workflow of the space (the version the node names, else its latest published,
    else, in a test run, its draft) with the node's inputs; its End's output is the node's."""
    from services import workflows

    user = _user(node, run)
    where = f"node {node.id} ({node.title})"
    depth = int(run.context.get("depth") or 0) + 1
    if depth > MAX_SUBWORKFLOW_DEPTH:
        raise NodeError(
            f"{where}: workflows nested more than {MAX_SUBWORKFLOW_DEPTH} deep (one calls itself?)"
        )
    debug = bool(getattr(run.context.get("run"), "debug", False))

    def canvas_of() -> str:
        child = workflows.load(user, node.inputs.get("workflowId"))
        version = str(node.inputs.get("workflowVersion") or "")
        published = workflows.version_named(child, version) if version else workflows.latest_version(child)
        if published is not None:
            return published.schema_json
        if version or not debug:
            raise errors.WORKFLOW_NOT_PUBLISHED(
                f"{where}: workflow {child.id} has no published version {version}"
            )
        return child.schema_json

    schema = await run_db(canvas_of)
    inner = Run(wc.parse(schema), inputs, context={**run.context, "depth": depth})
    try:
        output = await inner.execute()
    except RunInterrupted:
        raise NodeError(f"{where}: a node of the sub-workflow cannot wait for the user here")
    return Outcome(output if inner.answer is None else {**output, "output": inner.answer})


# --- knowledge writing and deleting -----------------------------------------------------------------

KNOWLEDGE_DELETE = "60"
_FILE_URI = re.compile(r"^file:([0-9]{1,19})$")


def _source_info(value) -> dict:
    """What the node's `knowledge` input names, as a document's source: an upload of the user's
    (file:<id>), a web page (a URL), or the text itself."""
    text = "" if value is None else str(value).strip()
    found = _FILE_URI.match(text)
    if found:
        return {"source_file_id": found.group(1)}
    if text.startswith(("http://", "https://")):
        return {"web_url": text}
    return {"custom_content": text}


@handles(wc.KNOWLEDGE_WRITE)
async def knowledge_write_node(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    from services import documents

    user = _user(node, run)
    settings = _params(node, "datasetParam", run)
    listed = settings.get("datasetList") or []
    if not listed:
        raise NodeError(f"node {node.id} ({node.title}).datasetParam.datasetList: names no knowledge base")
    strategy = node.inputs.get("strategyParam") or {}
    chunking = strategy.get("chunkStrategy") or {}
    chunk_strategy = None
    if chunking.get("chunkType") == "custom":
        most = int(chunking.get("maxToken") or 800)
        chunk_strategy = {  # Coze gives the overlap as a share of the chunk
            "chunk_type": 1,
            "separator": chunking.get("separator") or "\n",
            "max_tokens": most,
            "overlap": int(float(chunking.get("overlap") or 0) * most),
        }
    info = _source_info(inputs.get("knowledge"))
    name = str(inputs.get("knowledge") or "").rsplit("/", 1)[-1][:100] if "web_url" in info else ""

    def write():
        dataset = refs.one(user, refs.DATASET, listed[0], field=f"node {node.id}.datasetParam.datasetList")
        base = {
            "name": name or (f"{node.title}.txt" if "custom_content" in info else ""),
            "source_info": info,
        }
        return documents.create_documents(user, dataset.id, [base], chunk_strategy=chunk_strategy)[0]

    document = await run_db(write)
    return Outcome(
        {"documentId": str(document.id), "fileName": document.name, "fileUrl": info.get("web_url", "")}
    )


@handles(KNOWLEDGE_DELETE)
async def knowledge_delete_node(node: wc.Node, inputs: dict, run: Run) -> Outcome:
    from services import documents

    user = _user(node, run)
    document_id = inputs.get("documentID")
    await run_db(documents.delete_documents, user, [document_id])
    return Outcome({"isSuccess": True})
