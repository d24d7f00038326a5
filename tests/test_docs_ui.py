"""Swagger UI (/ui/) in headless Chromium (Debian's, driven by Playwright) against a live server:
the page shows every tag with all of its operations, and "Try it out" on login answers with a
token, which "Authorize" then sends with a call that needs it."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest
import yaml
from conftest import ADMIN_EMAIL, ADMIN_PASSWORD

from core.settings import REPO_ROOT

pytestmark = pytest.mark.clients  # the spec's clients; .ci/run runs them on SQLite only

CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def page(live_server):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "chromium is missing: .ci/run installs it (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-dev-shm-usage",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{live_server}/ui/")
            page.wait_for_selector(".opblock-tag-section", timeout=30_000)
            yield page
        finally:
            browser.close()


def spec_operations() -> Counter:
    spec = yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text())
    operations = [
        operation["tags"][0]
        for path_item in spec["paths"].values()
        for operation in path_item.values()
        if isinstance(operation, dict) and "operationId" in operation
    ]
    return Counter(operations)


def test_every_tag_shows_all_its_operations(page):
    expected = spec_operations()
    shown = Counter()
    for section in page.locator(".opblock-tag-section").all():
        tag = section.locator(".opblock-tag").get_attribute("data-tag")
        shown[tag] = section.locator(".opblock").count()
    assert shown == expected
    assert page.locator(".opblock").count() == sum(expected.values()) > 250
    assert "Coze Plus API" in page.locator(".info .title").inner_text()


def test_try_it_out_logs_in_and_authorize_sends_the_token(page):
    login = page.locator("#operations-passport-email_login")
    login.locator(".opblock-summary").click()
    login.get_by_role("button", name="Try it out").click()
    credentials = json.dumps({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    login.locator("textarea.body-param__text").fill(credentials)
    login.get_by_role("button", name="Execute").click()
    status = login.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for(timeout=30_000)
    assert status.inner_text().strip() == "200"
    answer = json.loads(
        login.locator(".live-responses-table tbody .response-col_description pre").first.inner_text()
    )
    assert answer["code"] == 0 and answer["data"]["email"] == ADMIN_EMAIL
    token = answer["data"]["token"]
    page.context.clear_cookies()  # the login set the session cookie; only the bearer token may count

    me = page.locator("#operations-passport-users_me")
    me.locator(".opblock-summary").click()
    me.get_by_role("button", name="Try it out").click()
    me.get_by_role("button", name="Execute").click()
    assert answered(page, "users_me") == "401"  # not authorized yet

    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".dialog-ux")
    dialog.locator("input[type=text]").first.fill(token)
    dialog.get_by_role("button", name="Authorize").first.click()
    dialog.get_by_role("button", name="Close").first.click()

    me.get_by_role("button", name="Execute").click()
    assert answered(page, "users_me", once_not="401") == "200"
    body = me.locator(".live-responses-table tbody .response-col_description pre").first.inner_text()
    assert json.loads(body)["data"]["user_name"] == ADMIN_EMAIL


def answered(page, operation: str, once_not: str | None = None) -> str:
    """The status Swagger UI shows for the operation's last execution (waiting for a new one)."""
    cell = f"#operations-passport-{operation} .live-responses-table tbody .response-col_status"
    page.wait_for_function(
        "([cell, old]) => document.querySelector(cell)?.innerText.trim() !== old"
        " && document.querySelector(cell) !== null",
        arg=[cell, once_not or ""],
        timeout=30_000,
    )
    return page.locator(cell).first.inner_text().strip()
