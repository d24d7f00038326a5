"""Stored files: the Open API's file object, and the console's upload answers (Coze's base64
upload and the ImageX-compatible apply/commit)."""

from __future__ import annotations

from core.links import file_uri, file_url


def file_view(stored) -> dict:
    return {
        "id": str(stored.id),
        "file_name": stored.file_name,
        "bytes": stored.size,
        "created_at": stored.created_at,
        "content_type": stored.content_type,
        "uri": file_uri(stored.id),
        "url": file_url(stored.id),
    }


def bot_upload_view(stored) -> dict:
    return {"upload_uri": file_uri(stored.id), "upload_url": file_url(stored.id), "file_id": str(stored.id)}


def apply_view(store_uri: str, session: str, host: str) -> dict:
    return {
        "Result": {
            "UploadAddress": {
                "StoreInfos": [{"StoreUri": store_uri, "Auth": session, "UploadID": ""}],
                "UploadHosts": [f"{host}/api/common/upload"],
                "SessionKey": session,
            }
        }
    }


def commit_view(stored) -> dict:
    return {
        "Result": {
            "Results": [{"Uri": file_uri(stored.id), "UriStatus": 2000}],
            "PluginResult": [
                {
                    "FileName": stored.file_name,
                    "ImageUri": file_uri(stored.id),
                    "ImageMd5": stored.sha256[:32],
                    "ImageFormat": stored.file_name.rpartition(".")[2],
                    "ImageSize": stored.size,
                    "ImageUrl": file_url(stored.id),
                }
            ],
        }
    }


def stored_bytes_view(stored, store_uri: str) -> dict:
    """What the upload host answers once the bytes are stored."""
    return {"hash": stored.sha256[:32], "key": store_uri, "uploadID": "", "uri": file_uri(stored.id)}
