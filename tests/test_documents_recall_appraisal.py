"""Specification: the documents of 村民委员会成员罢免 and 民主评议党员, read back from their PDFs.

Each document is rendered (through the sandboxed templates, as A4 PDF with the CJK font)
from a case that a bundled scenario drove into a SQLite store; pdftotext must find the
figures the audit records hold (taken from the records here, never retyped), the words
the procedure states for its counting rule, and the head the document was built from.

- 罢免: the 要求书 names the signers, the threshold they met and the reasons; the 投票公告
  the defence (or that none was given), the ballot words and the rules as the procedure
  words them; the 结果公告 every count, the bounds and the outcome — and, for a void vote,
  only the turnout that made it void.
- 民主评议党员: the 统计表 every member's grades and findings in every assessment, the void
  one too; the 公示 each rating, the period and when it ended; the report to the higher
  committee each stage's figures and the ratings grouped by grade.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from engine.definition.loader import check_source, read_source
from engine.documents.library import CaseDocuments, case_documents
from engine.runtime.scenario import load_scenario, run_scenario
from engine.storage import open_store

ROOT = Path(__file__).resolve().parent.parent
PROCEDURES = ROOT / "procedures"
EXAMPLES = PROCEDURES / "examples"
RECALL = PROCEDURES / "villager-committee-recall.yaml"


def _pdftotext() -> str:
    found = shutil.which("pdftotext")
    if found is None:
        message = "pdftotext is missing (make system-deps installs poppler-utils)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@cache
def _case(scenario: str, tmp: Path) -> tuple[CaseDocuments, list[dict[str, Any]]]:
    """The scenario's case run into a SQLite store: its documents and its audit records."""
    loaded = load_scenario(EXAMPLES / f"{scenario}.yaml")
    url = f"sqlite:///{tmp / (scenario + '.db')}"
    store = open_store(url)
    try:
        result = run_scenario(loaded, store=store)
        assert result.ok, (result.mismatches, [s.mismatches for s in result.steps])
        docs = case_documents(store, result.opened.case, [PROCEDURES])
    finally:
        store.close()
    return docs, [dict(r) for r in result.records]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the module's stores (each scenario's case is made once)."""
    return tmp_path_factory.mktemp("recall-appraisal")


def _pdf(docs: CaseDocuments, name: str, tmp_path: Path) -> str:
    """The document's PDF text with all white space removed (pdftotext lays out columns)."""
    target = tmp_path / f"{name}.pdf"
    rendered = docs.render(name, "pdf")
    assert rendered.content.startswith(b"%PDF-")
    target.write_bytes(rendered.content)
    text = subprocess.run(
        [_pdftotext(), "-layout", target, "-"], check=True, capture_output=True, timeout=120
    ).stdout.decode("utf-8")
    return "".join(text.split())


def _count(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The last count_vote output the records hold."""
    outputs = _counts(records)
    assert outputs
    return outputs[-1]


def _counts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        a["output"] for r in records for a in r.get("actions") or () if a["name"] == "count_vote"
    ]


def _applied(records: list[dict[str, Any]], event: str) -> dict[str, Any]:
    return [r for r in records if r["event"] == event and r["kind"] != "event.refused"][-1]


# --- 村民委员会成员罢免 -----------------------------------------------------------------


def test_the_recall_declares_its_three_documents_and_all_are_ready_at_the_end(work: Path) -> None:
    """要求书 after the request, 投票公告 after the defence, 结果公告 after the announcement."""
    docs, _ = _case("villager-committee-recall-happy-path", work)
    assert [(s.name, s.title) for s in docs.available()] == [
        ("recall-request", "罢免村民委员会成员要求书"),
        ("vote-notice", "罢免投票公告"),
        ("result-notice", "罢免结果公告"),
    ]


def test_the_recall_request_names_the_signers_threshold_and_reasons(
    work: Path, tmp_path: Path
) -> None:
    """The 要求书 holds the signers and the met one-fifth threshold as recorded, the reasons,
    the contact person, and the head it was built from."""
    docs, records = _case("villager-committee-recall-happy-path", work)
    text = _pdf(docs, "recall-request", tmp_path)
    proposal = _applied(records, "propose")
    (met,) = [g for g in proposal["guards"] if g["kind"] == "threshold" and g["result"]]
    payload = proposal["payload"]
    assert "要求罢免：村民委员会成员钱委员" in text
    assert f"有选举权的村民{payload['voter_signers']}人联名" in text
    assert payload["reasons"] in text
    inputs = met["inputs"]
    assert (
        f"{met['label']}：联名的有选举权的村民{inputs['count']}人，"
        f"不少于有选举权的村民{inputs['base']}人的{inputs['fraction']}"
    ) in text
    assert f"联名代表：{proposal['actor']['id']}" in text
    assert records[-1]["hash"] in text


def test_a_request_by_representatives_says_representatives(work: Path, tmp_path: Path) -> None:
    """When one third of the representatives signed, the 要求书 counts representatives."""
    docs, records = _case(
        "villager-committee-recall-representatives-and-turnout-exactly-half", work
    )
    text = _pdf(docs, "recall-request", tmp_path)
    payload = _applied(records, "propose")["payload"]
    assert f"村民代表{payload['representative_signers']}人联名" in text
    assert "不少于村民代表45人的1/3" in text


def test_the_vote_notice_states_the_defence_and_the_rules_in_the_procedures_words(
    work: Path, tmp_path: Path
) -> None:
    """The 投票公告 quotes the defence, the ballot's words, the proxy cap and both rules as
    the counting rule ``recall`` states them."""
    docs, records = _case("villager-committee-recall-happy-path", work)
    text = _pdf(docs, "vote-notice", tmp_path)
    rule = docs.procedure.counting["recall"]
    assert _applied(records, "defend")["payload"]["statement"] in text
    assert f"“{rule.words['yes']}”“{rule.words['no']}”或“{rule.words['abstain']}”" in text
    assert f"每名受托人代投不得超过{rule.proxy_cap}票" in text
    assert rule.turnout is not None and rule.threshold is not None
    assert f"本村登记参加选举的村民1000人。{rule.turnout.label}，表决方为有效" in text
    assert f"{rule.threshold.label}，罢免要求方获通过" in text
    assert "".join(rule.basis.split()) in text


def test_a_waived_defence_is_said_so(work: Path, tmp_path: Path) -> None:
    """Without a defence the notice says the member gave none, on the day recorded."""
    docs, _ = _case("villager-committee-recall-representatives-and-turnout-exactly-half", work)
    text = _pdf(docs, "vote-notice", tmp_path)
    assert "吴委员于2025年3月6日表示不提出申辩意见" in text


def test_the_result_notice_holds_every_recorded_count(work: Path, tmp_path: Path) -> None:
    """The 结果公告 holds the people, ballots, counts and both bounds of the count_vote record,
    the invalid ballots by the procedure's reason words, and the outcome."""
    docs, records = _case("villager-committee-recall-happy-path", work)
    text = _pdf(docs, "result-notice", tmp_path)
    count = _count(records)
    people, ballots, counts = count["people"], count["ballots"], count["counts"]
    assert (
        f"{people['registered']}{people['present']}{people['proxy_votes']}{people['voters']}"
        in text
    )
    assert f"{ballots['issued']}{ballots['returned']}{ballots['valid']}{ballots['invalid']}" in text
    assert (
        f"有效票中空白票{ballots['blank']}张；无效票：署名{ballots['invalid_by_reason']['signed']}张"
        in text
    )
    assert f"{counts['yes']}{counts['no']}{counts['abstain']}" in text
    turnout, decision = count["turnout"], count["decision"]
    assert (
        f"须超过登记参加选举的村民{turnout['base_count']}人的1/2（{turnout['bound_display']}人）"
        in text
    )
    assert f"同意罢免{decision['count']}票，须超过投票的村民{decision['base_count']}人的1/2" in text
    assert f"（{decision['bound_display']}票）" in text
    assert "罢免要求获得通过。" in text
    assert "宣布：罢免通过" in text


def test_a_rejected_recall_says_it_was_not_adopted(work: Path, tmp_path: Path) -> None:
    """Exactly half of those who voted is not more than half: 罢免要求未获通过."""
    docs, records = _case("villager-committee-recall-adoption-exactly-half", work)
    text = _pdf(docs, "result-notice", tmp_path)
    count = _count(records)
    assert count["status"] == "rejected"
    assert f"同意罢免{count['decision']['count']}票" in text
    assert "罢免要求未获通过。" in text
    assert "宣布：罢免未通过" in text


def test_a_void_vote_shows_only_the_turnout_that_voided_it(work: Path, tmp_path: Path) -> None:
    """500 of 1000 registered is not more than half: the notice gives the turnout and the
    procedure's void wording, and no count (none was made)."""
    docs, records = _case(
        "villager-committee-recall-representatives-and-turnout-exactly-half", work
    )
    text = _pdf(docs, "result-notice", tmp_path)
    count = _count(records)
    assert count["status"] == "void"
    assert f"投票的村民{count['turnout']['count']}人" in text
    assert docs.procedure.counting["recall"].words["void"] in text
    assert "计票结果" not in text
    assert "宣布：表决无效" in text


# --- 民主评议党员 -----------------------------------------------------------------------


def test_the_appraisal_declares_its_three_documents_and_all_are_ready_at_the_end(
    work: Path,
) -> None:
    """统计表 once an assessment is valid, 公示 once disclosed, 报告 once reported."""
    docs, _ = _case("party-member-appraisal-happy-path", work)
    assert [(s.name, s.title) for s in docs.available()] == [
        ("assessment-tally", "民主测评票统计表"),
        ("result-notice", "民主评议党员结果公示"),
        ("report", "关于民主评议党员情况的报告"),
    ]


def test_the_tally_holds_each_members_grades_and_findings(work: Path, tmp_path: Path) -> None:
    """Each member's row is their recorded votes in each grade and their findings; the
    ballot figures and the invalid reason are the record's."""
    docs, records = _case("party-member-appraisal-happy-path", work)
    text = _pdf(docs, "assessment-tally", tmp_path)
    count = _count(records)
    grades = docs.procedure.counting["assessment"].grades
    assert "".join(grades) in text
    for member in count["members"]:
        row = member["name"] + "".join(str(member["grades"][g]) for g in grades)
        assert row + "".join(member["findings"]) in text
    ballots = count["ballots"]
    assert f"{ballots['issued']}{ballots['returned']}{ballots['valid']}{ballots['invalid']}" in text
    assert "无效测评票：署名1张" in text
    assert "可评为优秀：优秀票须达到有效测评票的2/3" in text
    assert "列为考察对象：不合格票须超过有效测评票的1/3" in text


def test_the_tally_shows_a_void_assessment_before_the_valid_one(work: Path, tmp_path: Path) -> None:
    """16 of 32 is not more than half: the first assessment is void in the procedure's words,
    the second valid with its grades."""
    docs, records = _case("party-member-appraisal-turnout-exactly-half", work)
    assert [s.name for s in docs.available()] == ["assessment-tally"]
    text = _pdf(docs, "assessment-tally", tmp_path)
    first, second = _counts(records)
    assert (first["status"], second["status"]) == ("void", "counted")
    void_words = docs.procedure.counting["assessment"].words["void"]
    assert "第1次民主测评" in text and "第2次民主测评" in text
    assert text.index(void_words) < text.index("第2次民主测评")
    for member in second["members"]:
        assert member["name"] + str(member["grades"]["优秀"]) in text


def test_the_disclosure_notice_lists_each_rating_and_its_period(work: Path, tmp_path: Path) -> None:
    """The 公示 lists each member's rating, the committee's adoption as recorded, the
    place, the 5-day period and when the timer ended it."""
    docs, records = _case("party-member-appraisal-happy-path", work)
    text = _pdf(docs, "result-notice", tmp_path)
    ratings = _applied(records, "rate")["payload"]["ratings"]
    findings = {m["name"]: "".join(m["findings"]) for m in _count(records)["members"]}
    for name, grade in ratings.items():
        assert f"{name}{grade}{findings[name]}" in text
    assert "到会支委5名，赞成4名，超过支部委员会委员6名的1/2" in text
    assert "公示期5个自然日，已于2025年1月20日09:00期满" in text
    assert _applied(records, "disclose")["payload"]["place"] in text


def test_the_report_to_the_higher_committee_holds_every_stage(work: Path, tmp_path: Path) -> None:
    """The report is addressed to the committee the record names and gives the study, the
    self-assessments, the meeting's attendance, the assessment, the ratings by grade, the
    objections and the members examined."""
    docs, records = _case("party-member-appraisal-happy-path", work)
    text = _pdf(docs, "report", tmp_path)
    report = _applied(records, "report")["payload"]
    assert text.startswith("关于民主评议党员情况的报告" + report["to"] + "：")
    assert "组织集中学习2次，学习内容：党章、支部工作条例" in text
    assert "4名党员对照合格党员标准完成个人自评" in text
    assert "应到会有表决权的党员32名，实到31名，超过应到会人数的1/2" in text
    ballots = _count(records)["ballots"]
    assert f"有效测评票{ballots['valid']}张，无效测评票{ballots['invalid']}张" in text
    assert "优秀：1名，张明。合格：2名，李华、赵强。基本合格：无。不合格：1名，王芳。" in text
    assert f"公示期间收到异议{report['objections']}件" in text
    assert "列为考察对象的党员：王芳" in text
    assert "党支部书记：陈书记" in text


# --- validate reads the counting root ------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "expected"),
    [
        (
            "counting.recal.label",
            "counting.recal does not exist (a counting rule); did you mean 'recall'?",
        ),
        ("counting.recall.wrds", "counting.recall.wrds does not exist; did you mean 'words'?"),
    ],
)
def test_validate_locates_a_misspelt_counting_read(
    tmp_path: Path, read: str, expected: str
) -> None:
    """A template reading a counting rule the procedure does not state, or a field a rule
    does not have, fails validate at the template's line."""
    target = tmp_path / RECALL.name
    target.write_text(read_source(RECALL), encoding="utf-8")
    shutil.copytree(PROCEDURES / "templates", tmp_path / "templates")
    template = tmp_path / "templates" / "villager-committee-recall-result-notice.html"
    template.write_text(f"<p>{{{{ {read} }}}}</p>\n", encoding="utf-8")
    report = check_source(target.read_text(encoding="utf-8"), str(target))
    assert [p.message for p in report.errors] == [expected]
    where = report.errors[0].location
    assert (where.file, where.line, where.path) == (str(template.resolve()), 1, "documents[2]")
