"""Message content: plain text, or multimodal items (text, images, files) in a JSON string.

Files in content are resolved through services/refs for the user the message belongs to, both
when a message is written (chat, message create and modify, conversation create) and each time
history is read back into a prompt, so no one's content can name another user's upload."""

from __future__ import annotations

from core import errors, jsonsafe
from models.identity import User
from services import refs


def parse(content: str, content_type: str, *, field: str, user: User) -> tuple[str, list[dict]]:
    """(plain text, content parts) of a message `user` writes or is answered from. Multimodal
    content is a JSON string: the Open API's list of {type: text|image|file, text | file_id |
    file_url}, or the console's {item_list: [...]} with image keys and file keys."""
    if content_type in ("text", "", None):
        return content, []
    try:
        value = jsonsafe.loads(content, field)
    except jsonsafe.JsonProblem as exc:
        raise errors.CONVERSATION_INVALID_PARAM(f"a {content_type} message must be a JSON string; {exc}")
    items = value.get("item_list") if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise errors.CONVERSATION_INVALID_PARAM(f"{field}: expected a JSON list of content items")
    texts, parts = [], []
    for item in items:
        if not isinstance(item, dict) or item.get("type") not in ("text", "image", "file", "audio", "video"):
            raise errors.CONVERSATION_INVALID_PARAM(
                f"{field}: each item needs a type among text, image, file, audio and video"
            )
        if item["type"] == "text":
            texts.append(str(item.get("text") or ""))
            continue
        parts.append(_file_part(item, field, user))
    return "\n".join(t for t in texts if t), parts


def _file_part(item: dict, field: str, user: User) -> dict:
    nested = item.get(item["type"]) if isinstance(item.get(item["type"]), dict) else {}
    file_id = item.get("file_id") or nested.get("file_id")
    key = nested.get("key") or nested.get("file_key") or nested.get("uri")
    stored, url = None, ""
    if file_id or (key and str(key).startswith("file:")):
        file_id = file_id or str(key)[len("file:") :]
        try:  # only the user's own uploads, whenever the message is read (history is read again)
            stored = refs.one(user, refs.FILE, file_id, field=field)
        except errors.ApiError as exc:
            raise errors.CONVERSATION_INVALID_PARAM(exc.msg)
    elif item.get("file_url") or nested.get("url"):
        url = item.get("file_url") or nested.get("url")
    else:
        raise errors.CONVERSATION_INVALID_PARAM(f"{field}: a {item['type']} item needs file_id or file_url")
    name = nested.get("file_name") or item.get("name") or (stored.file_name if stored else "")
    return {"type": item["type"], "url": url, "name": name, "stored": stored}
