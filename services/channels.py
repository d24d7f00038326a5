"""Publishing channels: an agent bound to a messaging platform, and the messages it receives.

A channel's platform (services/channel_wechat, channel_feishu, channel_webhook) checks each request
as the platform signs it and turns it into an Inbound; nothing is recorded before that. Each
Inbound is recorded once, by the platform's own id (a retried delivery is known and not run
again). A text becomes a chat turn with the agent as last published, in the conversation of that
platform user. Its answer goes back in the response when the platform takes one and the answer
is ready in time, else through the platform's API, from the task queue."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import secrets as secret_tokens
import time

import jsonschema
from peewee import IntegrityError

from core import authz, crypto, errors
from core.settings import get_settings
from models import paging
from models.agent import Bot
from models.channel import ANSWERING, FAILED, IGNORED, REPLIED, Channel, ChannelMessage, ChannelUser
from models.conversation import COMPLETED, LIVE_STATUSES, SCENE_OPENAPI, ChatRun, Conversation
from models.db import run_db, write_transaction
from models.identity import User
from services import agents, conversations, refs, webfetch
from services.channel_http import ChannelSendError
from services.channel_types import TYPES, ChannelType
from services.tasks import queue

log = logging.getLogger("cozeplus.channels")

CALLBACK_PATH = "/api/channel/callback/{id}"
REPLAY_WINDOW_SECONDS = 300
REPLY_ATTEMPTS = 4
RECENT_ERRORS = 20


@dataclasses.dataclass
class Reply:
    """What the platform gets back in the response."""

    body: bytes
    content_type: str = "text/plain"


@dataclasses.dataclass
class Inbound:
    external_id: str  # the platform's id of the message or event: a retry has the same
    user: str
    kind: str  # "text", "event:<name>", or the platform's other message type
    text: str = ""
    reply_to: str = ""  # what the platform's reply API names (Feishu's message_id)


@dataclasses.dataclass
class Parsed:
    inbound: Inbound | None = None
    immediate: Reply | None = None  # answered at once with nothing recorded (URL checks)
    context: dict = dataclasses.field(default_factory=dict)  # what the platform's reply needs


def invalid(message: str) -> errors.ApiError:
    return errors.CHANNEL_INVALID_PARAM(message)


def forged(message: str) -> errors.ApiError:
    return errors.CHANNEL_SIGNATURE_INVALID(message)


def json_object(raw: bytes, where: str) -> dict:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise invalid(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise invalid(f"{where}: not a JSON object")
    return value


def check_timestamp(raw, field: str = "timestamp") -> int:
    """A request's signed time, refused when it is not near now (a replayed or forged request)."""
    try:
        stamp = int(str(raw or ""))
    except ValueError:
        raise forged(f"{field}: missing or not a number") from None
    if abs(time.time() - stamp) > REPLAY_WINDOW_SECONDS:
        raise forged(f"{field}: more than {REPLAY_WINDOW_SECONDS} seconds from now (replayed or late)")
    return stamp


# --- configuration ------------------------------------------------------------------------------


def _type(name: str) -> ChannelType:
    found = TYPES.get(name)
    if found is None:
        raise invalid(f"type: one of {', '.join(TYPES)}")
    return found


def _first_problem(kind: ChannelType, config: dict) -> str | None:
    validator = jsonschema.Draft7Validator(kind.schema)
    problems = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if not problems:
        return None
    problem = problems[0]
    if problem.validator == "required":
        missing = problem.message.split("'")[1]
        return f"config.{missing}: required for a {kind.type} channel"
    if problem.validator == "additionalProperties":
        return f"config: {problem.message} (see config_schema in /api/channel/types)"
    where = ".".join(str(p) for p in problem.absolute_path)
    if kind.schema["properties"].get(where, {}).get("x-secret"):  # its value is not repeated
        return f"config.{where}: does not satisfy its {problem.validator} rule ({problem.validator_value})"
    return f"config.{where}: {problem.message}"


def _checked(kind: ChannelType, config: dict) -> dict:
    problem = _first_problem(kind, config)
    if problem:
        raise invalid(problem)
    merged = {**kind.defaults(), **config}
    if kind.type == "wechat_mp" and merged["message_mode"] != "plain" and not merged.get("encoding_aes_key"):
        raise invalid(f"config.encoding_aes_key: required in {merged['message_mode']} mode")
    if kind.type == "webhook" and merged["reply_mode"] == "callback" and not merged.get("callback_url"):
        raise invalid("config.callback_url: required when reply_mode is callback")
    if merged.get("callback_url"):
        try:
            webfetch.check(merged["callback_url"], False)
        except webfetch.FetchError as exc:
            raise invalid(f"config.callback_url: {exc}") from None
    return config


def _split(kind: ChannelType, config: dict) -> tuple[dict, dict]:
    secret = set(kind.secret_fields)
    return (
        {k: v for k, v in config.items() if k not in secret},
        {k: v for k, v in config.items() if k in secret},
    )


def stored_secrets(channel: Channel) -> dict:
    if not channel.secrets_encrypted:
        return {}
    plain = crypto.decrypt(channel.secrets_encrypted)
    return json.loads(plain) if plain else {}


def settings_of(channel: Channel) -> dict:
    """Everything the platform's code reads: defaults, the configuration and the secrets."""
    secrets = stored_secrets(channel)
    if channel.secrets_encrypted and not secrets:
        raise errors.CHANNEL_DISABLED(
            f"channel {channel.id}: its secrets cannot be read (the server's secret key changed); "
            "set them again with /api/channel/update"
        )
    return {**TYPES[channel.type].defaults(), **(channel.config or {}), **secrets}


def _sealed(values: dict) -> tuple[str, dict]:
    if not values:
        return "", {}
    return crypto.encrypt(json.dumps(values)), {k: crypto.hint(v) for k, v in values.items()}


def callback_url(channel: Channel) -> str:
    return get_settings().public_url + CALLBACK_PATH.format(id=channel.id)


def _bound_agent(user: User, bot_id) -> Bot:
    bot = refs.one(user, refs.AGENT, bot_id, authz.PUBLISH, field="bot_id")
    if agents.published(bot) is None:
        raise errors.AGENT_NOT_PUBLISHED(
            f"bot_id: agent {bot.id} has not been published; publish it before binding a channel"
        )
    return bot


def create(user: User, bot_id, type_: str, config: dict, *, name: str = "", enabled=None):
    """(the channel, the secrets made for it: shown this once)."""
    kind = _type(type_)
    bot = _bound_agent(user, bot_id)
    authz.require_space(user, bot.space_id, "channel:create")
    made = {f: secret_tokens.token_urlsafe(32) for f in kind.generated_secrets if not config.get(f)}
    config = _checked(kind, {**{k: v for k, v in config.items() if v is not None}, **made})
    plain, secret = _split(kind, config)
    sealed, hints = _sealed(secret)
    row = Channel.create(
        space=bot.space_id,
        bot=bot.id,
        creator=user.id,
        type=kind.type,
        name=name or kind.name,
        config=plain,
        secrets_encrypted=sealed,
        secret_hints=hints,
        enabled=enabled is not False,
    )
    return row, made


def load(user: User, channel_id, action: str = authz.READ) -> Channel:
    return refs.one(user, refs.CHANNEL, channel_id, action, field="id")


def update(user: User, channel_id, *, bot_id=None, name=None, config=None, enabled=None) -> Channel:
    row = load(user, channel_id, authz.UPDATE)
    kind = TYPES[row.type]
    changes: dict = {}
    if bot_id is not None:
        bot = _bound_agent(user, bot_id)
        if bot.space_id != row.space_id:
            raise refs.AGENT.refused(bot_id, "bot_id")
        changes["bot"] = bot.id
    if name is not None:
        changes["name"] = name or kind.name
    if config is not None:
        current = {**(row.config or {}), **stored_secrets(row)}
        hints = row.secret_hints or {}
        for key, value in config.items():
            if key in hints and value == hints[key]:
                continue  # the hint it was shown as: unchanged
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        plain, secret = _split(kind, _checked(kind, current))
        sealed, new_hints = _sealed(secret)
        changes.update(config=plain, secrets_encrypted=sealed, secret_hints=new_hints)
        changes.update(access_token_encrypted="", access_token_expires_at=0)  # credentials may differ
    if enabled is not None:
        changes["enabled"] = bool(enabled)
    return row.touch(**changes) if changes else row


def delete(user: User, channel_id) -> None:
    row = load(user, channel_id, authz.DELETE)
    with write_transaction():
        row.delete_instance()


def space_channels(user: User, space_id, bot_id=None, type_: str = "", page: int = 1, size: int = 20):
    space = refs.one(user, refs.SPACE, space_id, "channel:read", field="space_id")
    query = Channel.select().where(Channel.space == space.id)
    if bot_id is not None:
        bot = refs.one(user, refs.AGENT, bot_id, field="bot_id")
        query = query.where(Channel.bot == bot.id)
    if type_:
        query = query.where(Channel.type == type_)
    listed = paging.page(query.order_by(Channel.id.desc()), page, size, total=True)
    return listed.rows, listed.total


def state_of(channel: Channel) -> str:
    if not channel.enabled:
        return "disabled"
    return "failing" if channel.last_error_at and channel.last_error_at >= channel.last_event_at else "active"


def status(user: User, channel_id) -> dict:
    row = load(user, channel_id)
    since = int(time.time()) - 86400
    counts = {"received": 0, REPLIED: 0, FAILED: 0, IGNORED: 0}
    recent = ChannelMessage.select().where(
        ChannelMessage.channel == row.id, ChannelMessage.created_at >= since
    )
    for message in recent.select(ChannelMessage.status):
        counts["received"] += 1
        if message.status in counts:
            counts[message.status] += 1
    failed = (
        ChannelMessage.select()
        .where(ChannelMessage.channel == row.id, ChannelMessage.status == FAILED)
        .order_by(ChannelMessage.id.desc())
        .limit(RECENT_ERRORS)
    )
    return {"channel": row, "last_day": counts, "recent_errors": list(failed)}


def messages(user: User, channel_id, status_: str = "", page: int = 1, size: int = 20):
    row = load(user, channel_id)
    query = ChannelMessage.select().where(ChannelMessage.channel == row.id)
    if status_:
        query = query.where(ChannelMessage.status == status_)
    listed = paging.page(query.order_by(ChannelMessage.id.desc()), page, size, total=True)
    return listed.rows, listed.total


def _note_error(channel: Channel, error: str) -> None:
    Channel.update(
        last_error=error[:1000], last_error_at=int(time.time()), updated_at=int(time.time())
    ).where(Channel.id == channel.id).execute()


def test(user: User, channel_id) -> dict:
    row = load(user, channel_id, authz.EXECUTE)
    started = time.monotonic()
    try:
        detail = platform_of(row).test(row, settings_of(row))
        ok = True
    except (ChannelSendError, errors.ApiError) as exc:
        detail, ok = str(exc), False
        _note_error(row, f"connection test: {exc}")
    return {"ok": ok, "latency_ms": int((time.monotonic() - started) * 1000), "detail": detail}


def platform_of(channel: Channel):
    from services import channel_feishu, channel_webhook, channel_wechat

    return {
        "wechat_mp": channel_wechat.OFFICIAL_ACCOUNT,
        "wecom": channel_wechat.WECOM,
        "feishu": channel_feishu.FEISHU,
        "webhook": channel_webhook.WEBHOOK,
    }[channel.type]


# --- receiving ----------------------------------------------------------------------------------


def _inbound_channel(channel_id) -> Channel:
    row = Channel.requested(channel_id)
    if row is None:
        raise errors.CHANNEL_NOT_FOUND(f"channel {channel_id} not found")
    return row


async def verify_url(channel_id, query: dict) -> Reply:
    channel = await run_db(lambda: _inbound_channel(channel_id))
    return platform_of(channel).verify_url(channel, settings_of(channel), query)


async def receive(channel_id, query: dict, headers, raw: bytes) -> Reply:
    channel = await run_db(lambda: _inbound_channel(channel_id))
    platform = platform_of(channel)
    conf = settings_of(channel)
    parsed = platform.parse(channel, conf, query, headers, raw)
    if parsed.immediate is not None:
        return parsed.immediate
    if not channel.enabled:
        raise errors.CHANNEL_DISABLED(f"channel {channel.id} is disabled; enable it to answer")
    inbound = parsed.inbound
    message = await run_db(lambda: _record(channel, inbound))
    if message is None:
        earlier = await run_db(
            lambda: ChannelMessage.get_or_none(channel=channel.id, external_id=inbound.external_id)
        )
        return platform.duplicate(parsed, conf, earlier)
    if inbound.kind != "text":
        text, status_ = await run_db(lambda: platform.on_other(channel, conf, inbound))
        return await _say(channel, platform, conf, parsed, message, text, status_)
    try:
        turn = await run_db(lambda: _prepare(channel, message, inbound))
    except errors.ApiError as exc:
        reason = exc.msg or exc.error.message
        await run_db(lambda: _note_error(channel, reason))
        return await _say(channel, platform, conf, parsed, message, conf["error_reply"], FAILED, reason)
    from services import chat_runs

    live = chat_runs.LiveRun(turn)
    wait = platform.wait_seconds(conf)
    if wait > 0:
        try:
            await asyncio.wait_for(asyncio.shield(live.task), wait)
        except TimeoutError:
            pass
    if live.task.done():
        text, error = await run_db(lambda: outcome(turn.run.id, conf))
        return await _say(channel, platform, conf, parsed, message, text, FAILED if error else REPLIED, error)
    await run_db(lambda: message.touch(reply_via=platform.later_via))
    live.task.add_done_callback(lambda _task: _queue_reply(message.id))
    return platform.ack(parsed, conf, message)


def _queue_reply(message_id: int) -> None:
    try:
        send_reply_task(message_id)
    except Exception:
        log.exception("a channel reply was not queued", extra={"channel_message_id": message_id})


async def _say(channel, platform, conf, parsed, message, text: str, status_: str, error: str = "") -> Reply:
    """`text` to the message's sender: in the response when the platform takes it there, else
    through its API (queued); no text, nothing sent."""
    if not text:
        await run_db(
            lambda: message.touch(status=status_ if status_ != REPLIED else IGNORED, last_error=error)
        )
        return platform.ack(parsed, conf, message)
    rendered = platform.passive(parsed, conf, message, text, status_)
    if rendered is not None:
        await run_db(
            lambda: message.touch(status=status_, reply=text, reply_via=platform.now_via, last_error=error)
        )
        return rendered
    await run_db(lambda: message.touch(reply=text, reply_via=platform.later_via, last_error=error))
    _queue_reply(message.id)
    return platform.ack(parsed, conf, message)


def _record(channel: Channel, inbound: Inbound) -> ChannelMessage | None:
    """The message, recorded; None when it was recorded before (a retried delivery)."""
    now = int(time.time())
    try:
        with write_transaction():
            message = ChannelMessage.create(
                channel=channel.id,
                external_id=inbound.external_id[:191],
                external_user=inbound.user[:128],
                kind=inbound.kind[:64],
                content=inbound.text[:4000],
                reply_to=inbound.reply_to[:191],
            )
    except IntegrityError:
        return None
    Channel.update(last_event_at=now).where(Channel.id == channel.id).execute()
    return message


def _conversation_of(channel: Channel, user: User, bot: Bot, external_user: str) -> tuple[Conversation, bool]:
    link = ChannelUser.get_or_none(channel=channel.id, external_id=external_user)
    found = Conversation.by_id(link.conversation_id) if link else None
    if found is not None and found.bot_id == bot.id:
        return found, False
    meta = {"channel_id": str(channel.id), "channel_type": channel.type, "channel_user": external_user}
    return conversations.new(
        user, bot, scene=SCENE_OPENAPI, meta_data=meta, name=f"{channel.name}: {external_user}"[:100]
    ), True


def _link(channel: Channel, external_user: str, conversation: Conversation) -> None:
    updated = (
        ChannelUser.update(conversation_id=conversation.id, subscribed=True, updated_at=int(time.time()))
        .where(ChannelUser.channel == channel.id, ChannelUser.external_id == external_user)
        .execute()
    )
    if not updated:
        try:
            with write_transaction():
                ChannelUser.create(
                    channel=channel.id, external_id=external_user, conversation_id=conversation.id
                )
        except IntegrityError:
            pass  # their other message linked one at the same moment


def _prepare(channel: Channel, message: ChannelMessage, inbound: Inbound):
    from services import chat

    bot = Bot.by_id(channel.bot_id)
    user = User.by_id(channel.creator_id)
    version = agents.published(bot) if bot is not None else None
    if version is None or user is None:
        raise errors.AGENT_NOT_PUBLISHED(
            f"agent {channel.bot_id} is not published; the channel cannot answer"
        )
    conversation, new = _conversation_of(channel, user, bot, inbound.user)
    turn = chat.prepare(
        user,
        bot,
        version.snapshot,
        conversation,
        query=inbound.text,
        content_type="text",
        connector_id=conversation.connector_id,
        bot_version=version.id,
        end_user=inbound.user,
        meta_data={"channel_id": str(channel.id), "channel_message_id": str(message.id)},
        new_conversation=new,
    )
    if new:
        _link(channel, inbound.user, conversation)
    message.touch(conversation_id=conversation.id, chat_id=turn.run.id)
    return turn


def outcome(chat_id: int, conf: dict) -> tuple[str, str]:
    """(what to send, the error when the agent did not answer) of a finished chat turn."""
    run = ChatRun.by_id(chat_id)
    if run is None:
        return conf["error_reply"], "the chat was deleted"
    answer = "".join(m.content for m in conversations.run_messages(run) if m.type == "answer").strip()
    if run.status == COMPLETED and answer:
        return answer, ""
    reason = (run.last_error or {}).get("msg") or f"the chat ended {run.status} without an answer"
    return conf["error_reply"], reason


# --- replying through the platform's API --------------------------------------------------------


@queue.task(retries=0)
def send_reply_task(message_id: int) -> None:
    deliver_reply(message_id)


def deliver_reply(message_id: int) -> None:
    message = ChannelMessage.get_or_none(ChannelMessage.id == message_id)
    if message is None or message.status != ANSWERING:
        return
    channel = Channel.get_or_none(Channel.id == message.channel_id)
    if channel is None:
        return
    conf = settings_of(channel)
    text, status_, error = message.reply, REPLIED if not message.last_error else FAILED, message.last_error
    if not text:
        run = ChatRun.by_id(message.chat_id)
        if run is not None and run.status in LIVE_STATUSES:
            return  # a restart left it running: recovery ends it, and queues this again
        text, error = outcome(message.chat_id, conf)
        status_ = FAILED if error else REPLIED
    attempts = message.attempts + 1
    claimed = ChannelMessage.update(attempts=attempts, updated_at=int(time.time())).where(
        ChannelMessage.id == message.id,
        ChannelMessage.status == ANSWERING,
        ChannelMessage.attempts == message.attempts,
    )
    if not claimed.execute():
        return  # another worker has it (a recovered message queued twice)
    try:
        platform_of(channel).send(channel, conf, message, text)
    except ChannelSendError as exc:
        if attempts >= REPLY_ATTEMPTS:
            message.touch(status=FAILED, reply=text, last_error=f"reply not delivered: {exc}")
            _note_error(channel, f"reply to {message.external_user} not delivered: {exc}")
            return
        # its last_error stays the agent's own failure, if any
        log.warning(
            "channel reply failed, retrying", extra={"channel_message_id": message_id, "error": str(exc)}
        )
        send_reply_task.schedule(args=(message_id,), delay=float(2**attempts))
        return
    message.touch(status=status_, reply=text, last_error=error)
    if error:
        _note_error(channel, error)
