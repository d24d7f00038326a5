"""Files: upload (multipart and base64), size limit, type checked against the bytes, safe names,
ownership, signed expiring links."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlparse

import pytest
from conftest import assert_error

from models.files import StoredFile
from services import files

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def upload(account, name="notes.txt", content=b"hello world", media="text/plain"):
    return account.post("/v1/files/upload", files={"file": (name, content, media)})


class TestUpload:
    def test_stores_and_retrieves(self, client, alice):
        response = upload(alice, "report.pdf", PDF, "application/pdf")
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["file_name"] == "report.pdf" and data["bytes"] == len(PDF)
        assert data["content_type"] == "application/pdf" and data["uri"] == f"file:{data['id']}"
        row = StoredFile.get_by_id(int(data["id"]))
        assert str(row.owner_id) == alice.user_id and files.read(row) == PDF
        got = alice.get("/v1/files/retrieve", params={"file_id": data["id"]}).json()["data"]
        assert got["id"] == data["id"] and got["bytes"] == len(PDF)
        owner_download = alice.get(f"/api/files/{data['id']}/content")
        assert owner_download.status_code == 200 and owner_download.content == PDF
        assert owner_download.headers["x-content-type-options"] == "nosniff"

    def test_signed_link_works_without_credentials_until_it_expires(self, client, alice, monkeypatch):
        data = upload(alice, "page.html", b"<script>alert(1)</script>", "text/html").json()["data"]
        client.cookies.clear()
        anonymous = client.get(data["url"])
        assert anonymous.status_code == 200 and anonymous.content == b"<script>alert(1)</script>"
        assert anonymous.headers["content-disposition"].startswith("attachment")  # never rendered inline
        query = parse_qs(urlparse(data["url"]).query)
        tampered = data["url"].replace(query["signature"][0], "0" * 64)
        assert_error(client.get(tampered), 403, 104000010)
        other_file = upload(alice).json()["data"]["id"]
        assert_error(client.get(data["url"].replace(data["id"], other_file)), 403, 104000010)
        monkeypatch.setattr(files.time, "time", lambda: int(query["expires"][0]) + 1)
        assert_error(client.get(data["url"]), 403, 104000010, "expired")

    def test_anonymous_without_a_link(self, client, alice):
        file_id = upload(alice).json()["data"]["id"]
        client.cookies.clear()
        assert_error(client.get(f"/api/files/{file_id}/content"), 404, 104000009)

    @pytest.mark.parametrize(
        "name", ["../../etc/passwd", "..\\..\\boot.ini", "a/b/c.txt", "\x00evil\x07.txt", ".hidden"]
    )
    def test_names_are_made_safe(self, alice, name):
        data = upload(alice, name).json()["data"]
        assert (
            "/" not in data["file_name"] and "\\" not in data["file_name"] and ".." not in data["file_name"]
        )
        assert not any(ord(c) < 32 for c in data["file_name"])
        row = StoredFile.get_by_id(int(data["id"]))
        assert row.storage_key.endswith(data["id"]) and ".." not in row.storage_key

    @pytest.mark.parametrize(
        "name,content",
        [
            ("fake.pdf", b"MZ\x90\x00 not a pdf"),
            ("fake.png", b"GIF89a..."),
            ("fake.docx", b"plain text"),
            ("bin.txt", b"\xff\xfe\x00\x01"),
            ("nul.md", b"abc\x00def"),
        ],
    )
    def test_type_must_match_the_bytes(self, alice, name, content):
        before = StoredFile.select().count()
        assert_error(upload(alice, name, content, "application/octet-stream"), 415, 104000008, name)
        assert StoredFile.select().count() == before

    def test_too_large(self, alice, settings_override):
        settings_override(max_upload_bytes=1000)
        before = StoredFile.select().count()
        assert_error(upload(alice, "big.txt", b"x" * 1001), 413, 104000004)
        assert StoredFile.select().count() == before

    def test_empty_missing_and_several(self, alice):
        assert_error(upload(alice, "empty.txt", b""), 400, 104000006)
        assert_error(
            alice.post("/v1/files/upload", files={"other": ("a.txt", b"x", "text/plain")}), 400, 104000000
        )
        assert_error(
            alice.post(
                "/v1/files/upload",
                data={},
                files=[("file", ("a.txt", b"a", "text/plain")), ("file", ("b.txt", b"b", "text/plain"))],
            ),
            400,
            104000007,
        )


class TestBase64Upload:
    def test_upload(self, client, alice):
        response = alice.post(
            "/api/bot/upload_file",
            json={"file_head": {"file_type": "pdf", "biz_type": 1}, "data": base64.b64encode(PDF).decode()},
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["upload_uri"] == f"file:{data['file_id']}"
        client.cookies.clear()
        assert client.get(data["upload_url"]).content == PDF
        assert StoredFile.get_by_id(int(data["file_id"])).biz_type == 1

    @pytest.mark.parametrize(
        "body,status,code",
        [
            ({"file_head": {"file_type": "txt"}, "data": "not base64!"}, 400, 104000000),
            ({"file_head": {"file_type": "png"}, "data": base64.b64encode(b"text").decode()}, 415, 104000008),
            ({"file_head": {"file_type": "../x"}, "data": "aGk="}, 400, 104000000),
            ({"file_head": {}, "data": "aGk="}, 400, 104000000),
        ],
    )
    def test_bad_input(self, alice, body, status, code):
        before = StoredFile.select().count()
        assert_error(alice.post("/api/bot/upload_file", json=body), status, code)
        assert StoredFile.select().count() == before


def test_another_user_cannot_see_a_file(client, alice, bob):
    data = upload(alice, "secret.txt", b"alice only").json()["data"]
    assert_error(bob.get("/v1/files/retrieve", params={"file_id": data["id"]}), 404, 104000009)
    assert_error(bob.get(f"/api/files/{data['id']}/content"), 404, 104000009)
    assert "alice only" not in bob.get(f"/api/files/{data['id']}/content").text


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


class TestImageXUpload:
    def apply(self, account, ext=".png"):
        response = account.get(
            "/api/common/upload/apply_upload_action",
            params={
                "Action": "ApplyImageUpload",
                "FileExtension": ext,
                "FileSize": len(PNG),
                "Version": "2018-08-01",
                "ServiceId": "x",
            },
        )
        assert response.status_code == 200, response.text
        address = response.json()["data"]["Result"]["UploadAddress"]
        return address["StoreInfos"][0]["StoreUri"], address["SessionKey"], address

    def test_apply_upload_commit(self, client, alice):
        store_uri, session, address = self.apply(alice)
        assert address["UploadHosts"][0].endswith("/api/common/upload")
        client.cookies.clear()
        uploaded = client.post(
            f"/api/common/upload/{store_uri}",
            content=PNG,
            headers={"Authorization": session, "Content-Type": "application/octet-stream"},
        )
        assert uploaded.status_code == 200, uploaded.text
        assert uploaded.json()["payload"]["key"] == store_uri and uploaded.json()["code"] == 0
        committed = alice.post(
            "/api/common/upload/apply_upload_action",
            params={"Action": "CommitImageUpload"},
            json={"SessionKey": session},
        ).json()["data"]["Result"]
        uri = committed["Results"][0]["Uri"]
        assert (
            committed["Results"][0]["UriStatus"] == 2000 and uri == committed["PluginResult"][0]["ImageUri"]
        )
        row = StoredFile.get_by_id(int(uri.removeprefix("file:")))
        assert str(row.owner_id) == alice.user_id and files.read(row) == PNG

    def test_sessions_are_bound(self, client, alice, bob):
        store_uri, session, _ = self.apply(alice)
        other_uri, _, _ = self.apply(alice)
        headers = {"Content-Type": "application/octet-stream"}
        before = StoredFile.select().count()
        assert_error(
            client.post(f"/api/common/upload/{store_uri}", content=PNG, headers=headers), 403, 104000010
        )
        assert_error(
            client.post(
                f"/api/common/upload/{store_uri}",
                content=PNG,
                headers={**headers, "Authorization": session[:-2] + "00"},
            ),
            403,
            104000010,
        )
        assert_error(
            client.post(
                f"/api/common/upload/{other_uri}", content=PNG, headers={**headers, "Authorization": session}
            ),
            403,
            104000010,
        )
        assert_error(
            client.post(
                f"/api/common/upload/{store_uri}",
                content=b"not a png",
                headers={**headers, "Authorization": session},
            ),
            415,
            104000008,
        )
        assert StoredFile.select().count() == before
        client.post(
            f"/api/common/upload/{store_uri}", content=PNG, headers={**headers, "Authorization": session}
        )
        assert_error(
            client.post(
                f"/api/common/upload/{store_uri}", content=PNG, headers={**headers, "Authorization": session}
            ),
            409,
            104000011,
        )
        assert_error(
            bob.post(
                "/api/common/upload/apply_upload_action",
                params={"Action": "CommitImageUpload"},
                json={"SessionKey": session},
            ),
            404,
            104000009,
        )
