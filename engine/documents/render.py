"""Render a case's document as HTML or an A4 PDF, with the provenance that checks it.

The template writes the body; this module wraps it in the page every document
shares — A4, the embedded CJK font, and a provenance block the template cannot
leave out: procedure id, version and sha256, the case, the head (seq and record
hash) it was built from, how to check it, and a QR code holding the same. The
same trail always gives the same bytes: nothing here reads the clock, PDF
metadata dates come from the head record and the PDF identifier from its hash.
So the last few PDFs are kept and a request for the same page again (the
workbench's link, the API, a second download) is answered without a new layout.

``render_document`` is the one entry point the CLI, the HTTP API and the
workbench share.
"""

from __future__ import annotations

import hashlib
import html
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from engine.definition.model import DocumentSpec, Procedure
from engine.documents.check import template_path
from engine.documents.context import available, build_context
from engine.documents.libraries import import_weasyprint
from engine.documents.sandbox import DocumentSandbox, Limits, render_template
from engine.documents.text import FILTERS
from engine.errors import DocumentError as DocumentError

Format = Literal["html", "pdf"]
FONT_FAMILIES = '"Noto Serif CJK SC", "Noto Sans CJK SC", serif'
"""Debian's fonts-noto-cjk; WeasyPrint embeds the subset a PDF uses."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderedDocument:
    """A produced document and the head it was built from."""

    name: str
    title: str
    format: Format
    content: bytes
    media_type: str
    seq: int
    head: str


_PAGE_CSS = """
@page { size: A4; margin: 20mm 18mm 22mm 18mm;
  @bottom-center { content: counter(page) " / " counter(pages); font-size: 9pt; } }
html { font-family: FONTS; font-size: 11pt; line-height: 1.6; color: #000;
  overflow-wrap: anywhere; text-align: justify; }
h1 { font-size: 18pt; text-align: center; letter-spacing: 0.2em; margin: 0 0 4mm; }
h2 { font-size: 13pt; margin: 6mm 0 2mm; }
p { margin: 1mm 0; text-indent: 2em; }
p.plain { text-indent: 0; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0; }
th, td { border: 0.6pt solid #000; padding: 1.2mm 2mm; text-align: center; }
td.name, th.name { text-align: left; }
.sign { margin-top: 10mm; width: 100%; }
.sign td { border: none; text-align: left; padding: 4mm 2mm; }
.line { display: inline-block; min-width: 40mm; border-bottom: 0.6pt solid #000; }
.meta { text-align: center; font-size: 10pt; }
.provenance { margin-top: 10mm; border-top: 0.6pt solid #000; padding-top: 2mm;
  font-size: 8pt; line-height: 1.4; display: flow-root; break-inside: avoid; }
.provenance .qr { float: left; margin-right: 4mm; }
.provenance .qr svg { display: block; width: 26mm; height: 26mm; }
.provenance code { font-family: "DejaVu Sans Mono", monospace; word-break: break-all; }
""".replace("FONTS", FONT_FAMILIES)


def find_spec(procedure: Procedure, name: str) -> DocumentSpec:
    """The document named ``name``.

    Raises:
        DocumentError: when the procedure declares no such document.
    """
    for spec in procedure.documents:
        if spec.name == name:
            return spec
    names = ", ".join(s.name for s in procedure.documents) or "none"
    raise DocumentError(
        f"{procedure.id} declares no document {name!r} (it declares: {names})", "unknown"
    )


def render_document(
    *,
    procedure: Procedure,
    procedure_file: str | Path,
    records: Sequence[Mapping[str, Any]],
    data: Mapping[str, Any],
    name: str,
    format: Format = "html",
    limits: Limits | None = None,
    deadline_at: str = "",
) -> RenderedDocument:
    """Produce document ``name`` of a case from its records, as HTML or PDF.

    Args:
        procedure: the version the case runs under (its sha256 must be the records').
        procedure_file: where that version's file is; templates are found beside it.
        records: the case's audit records in seq order up to the head to build from.
        data: the case data after the last of ``records``.
        name: the document's name in the procedure's ``documents:``.
        format: ``html`` or ``pdf``.
        limits: the sandbox's limits (defaults when omitted).
        deadline_at: the current state's deadline (RFC 3339) from the case snapshot, if any.

    Raises:
        DocumentError: unknown document, not available yet, unreadable or refused template,
            or a render stopped by the sandbox (the message says why, with the template line).
    """
    spec = find_spec(procedure, name)
    if not records:
        raise DocumentError("the case has no records")
    if spec not in available(procedure, records):
        raise DocumentError(
            f"{spec.name} ({spec.title}) can be produced once the case has reached "
            f"{' or '.join(spec.after)}",
            "not-ready",
        )
    target = template_path(procedure_file, spec)
    if target is None:
        raise DocumentError(f"template {spec.template} leaves the procedure's folder")
    try:
        source = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"cannot read template {target}: {exc}") from exc
    from engine.documents.sandbox import RenderStopped, TemplateRefused

    context = build_context(procedure, spec, records, data, deadline_at)
    try:
        template = _compiled(source, str(target))
        body = render_template(template, context, limits, filename=str(target)).text
    except (TemplateRefused, RenderStopped) as exc:
        where = f"{target}:{exc.line}" if exc.line else str(target)
        raise DocumentError(f"{where}: {exc.message}") from exc
    page = _page(spec, context, body, template_sha256=hashlib.sha256(source.encode()).hexdigest())
    head = context["head"]
    if format == "html":
        content = page.encode("utf-8")
        media_type = "text/html; charset=utf-8"
    else:
        content = _pdf(page, spec, context)
        media_type = "application/pdf"
    return RenderedDocument(
        name=spec.name,
        title=spec.title,
        format=format,
        content=content,
        media_type=media_type,
        seq=head["seq"],
        head=head["hash"],
    )


_CACHE: OrderedDict[tuple[str, str], Any] = OrderedDict()
_CACHE_SIZE = 64
_CACHE_LOCK = threading.Lock()


def _compiled(source: str, filename: str) -> Any:
    """The compiled template for this exact text, compiled once (templates change rarely).

    Raises:
        TemplateRefused: as ``DocumentSandbox.compile_checked``.
    """
    key = (hashlib.sha256(source.encode("utf-8")).hexdigest(), filename)
    with _CACHE_LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
            return found
    template = DocumentSandbox(FILTERS).compile_checked(source, filename)
    with _CACHE_LOCK:
        _CACHE[key] = template
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return template


def provenance_text(context: Mapping[str, Any]) -> str:
    """What the QR code holds: enough to find and check the trail this was built from."""
    p, case, head = context["procedure"], context["case"], context["head"]
    return (
        f"yishi document\ncase: {case['id']}\nseq: {head['seq']}\nhash: {head['hash']}\n"
        f"procedure: {p['id']} {p['version']}\nsha256: {p['sha256']}"
    )


def _page(
    spec: DocumentSpec, context: Mapping[str, Any], body: str, *, template_sha256: str
) -> str:
    import segno

    p, case, head = context["procedure"], context["case"], context["head"]
    # A fixed mask: any of the eight is a valid code, and searching for the best one
    # tripled the cost of an HTML document.
    qr = segno.make(provenance_text(context), error="m", mask=0).svg_inline(scale=2, border=0)
    e = html.escape
    provenance = (
        '<div class="provenance">'
        f'<div class="qr">{qr}</div><div>'
        f"本文件由议事系统根据案件审计记录生成，所列数字均取自记录。<br>"
        f"程序：{e(p['title'])}（{e(p['id'])}，版本 {e(p['version'])}）<br>"
        f"程序 sha256：<code>{e(p['sha256'])}</code><br>"
        f"案件：{e(case['id'])}　记录序号 seq：{head['seq']}　记录时间：{e(head['at'])}<br>"
        f"记录哈希：<code>{e(head['hash'])}</code><br>"
        f"模板 sha256：<code>{template_sha256}</code><br>"
        f"核验方法：导出本案审计日志后运行 <code>yishi verify 日志文件</code>，"
        f"确认第 {head['seq']} 条记录的哈希与上列一致。"
        "</div></div>"
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="zh-CN"><head><meta charset="utf-8"><title>{e(spec.title)}</title>'
        f'<meta name="dcterms.created" content="{e(head["at"])}">'
        f'<meta name="generator" content="yishi">'
        f"<style>{_PAGE_CSS}</style></head>\n<body>\n{body}\n{provenance}\n</body></html>\n"
    )


_PDFS: OrderedDict[str, bytes] = OrderedDict()
PDFS_KEPT = 8
"""How many laid-out PDFs are kept (the most recently asked for)."""
PDF_KEPT_BYTES = 4 * 1024 * 1024
"""A PDF larger than this is not kept: the cache holds at most 32 MB."""
_PDFS_LOCK = threading.Lock()


def _pdf(page: str, spec: DocumentSpec, context: Mapping[str, Any]) -> bytes:
    """The PDF of ``page``, laid out once for each exact page and kept for the next request.

    A layout takes about a second; the same page always lays out to the same bytes
    (nothing reads the clock; dates and identifier come from the head record). The
    workbench links each document and the API serves it, so the same PDF is asked for
    again and again while the case stands still: the key is everything the bytes come
    from (the page, which holds the head, the template's sha256 and the procedure's; the
    title, the head's time and hash), so a new record or a changed template is a new page.
    """
    head = context["head"]
    key = hashlib.sha256(
        "\0".join((page, spec.title, str(head["at"]), str(head["hash"]))).encode("utf-8")
    ).hexdigest()
    with _PDFS_LOCK:
        found = _PDFS.get(key)
        if found is not None:
            _PDFS.move_to_end(key)
            return found
    pdf = _layout_pdf(page, spec, context)
    if len(pdf) <= PDF_KEPT_BYTES:
        with _PDFS_LOCK:
            _PDFS[key] = pdf
            while len(_PDFS) > PDFS_KEPT:
                _PDFS.popitem(last=False)
    return pdf


def forget_pdfs() -> None:
    """Drop the kept PDFs, so the next request lays its page out again (what a test of
    byte-identical renders needs)."""
    with _PDFS_LOCK:
        _PDFS.clear()


def _layout_pdf(page: str, spec: DocumentSpec, context: Mapping[str, Any]) -> bytes:
    try:
        weasyprint = import_weasyprint()
    except (ImportError, OSError) as exc:
        # WeasyPrint loads pango through cffi at import: a missing library is an OSError.
        raise DocumentError(
            f"PDF needs WeasyPrint and Debian's pango libraries ({exc}); HTML works without them",
            "pdf-unavailable",
        ) from exc

    from weasyprint.urls import URLFetcher

    class NoFetching(URLFetcher):  # type: ignore[misc]
        """A document reads nothing from files or the network: everything is inline."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError(f"documents load no external resources ({url[:80]})")

    document = weasyprint.HTML(string=page, url_fetcher=NoFetching()).render()
    document.metadata.title = spec.title
    document.metadata.authors = []
    document.metadata.created = context["head"]["at"]
    document.metadata.modified = context["head"]["at"]
    identifier = context["head"]["hash"][:32].encode("ascii")
    pdf: bytes = document.write_pdf(pdf_identifier=identifier)
    return pdf
