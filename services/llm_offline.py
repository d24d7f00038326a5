"""The built-in offline model: deterministic answers with no network, able to drive every path of
the chat runtime. Commands at the start of a line of the user's message (documented in the spec):

  /echo <text>          answer exactly <text>
  /reason <text>        stream <text> as reasoning content before the answer
  /call <tool> <json>   call a tool with these arguments (one line per call; several run together)
  /fail <message>       fail, as a provider that broke off would
  /slow <ms>            wait <ms> (at most 1000) between streamed pieces

Without a command it says what it is and repeats the question. When the system prompt carries
recalled knowledge (a <knowledge> block of "[n] text" lines) it answers extractively with the
sentence that best matches the question, citing [n]."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator

from core import jsonsafe
from core.settings import get_settings
from services.llm import ChatRequest, Chunk, ProviderError, ToolCall, Usage, count_tokens, text_of

MAX_DELAY_MS = 1000
_COMMAND = re.compile(r"^/(echo|reason|call|fail|slow)\b[ \t]*(.*)$")
_PIECE = re.compile(r"\S+\s*|\s+")
_KNOWLEDGE = re.compile(r"<knowledge>\s*(.*?)\s*</knowledge>", re.S)
_CHUNK_LINE = re.compile(r"^\[(\d+)\]\s*(.+)$")
_WORD = re.compile(r"[\u4e00-\u9fff]|[a-z0-9]{2,}")
_SENTENCE = re.compile(r"[^.!?\u3002\uff01\uff1f\n]+[.!?\u3002\uff01\uff1f]?")


def _commands(text: str) -> tuple[dict[str, list[str]], str]:
    found: dict[str, list[str]] = {}
    rest = []
    for line in text.splitlines():
        match = _COMMAND.match(line.strip())
        if match:
            found.setdefault(match.group(1), []).append(match.group(2))
        else:
            rest.append(line)
    return found, "\n".join(rest).strip()


def _last_user_text(messages: list[dict]) -> tuple[str, int]:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "user":
            return text_of(messages[index].get("content")), index
    return "", -1


def _tool_call(index: int, line: str) -> ToolCall:
    name, _, raw = line.partition(" ")
    raw = raw.strip() or "{}"
    try:
        arguments = jsonsafe.loads(raw)
    except ValueError:
        raise ProviderError(f"offline model: the arguments of /call {name} are not JSON: {raw[:80]}")
    if not isinstance(arguments, dict) or not name:
        raise ProviderError("offline model: write /call <tool name> <JSON object>")
    call_id = "call_" + hashlib.sha256(f"{index}:{name}:{raw}".encode()).hexdigest()[:16]
    return ToolCall(id=call_id, name=name, arguments=json.dumps(arguments, ensure_ascii=False))


def _grounded_answer(system: str, question: str) -> str | None:
    block = _KNOWLEDGE.search(system)
    if not block:
        return None
    wanted = set(_WORD.findall(question.lower()))
    best, best_score = None, 0
    for line in block.group(1).splitlines():
        match = _CHUNK_LINE.match(line.strip())
        if not match:
            continue
        for sentence in _SENTENCE.findall(match.group(2)):
            score = len(wanted & set(_WORD.findall(sentence.lower())))
            if score > best_score:
                best, best_score = (sentence.strip(), match.group(1)), score
    if best is None:
        return "The knowledge base has nothing about this question."
    return f"According to the knowledge base: {best[0]} [{best[1]}]"


def _answer(request: ChatRequest, commands: dict, question: str) -> str:
    if "echo" in commands:
        return "\n".join(commands["echo"])
    messages = request.messages
    last_user = _last_user_text(messages)[1]
    tool_results = [m for m in messages[last_user + 1 :] if m.get("role") == "tool"]
    if tool_results:
        names = {
            c["id"]: c["function"]["name"]
            for m in messages[last_user + 1 :]
            for c in m.get("tool_calls") or []
        }
        return " ".join(
            f"The tool {names.get(m.get('tool_call_id'), 'tool')} returned: {text_of(m['content'])}"
            for m in tool_results
        )
    system = " ".join(text_of(m.get("content")) for m in messages if m.get("role") == "system")
    grounded = _grounded_answer(system, question)
    if grounded is not None:
        return grounded
    return (
        f"This is the built-in offline model, which answers without an LLM. You said: \u201c{question}\u201d"
    )


async def stream(request: ChatRequest) -> AsyncIterator[Chunk]:
    question, last_user = _last_user_text(request.messages)
    commands, question = _commands(question)
    if "fail" in commands:
        raise ProviderError(commands["fail"][0] or "offline model: failure requested by /fail")
    delay_ms = get_settings().offline_model_delay_ms
    if "slow" in commands:
        try:
            delay_ms = max(0, min(MAX_DELAY_MS, int(commands["slow"][0])))
        except ValueError:
            raise ProviderError("offline model: write /slow <milliseconds>")
    answered_tools = any(m.get("role") == "tool" for m in request.messages[last_user + 1 :])
    usage = Usage(input_tokens=sum(count_tokens(text_of(m.get("content"))) for m in request.messages))
    if "call" in commands and not answered_tools:
        calls = [_tool_call(i, line) for i, line in enumerate(commands["call"])]
        usage.output_tokens = sum(count_tokens(c.name + c.arguments) for c in calls)
        yield Chunk(tool_calls=calls, finish_reason="tool_calls", usage=usage)
        return
    for reasoning in commands.get("reason", []):
        for piece in _PIECE.findall(reasoning):
            await asyncio.sleep(delay_ms / 1000)
            yield Chunk(reasoning=piece)
    answer = _answer(request, commands, question)
    for piece in _PIECE.findall(answer):
        await asyncio.sleep(delay_ms / 1000)
        yield Chunk(content=piece)
    usage.output_tokens = count_tokens(answer) + count_tokens(" ".join(commands.get("reason", [])))
    yield Chunk(finish_reason="stop", usage=usage)


def follow_ups(messages: list[dict], answer: str) -> list[str]:
    question = _commands(_last_user_text(messages)[0])[1] or "this"
    topic = question if len(question) <= 40 else question[:40].rstrip() + "\u2026"
    return [
        f"Can you tell me more about \u201c{topic}\u201d?",
        "What should I try next?",
        "Which real model can I configure instead of the offline one?",
    ]
