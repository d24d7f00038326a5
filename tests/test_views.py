"""Views run no SQL: the conftest guard catches one that does (a lazily loaded foreign key)."""

from __future__ import annotations

import types

import conftest
import pytest

from models.agent import Bot
from views.search import intelligence_view


def test_the_guard_catches_a_view_that_loads_a_related_row(alice):
    bot_id = alice.post("/api/draftbot/create", json={"name": "Agent"}).json()["data"]["bot_id"]
    bot = Bot.get_by_id(int(bot_id))  # its creator not joined: reading it would query
    try:
        with pytest.raises(AssertionError, match="a view ran SQL at .*views/search.py"):
            intelligence_view(bot, None, types.SimpleNamespace(id=0), 1)
        assert any("views/search.py" in found for found in conftest._view_queries)
    finally:
        conftest._view_queries.clear()


def test_a_joined_row_is_read_without_sql(alice):
    bot_id = alice.post("/api/draftbot/create", json={"name": "Agent"}).json()["data"]["bot_id"]
    creator = Bot.creator.rel_model
    bot = Bot.select(Bot, creator).join(creator).where(Bot.id == int(bot_id)).get()
    view = intelligence_view(bot, None, types.SimpleNamespace(id=bot.creator_id), 1)
    assert view["owner_info"]["user_id"] == str(bot.creator_id)
    assert view["permission_info"]["can_delete"] is True
