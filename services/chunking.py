"""Splitting parsed text into slices (chunks), as Coze's ChunkStrategy describes.

- chunk_type 0 (automatic): sections at headings, paragraphs packed up to 800 characters, 80
  characters of overlap, extra whitespace collapsed.
- chunk_type 1 (custom): split at the caller's separator (which is dropped); a piece longer than
  `max_tokens` is split further at paragraph, line, sentence and word boundaries, with `overlap`.
- chunk_type 2 (hierarchical): sections at headings up to `max_level`, each packed like the
  automatic mode; every chunk keeps its heading path, and `save_title` puts it in the text.
- caption_type (images, any mode): 0 captions an image without one by the vision model the
  administrator chose, 1 keeps captions manual.

Lengths are counted in characters (a CJK character is about one token; English about four
characters per token)."""

from __future__ import annotations

import dataclasses
import re

from services.parsing import Block

CHUNK_AUTO, CHUNK_CUSTOM, CHUNK_HEADING = 0, 1, 2
DEFAULT_MAX, DEFAULT_OVERLAP = 800, 80
MIN_MAX, MAX_MAX = 50, 5000

# From coarse to fine: paragraphs, lines, sentence ends (Chinese and Western), clauses, words.
_FALLBACK_SEPARATORS = ("\n\n", "\n", "。", "！", "？", ". ", "! ", "? ", "；", "; ", "，", ", ", " ")
_URL = re.compile(r"https?://\S+|www\.\S+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SPACES = re.compile(r"[ \t\u3000\xa0]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*(?:\n\s*)+")


class StrategyError(ValueError):
    """A chunk strategy that cannot be applied; the message names the field."""


@dataclasses.dataclass
class Chunk:
    text: str
    heading_path: list[str]
    page: int | None = None

    def meta(self) -> dict:
        meta: dict = {}
        if self.heading_path:
            meta["heading_path"] = self.heading_path
        if self.page is not None:
            meta["page"] = self.page
        return meta


def normalize(raw: dict | None) -> dict:
    """The strategy with defaults filled in, checked; the automatic mode ignores other fields."""
    raw = {k: v for k, v in (raw or {}).items() if v is not None}
    chunk_type = raw.get("chunk_type", CHUNK_AUTO)
    images = {"caption_type": raw["caption_type"]} if raw.get("caption_type") in (0, 1) else {}
    if chunk_type == CHUNK_AUTO:
        return {
            "chunk_type": CHUNK_AUTO,
            "max_tokens": DEFAULT_MAX,
            "overlap": DEFAULT_OVERLAP,
            "remove_extra_spaces": True,
            "remove_urls_emails": False,
            **images,
        }
    if chunk_type not in (CHUNK_CUSTOM, CHUNK_HEADING):
        raise StrategyError(f"chunk_strategy.chunk_type must be 0, 1 or 2, not {chunk_type}")
    maximum = raw.get("max_tokens", DEFAULT_MAX)
    if not MIN_MAX <= maximum <= MAX_MAX:
        raise StrategyError(f"chunk_strategy.max_tokens must be between {MIN_MAX} and {MAX_MAX}")
    overlap = raw.get("overlap", 0)
    if not 0 <= overlap <= maximum // 2:
        raise StrategyError("chunk_strategy.overlap must be between 0 and half of max_tokens")
    strategy = {
        "chunk_type": chunk_type,
        "max_tokens": maximum,
        "overlap": overlap,
        "remove_extra_spaces": bool(raw.get("remove_extra_spaces", False)),
        "remove_urls_emails": bool(raw.get("remove_urls_emails", False)),
    }
    if chunk_type == CHUNK_CUSTOM:
        separator = _unescape(raw.get("separator", "\n"))
        if not separator:
            raise StrategyError("chunk_strategy.separator must not be empty for custom chunking")
        strategy["separator"] = separator
    else:
        level = raw.get("max_level", 3)
        if not 1 <= level <= 6:
            raise StrategyError("chunk_strategy.max_level must be between 1 and 6")
        strategy.update(max_level=level, save_title=bool(raw.get("save_title", True)))
    return {**strategy, **images}


def _unescape(separator: str) -> str:
    """Consoles send the separator typed by a user: "\\n" means a newline."""
    return separator.replace("\\n", "\n").replace("\\t", "\t").replace("\\r", "\r")


def clean(text: str, strategy: dict) -> str:
    if strategy.get("remove_urls_emails"):
        text = _EMAIL.sub("", _URL.sub("", text))
    if strategy.get("remove_extra_spaces"):
        text = _BLANK_LINES.sub("\n\n", _SPACES.sub(" ", text))
        text = "\n".join(line.strip() for line in text.split("\n"))
    return text


def _split(text: str, maximum: int, separators=_FALLBACK_SEPARATORS) -> list[str]:
    """Pieces of at most `maximum` characters that join back into `text` (separators are kept
    at the end of the piece they close), cut at the coarsest boundary that fits."""
    if len(text) <= maximum:
        return [text]
    for position, separator in enumerate(separators):
        if separator not in text:
            continue
        parts = text.split(separator)
        pieces = [p + separator for p in parts[:-1]] + [parts[-1]]
        result = []
        for piece in pieces:
            if len(piece) > maximum:
                result.extend(_split(piece, maximum, separators[position + 1 :]))
            elif piece:
                result.append(piece)
        return result
    return [text[i : i + maximum] for i in range(0, len(text), maximum)]


def _tail(text: str, size: int) -> str:
    """The last `size` characters of a chunk, started at a word boundary when there is one."""
    if size <= 0:
        return ""
    tail = text[-size:]
    boundary = re.search(r"[\s。！？；，.!?;,]", tail)
    return tail[boundary.end() :] if boundary and boundary.end() < len(tail) else tail


def _pack(pieces: list[tuple[str, int | None]], maximum: int, overlap: int) -> list[tuple[str, int | None]]:
    """Greedily join consecutive pieces into chunks of at most `maximum` characters; each new
    chunk begins with the last `overlap` characters of the one before."""
    chunks: list[tuple[str, int | None]] = []
    current, page = "", None
    for piece, piece_page in pieces:
        if current and len(current) + len(piece) > maximum:
            chunks.append((current, page))
            carried = _tail(current.rstrip(), overlap)
            current = carried + " " if carried and len(carried) + 1 + len(piece) <= maximum else ""
            page = piece_page
        if not current:
            page = piece_page
        current += piece
    if current.strip():
        chunks.append((current, page))
    return chunks


def _sections(blocks: list[Block], max_level: int) -> list[tuple[list[str], list[Block]]]:
    """(heading path, body blocks) per section; headings deeper than max_level are body text."""
    sections: list[tuple[list[str], list[Block]]] = []
    path: list[tuple[int, str]] = []
    body: list[Block] = []
    for block in blocks:
        if 0 < block.heading_level <= max_level:
            if body:
                sections.append(([t for _, t in path], body))
                body = []
            path = [(lvl, t) for lvl, t in path if lvl < block.heading_level] + [
                (block.heading_level, block.text)
            ]
        else:
            body.append(block)
    if body or path:
        sections.append(([t for _, t in path], body))
    return sections


def chunk(blocks: list[Block], strategy: dict) -> list[Chunk]:
    maximum, overlap = strategy["max_tokens"], strategy["overlap"]
    result: list[Chunk] = []
    if strategy["chunk_type"] == CHUNK_CUSTOM:
        text = clean("\n\n".join(b.text for b in blocks), strategy)
        pages = [b.page for b in blocks if b.page is not None]
        for part in text.split(strategy["separator"]):
            for piece, _ in _pack([(p, None) for p in _split(part, maximum)], maximum, overlap):
                if piece.strip():
                    result.append(Chunk(piece.strip(), [], pages[0] if len(pages) == 1 else None))
        return result
    heading_mode = strategy["chunk_type"] == CHUNK_HEADING
    for path, body in _sections(blocks, strategy.get("max_level", 6)):
        pieces: list[tuple[str, int | None]] = []
        for block in body:
            text = clean(block.text, strategy).strip()
            if text:
                pieces.extend((p, block.page) for p in _split(text + "\n\n", maximum))
        title = " > ".join(path)
        prefix = title + "\n" if title and (not heading_mode or strategy.get("save_title")) else ""
        room = maximum - len(prefix) if len(prefix) < maximum // 2 else maximum
        if room == maximum:
            prefix = ""
        for text, page in _pack(pieces, room, overlap):
            if text.strip():
                result.append(Chunk(prefix + text.strip(), path, page))
    return result
