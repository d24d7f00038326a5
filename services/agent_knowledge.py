"""Agents using their bound knowledge: recalled on every turn (auto) or offered to the model as
a tool (on demand), with the agent's retrieval settings; the recall is shown in the chat as
Coze's `knowledge_recall` verbose message, and the prompt numbers the slices so answers can
cite them as [n]."""

from __future__ import annotations

import dataclasses
import json
import logging

from anyio import to_thread

from core import errors
from core.ids import parse_id
from models.agent import Bot
from models.db import run_db
from models.knowledge import Dataset
from services import retrieval, tools

log = logging.getLogger("cozeplus.knowledge")
_COMPACT = {"separators": (",", ":"), "ensure_ascii": False}
TOOL_NAME = "search_knowledge"
INSTRUCTIONS = (
    "Answer from the knowledge below when it is relevant. Cite the slices you use as [n]. "
    "If the knowledge does not answer the question, say so rather than guess."
)


@dataclasses.dataclass
class KnowledgeSettings:
    dataset_ids: list[int]
    top_k: int
    min_score: float
    auto: bool
    strategy: int
    no_recall_reply: str
    use_rerank: bool = False
    use_rewrite: bool = False

    @property
    def calls_models(self) -> bool:
        """Whether recall may wait on an embedding or rerank model (so it belongs off the loop)."""
        return self.strategy != retrieval.FULL_TEXT or self.use_rerank


def settings_of(config: dict) -> KnowledgeSettings | None:
    knowledge = config.get("knowledge") or {}
    ids = [
        i
        for i in (parse_id(k.get("id")) for k in knowledge.get("knowledge_info") or [] if isinstance(k, dict))
        if i is not None
    ]
    if not ids:
        return None
    custom = knowledge.get("no_recall_reply_mode") == 1
    return KnowledgeSettings(
        dataset_ids=ids,
        top_k=int(knowledge.get("top_k") or 3),
        min_score=float(knowledge.get("min_score") or 0.0),
        auto=knowledge.get("auto", True) is not False,
        strategy=int(knowledge.get("search_strategy") or 0),
        no_recall_reply=(knowledge.get("no_recall_reply_customize_prompt") or "") if custom else "",
        use_rerank=bool((knowledge.get("recall_strategy") or {}).get("use_rerank")),
        use_rewrite=bool((knowledge.get("recall_strategy") or {}).get("use_rewrite")),
    )


def recall(space_id: int, settings: KnowledgeSettings, question: str) -> list[retrieval.Hit]:
    """Hits from the bound knowledge bases of the agent's own space (ids bound from elsewhere
    are ignored: binding cannot reach into another space)."""
    datasets = list(Dataset.select().where(Dataset.id.in_(settings.dataset_ids), Dataset.space == space_id))
    if not datasets or not question.strip():
        return []
    options = dict(top_k=settings.top_k, min_score=settings.min_score)
    try:
        return retrieval.retrieve(
            datasets, question, strategy=settings.strategy, use_rerank=settings.use_rerank, **options
        ).hits
    except errors.ApiError as exc:  # the embedding or rerank model failed: answer from full-text
        log.warning("knowledge recall fell back to full-text: %s", exc.msg)
        return retrieval.retrieve(datasets, question, strategy=retrieval.FULL_TEXT, **options).hits


async def recall_async(space_id: int, settings: KnowledgeSettings, question: str) -> list[retrieval.Hit]:
    if settings.calls_models:
        return await to_thread.run_sync(recall, space_id, settings, question)
    return await run_db(recall, space_id, settings, question)


def as_prompt(hits: list[retrieval.Hit], settings: KnowledgeSettings) -> str:
    """The numbered block the model answers from."""
    lines = [f"[{n}] {' '.join(hit.slice.content.split())}" for n, hit in enumerate(hits, start=1)]
    fallback = (
        f"\nIf nothing below answers the question, reply: {settings.no_recall_reply}"
        if settings.no_recall_reply
        else ""
    )
    return f"{INSTRUCTIONS}{fallback}\n<knowledge>\n" + "\n".join(lines) + "\n</knowledge>"


def add_to_prompt(messages: list[dict], hits: list[retrieval.Hit], settings: KnowledgeSettings) -> None:
    block = as_prompt(hits, settings)
    if messages and messages[0].get("role") == "system":
        messages[0] = {**messages[0], "content": f"{messages[0]['content']}\n\n{block}"}
    else:
        messages.insert(0, {"role": "system", "content": block})


def recall_verbose(hits: list[retrieval.Hit], question: str, searched: str | None = None) -> str:
    """The content of the `knowledge_recall` verbose message (Coze's shape: data is a JSON string;
    `rewritten_query`, ours, is what was searched when the question was rewritten)."""
    chunks = [
        {
            "slice": hit.slice.content,
            "score": round(hit.score, 6),
            "meta": {
                "dataset": {"id": str(hit.dataset.id), "name": hit.dataset.name},
                "document": {
                    "id": str(hit.document.id),
                    "name": hit.document.name,
                    "format_type": hit.dataset.format_type,
                    "source_type": hit.document.source_type,
                },
                "slice": {"id": str(hit.slice.id), "sequence": hit.slice.sequence},
                "link": {"title": hit.document.name, "url": hit.document.web_url},
                "card": {"index": str(n)},
            },
        }
        for n, hit in enumerate(hits, start=1)
    ]
    body = {"chunks": chunks, "ori_req": question, "status_code": 0}
    if searched and searched != question:
        body["rewritten_query"] = searched
    data = json.dumps(body, **_COMPACT)
    return json.dumps({"msg_type": "knowledge_recall", "data": data}, **_COMPACT)


def _tool_provider(config: dict) -> list[tools.Tool]:
    settings = settings_of(config)
    if settings is None or settings.auto:
        return []

    async def run(arguments: dict, context: tools.ToolContext) -> str:
        bot = await run_db(Bot.by_id, context.bot_id)
        hits = await recall_async(bot.space_id, settings, str(arguments.get("query") or ""))
        if not hits:
            return settings.no_recall_reply or "No knowledge matches this query."
        return "\n".join(f"[{n}] {' '.join(h.slice.content.split())}" for n, h in enumerate(hits, start=1))

    return [
        tools.Tool(
            name=TOOL_NAME,
            run=run,
            description="Search the agent's knowledge bases; returns numbered slices to cite as [n].",
            parameters={
                "type": "object",
                "required": ["query"],
                "properties": {"query": {"type": "string", "description": "What to look up."}},
            },
        )
    ]


tools.register_provider(_tool_provider)
