"""Agents: creation with defaults, the draft configuration, duplication, publishing snapshots."""

from __future__ import annotations

import copy
import dataclasses

from peewee import Value

from core import authz, errors
from core.ids import parse_id
from models import paging
from models.agent import CONNECTOR_API, CONNECTORS, Bot, BotPublication, BotVersion
from models.base import CompiledQuery
from models.db import db
from models.identity import SpaceMember, User
from models.library import ShortcutCommand
from models.llm import LlmModel
from models.plugin import PluginTool, PluginVersion
from models.workflow import WorkflowVersion
from services import model_registry, refs, variables
from views.shortcut import shortcut_view

# The parts of Coze's BotInfo kept in Bot.config; name, description, icon and mode are columns.
CONFIG_KEYS = (
    "prompt_info",
    "model_info",
    "plugin_info_list",
    "workflow_info_list",
    "knowledge",
    "variable_list",
    "database_list",
    "onboarding_info",
    "suggest_reply_info",
    "shortcut_sort",
    "background_image_info_list",
    "voices_info",
    "task_info",
    "bot_tag_info",
    "filebox_info",
    "hook_info",
    "user_query_collect_conf",
    "layout_info",
    "multi_agent_info",
    "default_user_input_type",
)


def default_config(model: LlmModel) -> dict:
    params = model.default_params or {}
    return {
        "prompt_info": {"prompt": ""},
        "model_info": {
            "model_id": str(model.id),
            "temperature": params.get("temperature", 0.7),
            "max_tokens": params.get("max_tokens", 1024),
            "top_p": params.get("top_p", 1.0),
            "short_memory_policy": {"context_mode": 2, "history_round": 3},
            "response_format": 0,
        },
        "plugin_info_list": [],
        "workflow_info_list": [],
        "knowledge": {
            "knowledge_info": [],
            "top_k": 3,
            "min_score": 0.01,
            "auto": True,
            "search_strategy": 0,
            "show_source": False,
            "recall_strategy": {"use_rerank": True, "use_rewrite": True, "use_nl2sql": True},
        },
        "variable_list": [],
        "database_list": [],
        "onboarding_info": {"prologue": "", "suggested_questions": [], "suggested_questions_show_mode": 0},
        "suggest_reply_info": {"suggest_reply_mode": 0},
        "shortcut_sort": [],
        "background_image_info_list": [],
    }


def create(
    user: User,
    name: str,
    *,
    space_id=None,
    description: str = "",
    icon_uri: str = "",
    bot_mode: int = 0,
    visibility: int = 0,
    model_id=None,
) -> tuple[Bot, str]:
    """The new agent (in the caller's personal space unless one is named) and a warning ("" when
    none) about the model it asked for."""
    space = (
        refs.one(user, refs.SPACE, space_id, "agent:create", field="space_id").id
        if space_id is not None
        else user.personal_space().id
    )
    model, warning = _model_or_default(model_id)
    icon_uri = refs.file_uri(user, icon_uri, field="icon_uri", invalid=errors.AGENT_INVALID_PARAM)
    bot = Bot.create(
        space=space,
        creator=user.id,
        name=name.strip(),
        description=description or "",
        icon_uri=icon_uri,
        bot_mode=bot_mode,
        visibility=visibility,
        config=default_config(model),
    )
    return bot, warning


def _model_or_default(model_id) -> tuple[LlmModel, str]:
    """Create keeps working when the model it names is unusable (the seed's quick start names
    "your-model-id"): it falls back to the default model and says so."""
    default = LlmModel.default_model()
    if default is None:
        raise errors.AGENT_NO_MODEL("no enabled model in the registry; an administrator must enable one")
    if model_id is None or model_id == "":
        return default, ""
    try:
        return model_registry.usable(model_id), ""
    except errors.ApiError as exc:
        return default, (
            f"{exc.msg}; the agent uses the default model '{default.name}' "
            f"(id {default.id}) until you choose one from /api/bot/get_type_list"
        )


def load(user: User, bot_id, action: str = authz.READ, space_id=None) -> Bot:
    """The agent, if the caller may act on it (and it is in `space_id`, when the request names one)."""
    return refs.one_in_space(user, refs.AGENT, bot_id, space_id, action)


def bot_info(bot: Bot) -> dict:
    """The agent's settings as one document (Coze's BotInfo): what a chat runs with and what a
    publish freezes. Views add the icon's link (links expire)."""
    return {
        "bot_id": str(bot.id),
        "name": bot.name,
        "description": bot.description,
        "icon_uri": bot.icon_uri,
        "bot_mode": bot.bot_mode,
        "creator_id": str(bot.creator_id),
        "space_id": str(bot.space_id),
        "create_time": bot.created_at,
        "update_time": bot.updated_at,
        "version": str(bot.draft_version),
        "status": 1,
        **copy.deepcopy(bot.config),
        "shortcut_commands": [
            shortcut_view(c) for c in shortcuts_of(bot)
        ],  # snapshotted with the rest when published
    }


def _image_uris(images: list) -> list[str]:
    """The uris in background_image_info_list ({web,mobile}_background_image: {..._uri: ...})."""
    return [
        value
        for item in images or []
        if isinstance(item, dict)
        for side in item.values()
        if isinstance(side, dict)
        for key, value in side.items()
        if key.endswith("uri") and isinstance(value, str)
    ]


def _check_references(user: User, bot: Bot, info: dict) -> None:
    """Every id the new configuration names must be the caller's to use, and the agent's space's
    (knowledge bases, shortcuts), before anything is stored."""
    knowledge = info.get("knowledge") or {}
    for kind, items, id_key, field in (
        (refs.DATASET, knowledge.get("knowledge_info"), "id", "knowledge.knowledge_info"),
        (refs.DATABASE, info.get("database_list"), "table_id", "database_list"),
    ):
        ids = [item.get(id_key) for item in items or [] if isinstance(item, dict)]
        for row in refs.many(user, kind, ids, field=f"{field}[{{}}].{id_key}"):
            if row.space_id != bot.space_id:
                raise kind.not_found(f"{field}: {kind.label} {row.id} is not in the space of agent {bot.id}")
    for key, kind, id_key in (
        ("plugin_info_list", refs.PLUGIN, "plugin_id"),
        ("workflow_info_list", refs.WORKFLOW, "workflow_id"),
    ):
        for index, item in enumerate(info.get(key) or []):
            row = refs.one(user, kind, item.get(id_key), field=f"{key}[{index}].{id_key}")
            if kind is refs.PLUGIN and item.get("api_id") not in (None, "", "0", 0):
                refs.under(
                    refs.PLUGIN_TOOL,
                    item["api_id"],
                    PluginTool.plugin == row.id,
                    field=f"{key}[{index}].api_id",
                )
    if info.get("shortcut_sort") is not None:
        own = {str(c.id) for c in ShortcutCommand.of_bot(bot.id)}
        for index, command_id in enumerate(info["shortcut_sort"]):
            if str(command_id) not in own:
                raise errors.SHORTCUT_NOT_FOUND(
                    f"shortcut_sort[{index}]: shortcut command {command_id} of agent {bot.id} not found"
                )
    current = _image_uris(bot.config.get("background_image_info_list"))
    for uri in _image_uris(info.get("background_image_info_list")):
        refs.file_uri(
            user, uri, field="background_image_info_list", current=current, invalid=errors.AGENT_INVALID_PARAM
        )


def update_draft(user: User, info: dict) -> tuple[Bot, bool]:
    """Patch the draft: every non-null top-level field given replaces the stored one."""
    bot = load(user, info["bot_id"], authz.UPDATE)
    _check_references(user, bot, info)
    if info.get("variable_list") is not None:
        variables.check_definitions(info["variable_list"])
    config = copy.deepcopy(bot.config)
    columns = {}
    for key in ("name", "description", "bot_mode"):
        if info.get(key) is not None:
            columns[key] = info[key].strip() if key == "name" else info[key]
    if info.get("icon_uri") is not None:
        columns["icon_uri"] = refs.file_uri(
            user, info["icon_uri"], field="icon_uri", current=bot.icon_uri, invalid=errors.AGENT_INVALID_PARAM
        )
    for key in CONFIG_KEYS:
        if info.get(key) is not None:
            config[key] = info[key]
    model_info = info.get("model_info")
    if model_info is not None:
        if model_info.get("model_id") in (None, ""):
            config["model_info"] = {**model_info, "model_id": bot.config["model_info"]["model_id"]}
        else:
            model_registry.usable(model_info["model_id"])
            config["model_info"] = {**model_info, "model_id": str(model_info["model_id"])}
    changed = config != bot.config or any(getattr(bot, k) != v for k, v in columns.items())
    if changed:
        bot.touch(config=config, draft_version=bot.draft_version + 1, **columns)
    return bot, changed


def update_display(user: User, bot_id, space_id, display_info: dict) -> Bot:
    bot = load(user, bot_id, authz.UPDATE, space_id)
    bot.touch(display_info={**bot.display_info, **display_info})
    return bot


def delete(user: User, bot_id, space_id=None) -> None:
    load(user, bot_id, authz.DELETE, space_id).delete_instance()


def duplicate(user: User, bot_id, space_id=None) -> Bot:
    source = load(user, bot_id, authz.READ, space_id)
    authz.require_space(user, source.space_id, "agent:create")
    config = copy.deepcopy(source.config)
    with db.atomic():
        copy_bot = Bot.create(
            space=source.space_id,
            creator=user.id,
            name=f"{source.name} (copy)"[:100],
            description=source.description,
            icon_uri=source.icon_uri,
            bot_mode=source.bot_mode,
            visibility=source.visibility,
            config=config,
            display_info=copy.deepcopy(source.display_info),
        )
        new_ids = {}  # the copy gets its own shortcut commands, in the same order
        for command in ShortcutCommand.of_bot(source.id):
            new_ids[str(command.id)] = str(
                ShortcutCommand.create(
                    bot=copy_bot.id,
                    command_name=command.command_name,
                    shortcut_command=command.shortcut_command,
                    config=command.config,
                ).id
            )
        config["shortcut_sort"] = [new_ids[c] for c in config.get("shortcut_sort", []) if c in new_ids]
        copy_bot.touch(config=config)
    return copy_bot


PLUGIN_VERSIONS_KEY = "plugin_versions"  # in a published snapshot: the plugin versions it calls


def _plugin_versions(config: dict) -> dict[str, str]:
    """The latest published version of each bound plugin (plugins never published are called
    as they are)."""
    ids = {parse_id(e.get("plugin_id")) for e in config.get("plugin_info_list") or [] if isinstance(e, dict)}
    ids.discard(None)
    if not ids:
        return {}
    latest = {}
    query = PluginVersion.select(PluginVersion.id, PluginVersion.plugin).where(PluginVersion.plugin.in_(ids))
    for version in query.order_by(PluginVersion.id):
        latest[str(version.plugin_id)] = str(version.id)
    return latest


WORKFLOW_VERSIONS_KEY = "workflow_versions"  # in a published snapshot: the workflow versions it runs


def _workflow_versions(config: dict) -> dict[str, str]:
    """The latest published version of each bound workflow (one never published is not offered)."""
    ids = {
        parse_id(e.get("workflow_id")) for e in config.get("workflow_info_list") or [] if isinstance(e, dict)
    }
    ids.discard(None)
    latest = {}
    if ids:
        query = WorkflowVersion.select(WorkflowVersion.id, WorkflowVersion.workflow)
        for version in query.where(WorkflowVersion.workflow.in_(ids)).order_by(WorkflowVersion.id):
            latest[str(version.workflow_id)] = str(version.id)
    return latest


def publish(user: User, bot_id, connector_ids: list[str], info: str = "", space_id=None) -> BotVersion:
    bot = load(user, bot_id, authz.PUBLISH, space_id)
    unknown = [c for c in connector_ids if parse_id(c) not in CONNECTORS]
    if unknown or not connector_ids:
        raise errors.AGENT_BAD_CONNECTOR(
            f"connectors must be among {sorted(CONNECTORS)}; got {', '.join(unknown) or 'none'}"
        )
    model_registry.usable(bot.config["model_info"]["model_id"])
    snapshot = bot_info(bot)
    snapshot[PLUGIN_VERSIONS_KEY] = _plugin_versions(bot.config)
    snapshot[WORKFLOW_VERSIONS_KEY] = _workflow_versions(bot.config)
    with db.atomic():
        version = BotVersion.create(
            bot=bot.id,
            creator=user.id,
            snapshot=snapshot,
            connector_ids=sorted({int(c) for c in connector_ids}),
            draft_version=bot.draft_version,
            info=info,
        )
        for connector_id in version.connector_ids:
            (
                BotPublication.insert(bot=bot.id, connector_id=connector_id, version=version.id)
                .on_conflict(
                    conflict_target=[BotPublication.bot, BotPublication.connector_id],
                    update={
                        BotPublication.version: version.id,
                        BotPublication.updated_at: version.created_at,
                    },
                )
                .execute()
            )
        bot.touch(published_draft_version=bot.draft_version)
    from services import webhooks  # it reaches agents through refs

    data = {
        "bot_id": str(bot.id),
        "version": str(version.id),
        "connector_ids": [str(c) for c in version.connector_ids],
    }
    webhooks.emit_safely(bot.space_id, "agent.published", data)
    return version


def _published_query(bot, connector_id=None):
    query = (
        BotVersion.select()
        .join(BotPublication, on=(BotPublication.version == BotVersion.id))
        .where(BotPublication.bot == bot)
    )
    if connector_id is not None:
        query = query.where(BotPublication.connector_id == connector_id)
    return query.order_by(BotVersion.id.desc()).limit(1)


_PUBLISHED_TO = CompiledQuery((BotVersion,), _published_query, bot=-7301234, connector_id=-7301235)


def published(bot: Bot, connector_id: int | None = None) -> BotVersion | None:
    """The version a connector runs (any connector's latest when none is named)."""
    if connector_id is None:
        return _published_query(bot.id).first()
    found = _PUBLISHED_TO.first(bot=bot.id, connector_id=connector_id)  # every /v3/chat asks this
    return found[0] if found else None


def version_of(bot: Bot, version) -> BotVersion:
    number = parse_id(version)
    found = BotVersion.get_or_none((BotVersion.id == number) & (BotVersion.bot == bot.id)) if number else None
    if found is None:
        raise errors.AGENT_VERSION_NOT_FOUND(f"version {version} of agent {bot.id} not found")
    return found


def history(bot: Bot, page: int, size: int, connector_id=None) -> paging.Page:
    query = BotVersion.select().where(BotVersion.bot == bot.id)
    if connector_id not in (None, ""):
        # connector_ids is a JSON list of CONNECTORS' ids, none of which contains another as text
        pattern = Value(f"%{parse_id(connector_id)}%", converter=False)  # text, not a JSON value
        query = query.where(BotVersion.connector_ids**pattern)  # ILIKE: digits have no case
    return paging.page(query.order_by(BotVersion.id.desc()), page, size, total=True)


def publications(bot: Bot) -> dict[int, BotPublication]:
    return {p.connector_id: p for p in BotPublication.select().where(BotPublication.bot == bot.id)}


def create_configured(user: User, space_id, name: str, description: str, changes: dict) -> Bot:
    """An agent created with settings at once (the Open API's create): all of it or nothing."""
    with db.atomic():  # a refused reference in the settings leaves no half-made agent behind
        bot, _ = create(user, name, space_id=space_id, description=description or "")
        if changes:
            update_draft(user, {"bot_id": bot.id, **changes})
    return Bot.get_by_id(bot.id)


def page_of_space(user: User, space_id, page: int, size: int, publish_status: str | None):
    """Agents of a space for /v1/bots: ([(bot, last publish time or None)], total)."""
    number = refs.one(user, refs.SPACE, space_id, "agent:read", field="space_id").id
    published_at = BotPublication.last_published_at(Bot.select(Bot.id).where(Bot.space == number))
    query = Bot.in_space(number)
    status = publish_status or "all"
    if status in ("published_online", "published_draft"):
        query = query.where(Bot.id.in_(list(published_at) or [0]))
    elif status == "unpublished_draft":
        query = query.where(Bot.id.not_in(list(published_at) or [0]))
    listed = paging.page(query.order_by(Bot.updated_at.desc(), Bot.id.desc()), page, size, total=True)
    return [(bot, published_at.get(bot.id)) for bot in listed.rows], listed.total


def shortcuts_of(bot) -> list[ShortcutCommand]:
    """The agent's shortcuts in its shortcut_sort order (unsorted ones last)."""
    order = {c: i for i, c in enumerate(bot.config.get("shortcut_sort", []))}
    return sorted(ShortcutCommand.of_bot(bot.id), key=lambda c: order.get(str(c.id), len(order)))


@dataclasses.dataclass(frozen=True)
class Surroundings:
    """What an agent's page shows around its settings, loaded for its view."""

    model: LlmModel | None  # the model its settings name, if it exists
    latest: BotVersion | None  # the last version published to any connector
    publications: dict[int, BotPublication]
    connectors: dict = dataclasses.field(default_factory=lambda: CONNECTORS)


def model_named_in(info: dict) -> LlmModel | None:
    number = parse_id((info.get("model_info") or {}).get("model_id"))
    return LlmModel.get_or_none(LlmModel.id == number) if number is not None else None


def surroundings(bot: Bot, info: dict | None = None) -> Surroundings:
    return Surroundings(
        model=model_named_in(info) if info is not None else None,
        latest=published(bot),
        publications=publications(bot),
    )


def chattable(user: User, connector_id: int = CONNECTOR_API) -> list[Bot]:
    """Agents published to the connector in the spaces where the user may chat with agents,
    newest first (the OpenAI facade's model list)."""
    spaces = [m.space_id for m in SpaceMember.select(SpaceMember.space).where(SpaceMember.user == user.id)]
    allowed = [space for space in spaces if authz.may(user, space, "agent:execute")]
    if not allowed:
        return []
    published = BotPublication.select(BotPublication.bot).where(BotPublication.connector_id == connector_id)
    return list(Bot.select().where(Bot.space.in_(allowed), Bot.id.in_(published)).order_by(Bot.id.desc()))
