"""What the examples share: a client of the generated SDK (`make sdks`, then
`pip install ./build/sdks/python`) for COZEPLUS_BASE_URL with the token COZEPLUS_TOKEN."""

import os
from pathlib import Path

import cozeplus_sdk as sdk

DATA = Path(__file__).resolve().parent.parent.parent / "data"


def client() -> sdk.ApiClient:
    token = os.environ.get("COZEPLUS_TOKEN")
    if not token:
        raise SystemExit("set COZEPLUS_TOKEN to a personal access token (or a session token)")
    base = os.environ.get("COZEPLUS_BASE_URL", "http://127.0.0.1:8888")
    return sdk.ApiClient(sdk.Configuration(host=base, access_token=token))


def personal_space(api: sdk.ApiClient) -> str:
    spaces = sdk.SpaceApi(api).list_workspaces().data.workspaces
    return next(space.id for space in spaces if space.workspace_type == "personal")
