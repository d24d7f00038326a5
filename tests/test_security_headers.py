"""Every answer carries the security headers: no sniffing, no framing, no referrer; the API's
answers a policy that runs nothing (an uploaded HTML file shown inline included); Swagger UI's
pages not that policy (they run scripts); HSTS behind TLS; no-store unless the answer caches."""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.testclient import TestClient
from test_files import upload

from core.middleware import RequestContextMiddleware

POLICY = "default-src 'none'; frame-ancestors 'none'"


def assert_protected(response):
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_api_answers_errors_and_files_carry_them(client, alice):
    for response in (
        alice.post("/api/passport/account/info/v2/"),
        client.post("/api/passport/account/info/v2/"),  # 401
        client.get("/no/such/route"),
        client.get("/openapi.json"),
    ):
        assert_protected(response)
        assert response.headers["content-security-policy"] == POLICY, response.request.url
        assert response.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in response.headers  # plain HTTP here
    page = upload(alice, "page.html", b"<script>alert(1)</script>", "text/html").json()["data"]
    shown = alice.get(f"/api/files/{page['id']}/content")
    assert_protected(shown)
    assert shown.headers["content-security-policy"] == POLICY  # its script cannot run
    assert shown.headers["cache-control"] == "private, max-age=300"  # the handler's own, kept
    assert shown.headers.get_list("x-content-type-options") == ["nosniff"]


def test_swagger_ui_runs_its_scripts(client):
    ui = client.get("/ui/")
    assert ui.status_code == 200 and "swagger" in ui.text.lower()
    assert_protected(ui)
    assert "content-security-policy" not in ui.headers


def test_behind_tls_browsers_are_told_to_stay_on_it():
    async def hello(scope, receive, send):
        await PlainTextResponse("hi")(scope, receive, send)

    for https, expected in ((True, "max-age=31536000"), (False, None)):
        wrapped = RequestContextMiddleware(
            hello, slash_paths=set(), max_json_body=9, max_upload_body=9, log_requests=False, https=https
        )
        response = TestClient(wrapped).get("/anything")
        assert response.headers.get("strict-transport-security") == expected
        assert_protected(response)
