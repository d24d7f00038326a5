"""Caps on work in progress: chats and workflow runs a user has going at once, and chats of one
agent across all users. Counted from the runs' own rows, so every worker sees the same numbers;
two starts at the same instant may both pass the last free place (a cap, not a lock)."""

from __future__ import annotations

from core import errors
from core.settings import get_settings
from models.conversation import LIVE_STATUSES, ChatRun
from models.identity import User
from models.workflow import RUN_LIVE, WorkflowRun

RETRY_AFTER = {"Retry-After": "1"}


def admit(user: User, bot_id: int | None = None) -> None:
    """Raise 429 if starting one more run would pass a cap."""
    settings = get_settings()
    if settings.max_runs_per_user:
        chats = ChatRun.select().where(ChatRun.creator == user.id, ChatRun.status.in_(LIVE_STATUSES)).count()
        runs = (
            WorkflowRun.select()
            .where(WorkflowRun.creator == user.id, WorkflowRun.status.in_(RUN_LIVE))
            .count()
        )
        if chats + runs >= settings.max_runs_per_user:
            raise errors.RATE_LIMITED(
                f"you have {chats + runs} chats and workflow runs in progress, the most allowed at once"
                f" ({settings.max_runs_per_user}); wait for one to end",
                headers=RETRY_AFTER,
            )
    if bot_id is not None and settings.max_runs_per_agent:
        chats = ChatRun.select().where(ChatRun.bot == bot_id, ChatRun.status.in_(LIVE_STATUSES)).count()
        if chats >= settings.max_runs_per_agent:
            raise errors.RATE_LIMITED(
                f"agent {bot_id} has {chats} chats in progress, the most allowed at once"
                f" ({settings.max_runs_per_agent}); retry shortly",
                headers=RETRY_AFTER,
            )
