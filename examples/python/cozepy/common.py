"""What the examples share: cozepy, unmodified, pointed at COZEPLUS_BASE_URL with the personal
access token COZEPLUS_TOKEN (`pip install cozepy`), and `http` for the few calls cozepy does not
have (it is a client of the Open API; creating workflows, declaring variables and testing
retrieval are console calls)."""

import os
from pathlib import Path

import httpx
from cozepy import Coze, TokenAuth

DATA = Path(__file__).resolve().parent.parent.parent / "data"
BASE = os.environ.get("COZEPLUS_BASE_URL", "http://127.0.0.1:8888")
TOKEN = os.environ.get("COZEPLUS_TOKEN") or exit("set COZEPLUS_TOKEN to a personal access token")

coze = Coze(auth=TokenAuth(TOKEN), base_url=BASE)


def http(path: str, body: dict) -> dict:
    """POST a console call; its `data`, or an error naming what the server refused."""
    answer = httpx.post(BASE + path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}).json()
    if answer["code"] != 0:
        raise SystemExit(f"{path} refused: {answer['code']} {answer['msg']}")
    return answer["data"]


def personal_space() -> str:
    return next(space.id for space in coze.workspaces.list().items if space.workspace_type == "personal")
