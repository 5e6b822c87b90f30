"""The workbench's documents: the case page lists them, and a session reads them like the API.

Each bundled happy path is run with ``yishi run`` and imported into SQLite, as
the document tests do; the pages are then read in process. The rules pinned:
the section lists exactly the documents the case has reached (with an HTML and
a PDF link) and names the states the others wait for; a PDF from the page is
byte for byte the API's (and so the CLI's) render; names not declared or not
reached are 404; the read check is the API's (units, auditor may read); no
session is sent to sign in; and a document's HTML is served under a policy that
lets nothing in it run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from cli_support import completed
from fastapi.testclient import TestClient
from server_support import ADMIN_TOKEN, auth, client

from engine.documents.library import case_documents
from engine.server import Principal
from engine.storage import open_store
from engine.web.pages_documents import DOCUMENT_CSP, disposition
from engine.web.sessions import SESSION_COOKIE, SessionTable

ROOT = Path(__file__).resolve().parent.parent
PROCEDURES = ROOT / "procedures"
EXAMPLES = PROCEDURES / "examples"
THREE = "three-nominations-one-review"
FOUR = "four-deliberations-two-disclosures"
THREE_CASE = "2021-gaoxin-election"
FOUR_CASE = "2024-柳树村-道路硬化"
"""Kept in Chinese, so the link and the file name carry non-ASCII text."""
HREF = re.compile(r'href="(/ui/cases/[^"]+/documents/[^"]+)"')


def _import(work: Path, scenario: Path, procedure: str, case: str, keep: int | None) -> str:
    """Run ``scenario`` as case ``case``; import its first ``keep`` records (all: None)."""
    text = scenario.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^case: .*$", f"case: {case}", text)
    moved = work / scenario.name
    moved.write_text(text.replace("procedure: ../", f"procedure: {PROCEDURES}/"), "utf-8")
    log = work / f"{scenario.stem}.jsonl"
    completed("run", moved, "--audit", log).check_returncode()
    if keep is not None:
        lines = log.read_bytes().splitlines(keepends=True)[:keep]
        log.write_bytes(b"".join(lines))
    url = f"sqlite:///{work / (scenario.stem + '.db')}"
    imported = completed("case", "import", log, "--db", url, "--procedure",
                         PROCEDURES / f"{procedure}.yaml")  # fmt: skip
    imported.check_returncode()
    return url


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> str:
    """三荐一审's happy path, to its end."""
    work = tmp_path_factory.mktemp("three")
    return _import(work, EXAMPLES / f"{THREE}-happy-path.yaml", THREE, THREE_CASE, None)


@pytest.fixture(scope="module")
def four(tmp_path_factory: pytest.TempPathFactory) -> str:
    """四议两公开's happy path, to its end."""
    work = tmp_path_factory.mktemp("four")
    return _import(work, EXAMPLES / "four-deliberations-happy-path.yaml", FOUR, FOUR_CASE, None)


@pytest.fixture(autouse=True)
def _folders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YISHI_PROCEDURES", str(PROCEDURES))


def _signed_in(url: str, who: Principal) -> TestClient:
    """A client over the store at ``url`` whose browser holds a session of ``who``."""
    sessions = SessionTable()
    http = client(open_store(url), sessions=sessions)
    http.cookies.set(SESSION_COOKIE, sessions.open(who).id)
    return http


def _page(http: TestClient, case: str) -> str:
    answer = http.get(f"/ui/cases/{quote(case)}")
    assert answer.status_code == 200, answer.text
    return answer.text


def _section(html: str) -> str:
    found = re.search(r'<section class="card" id="documents">(.*?)</section>', html, re.S)
    assert found is not None, "the case page has no documents section"
    return found.group(1)


OPS = Principal(actor="ops", admin=True)


def _declared(url: str, case: str) -> list[str]:
    store = open_store(url)
    try:
        return [s.name for s in case_documents(store, case, [PROCEDURES]).procedure.documents]
    finally:
        store.close()


@pytest.mark.parametrize(("name", "case"), [("three", THREE_CASE), ("four", FOUR_CASE)])
def test_at_its_end_the_case_page_links_every_declared_document_in_html_and_pdf(
    name: str, case: str, request: pytest.FixtureRequest
) -> None:
    """Every document a finished happy path has reached is listed with its HTML and PDF links."""
    url = request.getfixturevalue(name)
    section = _section(_page(_signed_in(url, OPS), case))
    declared = _declared(url, case)
    assert declared, "the bundled procedure declares documents"
    links = set(HREF.findall(section))
    for doc in declared:
        base = f"/ui/cases/{quote(case)}/documents/{doc}"
        assert {f"{base}.html", f"{base}.pdf"} <= links, (doc, links)
    assert 'id="documents-waiting"' not in section and 'id="no-documents"' not in section


def test_each_link_on_the_page_answers_the_document(four: str) -> None:
    """The links the page draws are the links the route serves (non-ASCII case id included)."""
    http = _signed_in(four, OPS)
    links = HREF.findall(_section(_page(http, FOUR_CASE)))
    assert len(links) == 2 * len(_declared(four, FOUR_CASE))
    for link in links:
        answer = http.get(link)
        assert answer.status_code == 200, (link, answer.text)
        expected = "application/pdf" if link.endswith(".pdf") else "text/html"
        assert answer.headers["content-type"].startswith(expected)


def test_a_case_part_way_lists_what_it_has_and_names_the_states_the_rest_wait_for(
    tmp_path: Path,
) -> None:
    """Before 'resolved' no document is ready; each is named with the states it waits for."""
    url = _import(tmp_path, EXAMPLES / "four-deliberations-happy-path.yaml", FOUR, "part", 2)
    http = _signed_in(url, OPS)
    section = _section(_page(http, "part"))
    assert 'id="no-documents"' in section and not HREF.findall(section)
    waiting = re.search(r'id="wait-meeting-minutes">(.*?)</li>', section, re.S)
    assert waiting is not None and "resolved" in waiting.group(1)
    notice = re.search(r'id="wait-result-notice">(.*?)</li>', section, re.S)
    assert notice is not None
    assert "result_disclosed" in notice.group(1) and "result_disclosed_working" in notice.group(1)
    refused = http.get("/ui/cases/part/documents/meeting-minutes.pdf")
    assert refused.status_code == 404


def test_the_pdf_from_the_page_is_byte_for_byte_the_apis_and_the_clis(
    three: str, tmp_path: Path
) -> None:
    """One render: the page's PDF equals the API's answer and ``yishi document``'s file."""
    http = _signed_in(three, OPS)
    page = http.get(f"/ui/cases/{THREE_CASE}/documents/results-report.pdf")
    assert page.status_code == 200
    assert page.headers["content-type"] == "application/pdf"
    api = http.get(
        f"/cases/{THREE_CASE}/documents/results-report?format=pdf", headers=auth(ADMIN_TOKEN)
    )
    assert api.status_code == 200 and page.content == api.content
    assert page.headers["x-yishi-head"] == api.headers["x-yishi-head"]
    written = tmp_path / "report.pdf"
    completed("document", THREE_CASE, "--name", "results-report", "--db", three,
              "--format", "pdf", "--procedures", PROCEDURES, "--out", written,
              ).check_returncode()  # fmt: skip
    assert written.read_bytes() == page.content


def test_the_download_is_named_in_ascii_and_in_utf8() -> None:
    """Content-Disposition has an ASCII ``filename`` and the RFC 5987 ``filename*`` in UTF-8."""
    header = disposition("attachment", "选举结果报告单", "2024-柳树村", "results-report", "pdf")
    plain = re.search(r'filename="([^"]*)"', header)
    utf8 = re.search(r"filename\*=UTF-8''(\S+)$", header)
    assert plain is not None and utf8 is not None
    assert plain.group(1) == "2024-___-results-report.pdf" and plain.group(1).isascii()
    assert unquote(utf8.group(1)) == "选举结果报告单-2024-柳树村.pdf"
    assert utf8.group(1).isascii() and '"' not in utf8.group(1)


def test_the_route_names_the_file_and_shows_html_inline_and_pdf_as_a_download(three: str) -> None:
    """HTML is shown inline and the PDF downloaded, each named after the document's title."""
    http = _signed_in(three, OPS)
    html = http.get(f"/ui/cases/{THREE_CASE}/documents/results-report.html")
    pdf = http.get(f"/ui/cases/{THREE_CASE}/documents/results-report.pdf")
    assert html.headers["content-disposition"].startswith("inline; ")
    assert pdf.headers["content-disposition"].startswith("attachment; ")
    assert quote("选举结果报告单") in pdf.headers["content-disposition"]
    assert f'filename="{THREE_CASE}-results-report.pdf"' in pdf.headers["content-disposition"]


def test_a_documents_html_runs_nothing(three: str) -> None:
    """The HTML holds no script and is served with no script source, sandboxed, unframeable."""
    http = _signed_in(three, OPS)
    answer = http.get(f"/ui/cases/{THREE_CASE}/documents/election-minutes.html")
    assert answer.status_code == 200
    policy = answer.headers["content-security-policy"]
    assert policy == DOCUMENT_CSP
    directives = {d.strip().split(" ")[0]: d.strip() for d in policy.split(";")}
    assert directives["default-src"] == "default-src 'none'"
    assert "script-src" not in directives, "no script source: default-src 'none' applies"
    assert directives["sandbox"] == "sandbox", "sandboxed without allow-scripts"
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert answer.headers["x-content-type-options"] == "nosniff"
    text = answer.text.lower()
    assert "<script" not in text and "javascript:" not in text
    assert not re.search(r"\son[a-z]+\s*=", text), "no event-handler attribute"


@pytest.mark.parametrize("suffix", ["html", "pdf"])
def test_names_not_declared_and_other_suffixes_are_404(three: str, suffix: str) -> None:
    """An undeclared name, a bad suffix and an unknown case are 404, never a 500."""
    http = _signed_in(three, OPS)
    assert http.get(f"/ui/cases/{THREE_CASE}/documents/nope.{suffix}").status_code == 404
    assert http.get(f"/ui/cases/{THREE_CASE}/documents/results-report.docx").status_code == 404
    assert http.get(f"/ui/cases/no-such-case/documents/results-report.{suffix}").status_code == 404


VILLAGE = "柳河县/城关镇/柳树村"


@pytest.fixture(scope="module")
def in_village(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """三荐一审's happy path run to its end as a case of 柳树村: (store URL, case id).

    A scenario opens its case in no unit, so the run's engine opens it in the village.
    """
    from engine.runtime import scenario as scenario_module
    from engine.runtime.engine import Engine

    class VillageEngine(Engine):
        def open_case(self, *args: Any, **kwargs: Any) -> Any:
            return super().open_case(*args, **{**kwargs, "unit": VILLAGE})

    url = f"sqlite:///{tmp_path_factory.mktemp('village') / 'v.db'}"
    store = open_store(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scenario_module, "Engine", VillageEngine)
        result = scenario_module.run_scenario(
            scenario_module.load_scenario(EXAMPLES / f"{THREE}-happy-path.yaml"), store=store
        )
    store.close()
    assert not result.mismatches
    return url, str(result.scenario.body["case"])


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (Principal(actor="村书记", roles=("branch_secretary",), units=(VILLAGE,)), 200),
        (Principal(actor="镇干部", roles=("branch_secretary",), units=("柳河县/城关镇",)), 200),
        (Principal(actor="审计员", auditor=True, units=("柳河县",)), 200),
        (
            Principal(
                actor="邻村书记", roles=("branch_secretary",), units=("柳河县/城关镇/杨树村",)
            ),
            403,
        ),
        (Principal(actor="外县审计", auditor=True, units=("别县",)), 403),
    ],
    ids=["own-village", "its-town", "county-auditor", "next-village", "other-county-auditor"],
)
def test_reading_a_document_follows_the_apis_unit_rule(
    in_village: tuple[str, str], who: Principal, status: int
) -> None:
    """Units covering the case's unit may read (an auditor too); any other unit gets 403."""
    url, case = in_village
    path = f"/ui/cases/{quote(case)}/documents/results-report.pdf"
    answer = _signed_in(url, who).get(path)
    assert answer.status_code == status, answer.text
    if status == 200:
        assert answer.content.startswith(b"%PDF-")
    else:
        assert b"%PDF" not in answer.content


@pytest.mark.parametrize("suffix", ["html", "pdf"])
def test_without_a_session_a_document_request_is_sent_to_sign_in(three: str, suffix: str) -> None:
    """No session: a 303 to the sign-in page that comes back to the document; no bytes."""
    http = client(open_store(three), sessions=SessionTable())
    path = f"/ui/cases/{THREE_CASE}/documents/results-report.{suffix}"
    answer = http.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/ui/signin?next={quote(path, safe='/')}"
    assert b"%PDF" not in answer.content


def test_the_audit_log_of_the_imported_case_is_the_one_documents_are_built_from(three: str) -> None:
    """The head the document names is the head the case page shows."""
    http = _signed_in(three, OPS)
    pdf = http.get(f"/ui/cases/{THREE_CASE}/documents/results-report.pdf")
    lines = http.get(f"/ui/cases/{THREE_CASE}/audit.jsonl").content.splitlines()
    head = json.loads(lines[-1])
    assert pdf.headers["x-yishi-head"] == f"{head['seq']} {head['hash']}"
