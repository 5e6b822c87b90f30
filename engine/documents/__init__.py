"""Official documents from the trail: results reports, notices and minutes.

A procedure's ``documents:`` section names each document and its template;
templates render in a sandbox (``sandbox``) over a context built from the audit
records (``context``), are checked by ``validate`` (``check``), and come out as
HTML or A4 PDF with their provenance (``render.render_document``). This
package's ``__init__`` imports nothing heavy: ``validate`` loads ``check`` without
the renderer, and PDF support (WeasyPrint) loads only when a PDF is asked for.
"""
