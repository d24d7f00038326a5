"""Documents for knowledge tests, made in memory: pdf (written by hand: pypdf reads but does not
lay out text), docx (python-docx), xlsx (openpyxl), and hostile ones (zip bombs)."""

from __future__ import annotations

import io
import zipfile


def pdf(pages: list[str]) -> bytes:
    """A valid PDF with one line of Helvetica text per page (identical pages share a stream)."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled below, once the page tree's number is known
    tree = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    streams: dict[str, int] = {}
    kids = []
    for text in pages:
        if text not in streams:
            escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")
            content = b"BT /F1 12 Tf 40 700 Td (" + escaped + b") Tj ET"
            streams[text] = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (tree, streams[text], font)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = (
        b"<< /Type /Pages /Count %d /Kids [" % len(kids) + b" ".join(b"%d 0 R" % k for k in kids) + b"] >>"
    )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        catalog,
        xref,
    )
    return bytes(out)


def docx(paragraphs: list[tuple[str, str]], table: list[list[str]] | None = None) -> bytes:
    """(style, text) paragraphs, e.g. ("Heading 1", "Returns"), ("Normal", "...")."""
    import docx as python_docx

    document = python_docx.Document()
    for style, text in paragraphs:
        document.add_paragraph(text, style=style)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx(rows: list[list], sheets: int = 1) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    for index in range(sheets):
        sheet = book.active if index == 0 else book.create_sheet(f"Sheet{index + 1}")
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def zip_bomb_docx(expanded_bytes: int = 20 * 1024 * 1024) -> bytes:
    """A real docx with one extra part of zeros that expands about a thousand times."""
    source = zipfile.ZipFile(io.BytesIO(docx([("Normal", "harmless")])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, source.read(item))
        target.writestr("word/media/padding.bin", b"\0" * expanded_bytes)
    return out.getvalue()
