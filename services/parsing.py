"""Turning a document's bytes into text blocks (text knowledge) or rows (table knowledge).

`inspect` runs while the request waits and rejects what can be judged cheaply (unknown types,
corrupt containers, zip bombs, too many pages); `parse` runs in the task queue. Both raise
ParseError with a message meant for the user."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import re
import zipfile

from core import jsonsafe

logging.getLogger("pypdf").setLevel(logging.ERROR)  # its repair notes are not the user's concern

TEXT_TYPES = ("txt", "md", "markdown", "html", "htm", "pdf", "docx", "json", "csv", "xlsx")
TABLE_TYPES = ("csv", "xlsx", "json")
IMAGE_TYPES = ("png", "jpg", "jpeg", "gif", "webp")


class ParseError(Exception):
    def __init__(self, msg: str, *, too_large: bool = False):
        super().__init__(msg)
        self.too_large = too_large


@dataclasses.dataclass(frozen=True)
class Limits:
    max_pages: int = 2000
    max_unzipped_bytes: int = 200 * 1024 * 1024
    max_zip_ratio: int = 100  # uncompressed / compressed, for members over 1 MiB
    max_chars: int = 20_000_000
    max_rows: int = 100_000


@dataclasses.dataclass
class Block:
    text: str
    heading_level: int = 0  # 1-6 for a heading, 0 for body text
    page: int | None = None


@dataclasses.dataclass
class Parsed:
    blocks: list[Block] = dataclasses.field(default_factory=list)
    columns: list[str] = dataclasses.field(default_factory=list)  # table knowledge
    rows: list[list[str]] = dataclasses.field(default_factory=list)

    @property
    def char_count(self) -> int:
        return sum(len(b.text) for b in self.blocks) + sum(len(c) for r in self.rows for c in r)


# --- checks made while the request waits -------------------------------------------------------


def _check_zip(content: bytes, label: str, limits: Limits) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise ParseError(f"the {label} file is corrupt (not a readable zip container)")
    if len(members) > 10_000:
        raise ParseError(
            f"the {label} file holds {len(members)} parts; that is not a real {label}", too_large=True
        )
    total = sum(m.file_size for m in members)
    if total > limits.max_unzipped_bytes:
        raise ParseError(
            f"the {label} file unpacks to {total} bytes, over the limit of {limits.max_unzipped_bytes}",
            too_large=True,
        )
    for member in members:
        if member.file_size > 1024 * 1024 and member.file_size > limits.max_zip_ratio * max(
            member.compress_size, 1
        ):
            raise ParseError(
                f"the {label} file looks like a zip bomb: {member.filename} expands "
                f"{member.file_size // max(member.compress_size, 1)} times",
                too_large=True,
            )


def _pdf_reader(content: bytes, limits: Limits):
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError("the pdf is encrypted with a password")
        # the page tree's declared count first: walking 10,000 pages takes seconds
        declared = reader.trailer["/Root"]["/Pages"].get("/Count", 0)
        pages = (
            int(declared) if isinstance(declared, int) and declared > limits.max_pages else len(reader.pages)
        )
    except ParseError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        raise ParseError(f"the pdf is corrupt: {exc}")
    if pages == 0:
        raise ParseError("the pdf has no pages")
    if pages > limits.max_pages:
        raise ParseError(f"the pdf has {pages} pages, over the limit of {limits.max_pages}", too_large=True)
    return reader


def inspect(file_type: str, content: bytes, limits: Limits = Limits()) -> None:
    if not content:
        raise ParseError("the file is empty")
    if file_type in ("docx", "xlsx"):
        _check_zip(content, file_type, limits)
    elif file_type == "pdf":
        _pdf_reader(content, limits)
    elif file_type in IMAGE_TYPES:
        return
    else:
        try:
            content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ParseError(f"the .{file_type} file is not UTF-8 text")


# --- parsing, in the task queue ----------------------------------------------------------------

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _markdown(text: str) -> list[Block]:
    blocks, body, fenced = [], [], False

    def flush():
        if "".join(body).strip():
            blocks.append(Block("\n".join(body).strip("\n")))
        body.clear()

    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else _MD_HEADING.match(line)
        if heading:
            flush()
            blocks.append(Block(heading.group(2), heading_level=len(heading.group(1))))
        else:
            body.append(line)
    flush()
    return blocks


_HTML_SKIP = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object"}
_HTML_BLOCKS = {
    "p",
    "li",
    "pre",
    "blockquote",
    "dt",
    "dd",
    "caption",
    "figcaption",
    "tr",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "address",
    "table",
    "ul",
    "ol",
    "dl",
    "form",
    "aside",
    "nav",
}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


def _html(text: str) -> list[Block]:
    import lxml.html

    try:
        root = lxml.html.document_fromstring(text)
    except Exception:  # lxml raises ParserError, ValueError ... for empty or odd input
        raise ParseError("the html could not be parsed")
    blocks: list[Block] = []
    line: list[str] = []

    def flush():
        joined = re.sub(r"[ \t\r\f\v]+", " ", "".join(line)).strip().removesuffix(" |")
        if joined:
            blocks.append(Block(joined))
        line.clear()

    def walk(element):
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _HTML_SKIP or not tag:
            if element.tail:
                line.append(element.tail)
            return
        if tag in _HEADINGS:
            flush()
            title = re.sub(r"\s+", " ", element.text_content()).strip()
            if title:
                blocks.append(Block(title, heading_level=_HEADINGS[tag]))
        else:
            if tag in _HTML_BLOCKS:
                flush()
            if tag == "br":
                line.append("\n")
            if element.text:
                line.append(element.text)
            for child in element:
                walk(child)
            if tag in ("td", "th"):
                line.append(" | ")
            elif tag in _HTML_BLOCKS:
                flush()
        if element.tail:
            line.append(element.tail)

    walk(root.find("body") if root.find("body") is not None else root)
    flush()
    return blocks


def _pdf(content: bytes, limits: Limits) -> list[Block]:
    reader = _pdf_reader(content, limits)
    blocks, chars = [], 0
    for number, page in enumerate(reader.pages, start=1):
        if number > limits.max_pages:  # the declared count can lie
            raise ParseError(f"the pdf has over {limits.max_pages} pages", too_large=True)
        try:
            text = page.extract_text() or ""
        except Exception as exc:  # one unreadable page: say which, keep the verdict on the file
            raise ParseError(f"page {number} of the pdf cannot be read: {exc}")
        chars += len(text)
        if chars > limits.max_chars:
            raise ParseError(f"the pdf holds over {limits.max_chars} characters", too_large=True)
        if text.strip():
            blocks.append(Block(text.strip(), page=number))
    return blocks


def _docx(content: bytes) -> list[Block]:
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(content))
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors ...
        raise ParseError(f"the docx is corrupt: {exc}")
    blocks = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells = [c.text.strip() for c in row.cells]
                if any(cells):
                    blocks.append(Block(" | ".join(cells)))
            continue
        text = item.text.strip()
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        level = 0
        if style == "Title":
            level = 1
        elif style.startswith("Heading"):
            digits = style.removeprefix("Heading").strip()
            level = min(int(digits), 6) if digits.isdigit() else 1
        blocks.append(Block(text, heading_level=level))
    return blocks


def _csv_rows(text: str, limits: Limits) -> list[list[str]]:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = []
    try:
        for row in csv.reader(io.StringIO(text), dialect):
            if any(cell.strip() for cell in row):
                rows.append([cell.strip() for cell in row])
            if len(rows) > limits.max_rows:
                raise ParseError(f"the table has over {limits.max_rows} rows", too_large=True)
    except csv.Error as exc:
        raise ParseError(f"the csv is malformed: {exc}")
    return rows


def _xlsx_rows(content: bytes, sheet: int, limits: Limits) -> list[list[str]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # zipfile, KeyError, lxml errors for a broken workbook
        raise ParseError(f"the xlsx is corrupt: {exc}")
    try:
        if sheet >= len(book.worksheets):
            raise ParseError(f"the workbook has {len(book.worksheets)} sheets; sheet_id {sheet} is not one")
        rows = []
        for values in book.worksheets[sheet].iter_rows(values_only=True):
            cells = ["" if v is None else str(v).strip() for v in values]
            if any(cells):
                rows.append(cells)
            if len(rows) > limits.max_rows:
                raise ParseError(f"the table has over {limits.max_rows} rows", too_large=True)
        return rows
    finally:
        book.close()


def _json_value(text: str):
    try:
        return jsonsafe.loads(text)
    except jsonsafe.JsonProblem as exc:
        raise ParseError(f"the json is malformed: {exc}")


def _json_rows(value) -> list[list[str]]:
    """A JSON list of objects as rows, the union of their keys (in first-seen order) as header."""
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ParseError("table knowledge from json needs a list of objects (one per row)")
    header: list[str] = []
    for item in value:
        header.extend(k for k in item if k not in header)
    cell = lambda v: "" if v is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)  # noqa: E731
    return [header] + [[cell(item.get(k)) for k in header] for item in value]


def _json_blocks(value) -> list[Block]:
    items = (
        value.items() if isinstance(value, dict) else enumerate(value if isinstance(value, list) else [value])
    )
    blocks = []
    for key, item in items:
        rendered = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False, indent=1)
        blocks.append(Block(f"{key}: {rendered}" if isinstance(value, dict) else rendered))
    return blocks


def _rows_as_blocks(rows: list[list[str]]) -> list[Block]:
    """Rows of a spreadsheet given to text knowledge: one line per row, cells named by header."""
    if not rows:
        return []
    header, body = rows[0], rows[1:]
    lines = ["; ".join(f"{h}: {c}" if h else c for h, c in zip(header, row) if c) for row in body or [header]]
    return [Block("\n".join(lines))]


def _decode(content: bytes, file_type: str) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ParseError(f"the .{file_type} file is not UTF-8 text")


def parse_text(file_type: str, content: bytes, limits: Limits = Limits()) -> Parsed:
    """Blocks of text knowledge, headings marked."""
    if file_type in ("docx", "xlsx"):
        _check_zip(content, file_type, limits)
    if file_type == "pdf":
        blocks = _pdf(content, limits)
    elif file_type == "docx":
        blocks = _docx(content)
    elif file_type == "xlsx":
        blocks = _rows_as_blocks(_xlsx_rows(content, 0, limits))
    else:
        text = _decode(content, file_type)
        if len(text) > limits.max_chars:
            raise ParseError(f"the file holds over {limits.max_chars} characters", too_large=True)
        if file_type in ("md", "markdown"):
            blocks = _markdown(text)
        elif file_type in ("html", "htm"):
            blocks = _html(text)
        elif file_type == "json":
            blocks = _json_blocks(_json_value(text))
        elif file_type == "csv":
            blocks = _rows_as_blocks(_csv_rows(text, limits))
        else:
            blocks = [Block(text)]
    parsed = Parsed(blocks=blocks)
    if parsed.char_count > limits.max_chars:
        raise ParseError(f"the document holds over {limits.max_chars} characters", too_large=True)
    if not any(b.text.strip() for b in blocks):
        raise ParseError("no text could be extracted from the document")
    return parsed


def parse_table(
    file_type: str,
    content: bytes,
    *,
    sheet: int = 0,
    header_line: int = 0,
    start_line: int | None = None,
    limits: Limits = Limits(),
) -> Parsed:
    """Rows of table knowledge: `header_line` names the columns, data starts at `start_line`."""
    if file_type == "xlsx":
        _check_zip(content, file_type, limits)
        rows = _xlsx_rows(content, sheet, limits)
    elif file_type == "csv":
        rows = _csv_rows(_decode(content, file_type), limits)
    elif file_type == "json":
        rows = _json_rows(_json_value(_decode(content, file_type)))
    else:
        raise ParseError(f"table knowledge takes csv, xlsx or json, not .{file_type}")
    if header_line >= len(rows):
        raise ParseError(f"the table has {len(rows)} rows; header_line_idx {header_line} is past them")
    start = header_line + 1 if start_line is None else start_line
    header = [h or f"column_{i + 1}" for i, h in enumerate(rows[header_line])]
    width = len(header)
    body = [(row + [""] * width)[:width] for row in rows[start:]]
    if not body:
        raise ParseError("the table has a header but no rows")
    return Parsed(columns=header, rows=body)
