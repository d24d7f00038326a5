"""The official SDKs, unmodified, against a real server with a personal access token: users,
workspaces and bots (create, update, publish, retrieve draft and published, list both ways)."""

from __future__ import annotations

import httpx
import pytest
from conftest import needs_js_sdk, run_js_sdk
from cozepy import (
    BotModelInfo,
    BotOnboardingInfo,
    BotPromptInfo,
    Coze,
    CozeAPIError,
    TokenAuth,
    WorkspaceRoleType,
)


def test_cozepy_users_and_workspaces(coze):
    me = coze.users.me()
    assert me.user_id.isdigit() and me.nick_name == "Administrator"
    workspaces = list(coze.workspaces.list().items)
    assert workspaces and workspaces[0].role_type == WorkspaceRoleType.OWNER
    assert workspaces[0].workspace_type == "personal"


def test_cozepy_bots(coze):
    space_id = coze.workspaces.list().items[0].id
    bot = coze.bots.create(
        space_id=space_id,
        name="Py agent",
        description="made by cozepy",
        prompt_info=BotPromptInfo(prompt="Be brief."),
        onboarding_info=BotOnboardingInfo(prologue="Hi", suggested_questions=["Why?"]),
        model_info_config=BotModelInfo(model_id="1", temperature=0.3),
    )
    assert bot.bot_id.isdigit() and bot.prompt_info.prompt == "Be brief."
    assert bot.model_info.model_id == "1" and bot.model_info.temperature == 0.3
    coze.bots.update(bot_id=bot.bot_id, description="updated by cozepy")
    with pytest.raises(CozeAPIError) as unpublished:
        coze.bots.retrieve(bot_id=bot.bot_id)
    assert unpublished.value.code == 100000006
    published = coze.bots.publish(bot_id=bot.bot_id)
    assert published.bot_id == bot.bot_id and published.version
    coze.bots.update(bot_id=bot.bot_id, prompt_info=BotPromptInfo(prompt="draft only"))
    online = coze.bots.retrieve(bot_id=bot.bot_id)
    assert online.description == "updated by cozepy" and online.prompt_info.prompt == "Be brief."
    assert online.onboarding_info.suggested_questions == ["Why?"]
    draft = coze.bots.retrieve(bot_id=bot.bot_id, use_api_version=2, is_published=False)
    assert draft.prompt_info.prompt == "draft only"
    listed = [b.bot_id for b in coze.bots.list(space_id=space_id, use_api_version=2, page_size=50).items]
    published_only = [b.bot_id for b in coze.bots.list(space_id=space_id, page_size=50).items]
    assert bot.bot_id in listed and bot.bot_id in published_only


def test_cozepy_files(coze, pat, tmp_path, live_server):
    path = tmp_path / "notes.md"
    path.write_text("# Notes\n\nuploaded by cozepy\n")
    uploaded = coze.files.upload(file=path)
    assert (
        uploaded.id.isdigit() and uploaded.file_name == "notes.md" and uploaded.bytes == path.stat().st_size
    )
    retrieved = coze.files.retrieve(file_id=uploaded.id)
    assert retrieved.id == uploaded.id and retrieved.file_name == "notes.md"
    raw = httpx.get(
        f"{live_server}/v1/files/retrieve",
        params={"file_id": uploaded.id},
        headers={"Authorization": f"Bearer {pat}"},
    ).json()["data"]
    assert httpx.get(live_server + raw["url"]).content == path.read_bytes()  # the signed link, no token


def test_cozepy_errors(live_server, coze):
    with pytest.raises(CozeAPIError) as bad_token:
        Coze(auth=TokenAuth("pat_" + "0" * 64), base_url=live_server).users.me()
    assert bad_token.value.code == 700012006 and bad_token.value.logid
    with pytest.raises(CozeAPIError) as unknown:
        coze.bots.retrieve(bot_id="123", use_api_version=2, is_published=False)
    assert unknown.value.code == 100000002


@needs_js_sdk
def test_coze_js_bots(live_server, pat):
    seen = run_js_sdk("bots.mjs", live_server, pat)
    assert seen["workspace_type"] == "personal" and seen["me"].isdigit()
    assert seen["online_description"] == "updated by @coze/api" and seen["online_prologue"] == "Hello from JS"
    assert seen["draft_prompt"] == "Answer in one sentence." and seen["published_version"]
    assert seen["bot_id"] in seen["listed"] and seen["bot_id"] in seen["v1_listed"]
    assert seen["file_name"] == "hello.txt" and seen["file_retrieved"] is True
    assert seen["bad_token"]["status"] == 401 and seen["bad_token"]["name"] == "AuthenticationError"
