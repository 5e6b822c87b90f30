"""Documents per second: the 三荐一审两会两票决 results report, as HTML and as A4 PDF.

Issue 15 asks for the figure. A results report is one sandboxed template render
over the context built from the case's records, wrapped with its provenance and
QR code (HTML), then laid out by WeasyPrint with the embedded CJK font (PDF). The
baseline is the same template rendered by a plain (unsandboxed) Jinja2
environment over the same context, which shows what the sandbox's budget costs;
the PDF figure shows what layout costs (each PDF is laid out: the one the renderer
keeps for a page asked for again is dropped before each).

Run: ``.venv/bin/python bench/documents_bench.py [--repeat R] [--count N]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jinja2

from engine.documents.context import build_context
from engine.documents.library import CaseDocuments, case_documents
from engine.documents.render import find_spec, forget_pdfs
from engine.documents.text import FILTERS
from engine.storage import open_store

ROOT = Path(__file__).resolve().parent.parent
PROCEDURES = ROOT / "procedures"
SCENARIO = PROCEDURES / "examples" / "three-nominations-one-review-happy-path.yaml"
CASE = "2021-高新区-社区党委换届"
YISHI = Path(sys.executable).with_name("yishi")


def per_second(count: int, repeat: int, run: Callable[[], object]) -> float:
    """The best rate over ``repeat`` runs of ``count`` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(count):
            run()
        best = min(best, time.perf_counter() - start)
    return count / best


def laid_out(docs: CaseDocuments) -> object:
    """The results report as PDF, laid out: the PDF kept from the last call is dropped first."""
    forget_pdfs()
    return docs.render("results-report", "pdf")


def main() -> None:
    """Build the happy path's case, then time each way of producing its results report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        log = Path(work) / "log.jsonl"
        url = f"sqlite:///{Path(work) / 'd.db'}"
        subprocess.run([YISHI, "run", SCENARIO, "--audit", log], check=True, capture_output=True)
        subprocess.run(
            [
                YISHI,
                "case",
                "import",
                log,
                "--db",
                url,
                "--procedure",
                PROCEDURES / "three-nominations-one-review.yaml",
            ],
            check=True,
            capture_output=True,
        )
        store = open_store(url)
        docs = case_documents(store, CASE, [PROCEDURES])
        store.close()
    spec = find_spec(docs.procedure, "results-report")
    source = (docs.procedure_file.parent / spec.template).read_text(encoding="utf-8")
    plain = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    plain.filters.update(FILTERS)
    template = plain.from_string(source)

    def baseline() -> object:
        context = build_context(docs.procedure, spec, docs.records, docs.data)
        return template.render(context)

    rates = {
        "plain Jinja2 body (no sandbox, no page)": per_second(args.count, args.repeat, baseline),
        "HTML document (sandbox + page + QR)": per_second(
            args.count, args.repeat, lambda: docs.render("results-report", "html")
        ),
        "PDF document (A4, CJK font embedded)": per_second(
            max(args.count // 4, 2), args.repeat, lambda: laid_out(docs)
        ),
    }
    for name, rate in rates.items():
        print(f"{name:42s} {rate:10.1f} documents/s")
    base = rates["plain Jinja2 body (no sandbox, no page)"]
    print(f"HTML / plain body: {rates['HTML document (sandbox + page + QR)'] / base:.3f}")


if __name__ == "__main__":
    main()
