"""WebSocket chat (/v3/chat/ws): /v3/chat's events over one socket, where the client starts chats,
cancels them and answers their tool calls. The protocol is in openapi.yaml's description.

Authenticated like the rest (a bearer session or access token in the handshake, or the session
cookie); every chat a client starts counts against its `run` rate limit; the chats a socket
started stop when it closes, as a stream's do when its client leaves."""

from __future__ import annotations

import asyncio
import json

from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from core import errors, jsonsafe, metrics, ratelimit, validation
from core.envelope import error_body
from core.security import PAT_PREFIX, bearer_jwt_info, bearer_pat_info, cookie_session_info
from handlers.chat import open_event
from handlers.conversation import message_input
from models.db import run_db
from services import chat as runtime
from services import chat_runs as runs
from views.chat import chat_view

PATH = "/v3/chat/ws"
# each client message, and the HTTP operation whose body its data is
COMMANDS = {
    "chat.create": "chat",
    "chat.cancel": "cancel_chat",
    "chat.submit_tool_outputs": "submit_tool_outputs",
}


class ChatSocketMiddleware:
    """Takes the socket's handshake; everything else goes on to the API."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and scope["path"].rstrip("/") == PATH:
            return await ChatSocket(WebSocket(scope, receive, send)).serve()
        return await self.app(scope, receive, send)


async def _credentials(socket: WebSocket) -> dict:
    header = socket.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if token:
        check = bearer_pat_info if token.startswith(PAT_PREFIX) else bearer_jwt_info
        return await check(token)
    cookie = socket.cookies.get("session_key")
    if cookie:
        return await cookie_session_info(cookie)
    raise errors.UNAUTHENTICATED("the WebSocket handshake needs a bearer token or the session cookie")


class ChatSocket:
    def __init__(self, socket: WebSocket):
        self.socket = socket
        self.outbox: asyncio.Queue = asyncio.Queue()
        self.live: dict[int, runs.LiveRun] = {}
        self.info: dict = {}

    async def serve(self) -> None:
        try:
            self.info = await _credentials(self.socket)
        except errors.ApiError as exc:  # refused at the handshake, in the envelope where the server can
            if "websocket.http.response" in self.socket.scope.get("extensions", {}):
                denial = Response(
                    error_body(exc.code, exc.msg), exc.status_code, media_type="application/json"
                )
                return await self.socket.send_denial_response(denial)
            return await self.socket.close(code=1008, reason=exc.msg[:120])
        await self.socket.accept()
        metrics.OPEN_STREAMS.inc()
        sender = asyncio.get_running_loop().create_task(self._send_all())
        try:
            await self._receive_all()
        finally:
            metrics.OPEN_STREAMS.dec()
            for live in list(self.live.values()):  # the client left: so do its chats
                live.cancel()
            sender.cancel()

    # --- the two halves ------------------------------------------------------------------------

    async def _receive_all(self) -> None:
        while True:
            try:
                text = await self.socket.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                return
            ref = None
            try:
                message = self._parsed(text)
                ref = message.get("id")
                await self._dispatch(message.get("type"), message.get("data"), ref)
            except errors.ApiError as exc:
                self._put(ref, "error", {"code": exc.code, "msg": exc.msg})

    async def _send_all(self) -> None:
        while True:
            frame = await self.outbox.get()
            try:
                await self.socket.send_text(frame)
            except (WebSocketDisconnect, RuntimeError):
                return

    def _put(self, ref, event: str, data) -> None:
        frame = {"event": event, "data": data}
        if ref is not None:
            frame["id"] = ref
        self.outbox.put_nowait(json.dumps(frame, ensure_ascii=False, separators=(",", ":")))

    # --- the client's messages -----------------------------------------------------------------

    @staticmethod
    def _parsed(text: str) -> dict:
        try:
            message = json.loads(text)
        except ValueError:
            raise errors.BAD_REQUEST("a message must be a JSON object: {type, id, data}") from None
        problem = jsonsafe.problem(message)
        if problem:
            raise errors.BAD_REQUEST(problem)
        if not isinstance(message, dict):
            raise errors.BAD_REQUEST("a message must be a JSON object: {type, id, data}")
        if not isinstance(message.get("id"), str | int | None) or isinstance(message.get("id"), bool):
            raise errors.CONVERSATION_INVALID_PARAM("id: a string or a number that the answers repeat")
        return message

    async def _dispatch(self, kind, data, ref) -> None:
        if kind not in COMMANDS:
            raise errors.CONVERSATION_INVALID_PARAM(f"type: {kind!r} is not one of {', '.join(COMMANDS)}")
        if not isinstance(data, dict):
            raise errors.CONVERSATION_INVALID_PARAM(f"data: {kind} takes an object")
        # each message's data is checked as the HTTP operation it stands for checks its body
        problem = validation.body_problem(COMMANDS[kind], data, "data")
        if problem:
            raise errors.CONVERSATION_INVALID_PARAM(problem)
        user = self.info["user"]
        if kind == "chat.cancel":
            conversation_id, chat_id = data["conversation_id"], data["chat_id"]
            run = await run_db(runtime.load_run, user, conversation_id, chat_id)
            self._put(ref, "chat.cancelled", chat_view(await runs.cancel(run)))
            return
        await self._admit()
        if kind == "chat.create":
            bot_id, end_user, items = data["bot_id"], data["user_id"], data["additional_messages"]
            config = (data.get("custom_config") or {}).get("model_config") or {}
            turn = await run_db(
                lambda: runtime.prepare_open(
                    user,
                    bot_id,
                    end_user=str(end_user),
                    messages=[message_input(item) for item in items],
                    conversation_id=data.get("conversation_id"),
                    connector_id=data.get("connector_id"),
                    stream=True,
                    save_history=data.get("auto_save_history") is not False,
                    variables=data.get("custom_variables"),
                    meta_data=data.get("meta_data"),
                    model_override=config.get("model_id"),
                )
            )
        else:
            conversation_id, chat_id = _required(
                data, "conversation_id", "chat_id"
            )  # query parameters on HTTP
            outputs = data["tool_outputs"]
            turn = await run_db(
                lambda: runtime.resume(user, runtime.load_run(user, conversation_id, chat_id), outputs)
            )
        self._follow(turn, ref)

    async def _admit(self) -> None:
        """A chat started here counts against the credential's `run` limit, as /v3/chat does."""
        credential = ratelimit.credential_key(self.info)
        address = (self.socket.scope.get("client") or ("", 0))[0]
        verdict = await ratelimit.checked("run", credential, address)
        if verdict is not None and not verdict.allowed:
            raise errors.RATE_LIMITED(f"too many chats: retry in {max(1, verdict.reset_s)} s")

    def _follow(self, turn: runtime.Turn, ref) -> None:
        run_id = turn.run.id

        def subscriber(event: runs.Event | None) -> None:
            if event is None:
                self.live.pop(run_id, None)
                self._put(ref, "done", {"chat_id": str(run_id)})
                return
            rendered = open_event(event)  # at once: the run and its messages change afterwards
            if rendered is not None:
                self._put(ref, *rendered)

        self.live[run_id] = runs.LiveRun(turn, subscriber)


def _required(data: dict, *names: str) -> list:
    missing = [name for name in names if data.get(name) in (None, "")]
    if missing:
        raise errors.CONVERSATION_INVALID_PARAM(f"data.{missing[0]}: required")
    return [data[name] for name in names]
