"""Files: upload (multipart or Coze's base64 JSON), retrieve, download (owner or signed link)."""

from __future__ import annotations

import base64
import binascii
import io
from urllib.parse import quote

from connexion import request
from connexion.lifecycle import ConnexionResponse

from core import errors
from core.envelope import ok
from services import files
from views.upload import apply_view, bot_upload_view, commit_view, file_view, stored_bytes_view


def upload_file(token_info, file=None):
    if not file:
        raise errors.NO_FILE("send the file as the multipart field 'file'")
    if len(file) > 1:
        raise errors.TOO_MANY_FILES("send exactly one multipart field 'file'")
    upload = file[0]
    return ok(file_view(files.store(token_info["user"], upload.filename, upload.file)))


def retrieve_file(token_info, file_id):
    return ok(file_view(files.owned(token_info["user"], file_id)))


def bot_upload_file(token_info, body):
    head = body["file_head"]
    try:
        content = base64.b64decode(body["data"], validate=True)
    except (binascii.Error, ValueError):
        raise errors.UPLOAD_INVALID_PARAM("data must be the file's bytes in base64")
    stored = files.store(
        token_info["user"],
        f"upload.{head['file_type']}",
        io.BytesIO(content),
        biz_type=head.get("biz_type", 0),
    )
    return ok(bot_upload_view(stored))


def download_file(file_id, expires=None, signature=None, token_info=None):
    user = (token_info or {}).get("user")
    stored = (
        files.owned(user, file_id)
        if user is not None and signature is None
        else files.by_link(file_id, expires, signature)
    )
    disposition = "inline" if stored.content_type in files.INLINE_TYPES else "attachment"
    fallback = stored.file_name.encode("ascii", "ignore").decode().replace('"', "") or "file"
    return ConnexionResponse(
        status_code=200,
        body=files.read(stored),
        mimetype=stored.content_type,
        content_type=stored.content_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{fallback}"; '
            f"filename*=UTF-8''{quote(stored.file_name)}",
            "Cache-Control": "private, max-age=300",
        },
    )


# --- the console's ImageX-compatible upload (apply, upload, commit) ----------------------------


def apply_upload_action(
    token_info, Action, FileExtension=None, FileSize=None, Version=None, ServiceId=None, body=None
):
    user = token_info["user"]
    if Action == "ApplyImageUpload":
        store_uri, session = files.apply_upload(user, FileExtension or "png")
        return ok(apply_view(store_uri, session, request.headers.get("host", "127.0.0.1:8888")))
    return ok(commit_view(files.commit_upload(user, (body or {}).get("SessionKey", ""))))


def apply_upload_action_post(
    token_info, Action, FileExtension=None, FileSize=None, Version=None, ServiceId=None, body=None
):
    """The same action by POST (CommitImageUpload sends its session key in a body)."""
    return apply_upload_action(token_info, Action, FileExtension, FileSize, Version, ServiceId, body)


def upload_to_store(store_uri, body=None):
    """The session key travels in Authorization (as ImageX's Auth), not as a bearer token."""
    stored = files.upload_to_session(request.headers.get("authorization"), store_uri, body or b"")
    payload = stored_bytes_view(stored, store_uri)
    # the envelope, plus the ImageX fields the console's uploader reads
    return {
        **ok(payload),
        "Version": "v1",
        "success": 0,
        "error": {"code": 200, "message": "Success"},
        "payload": payload,
    }
