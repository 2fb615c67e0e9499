"""`kimi-review eval` end to end in-process: fixture cases, a served snapshot, a fake Kimi
answering both the reviews and the judge."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli.eval import compare_command, eval_command, run_eval_command
from tests.fakes.model_replies import Reply, is_verify_request, kimi_error, kimi_ok
from tests.fakes.model_servers import FakeKimi
from tests.support.env import MODEL_KEY
from tests.support.eval_world import (
    ARCHIVES,
    copy_dataset,
    eval_responder,
    file_server,
    is_judge_call,
)
from tests.support.processes import KIMI_REVIEW
from worker.config import Settings, load_settings
from worker.eval.report import encode_report, load_report

pytestmark = pytest.mark.e2e


@pytest.fixture
def dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with file_server(ARCHIVES) as base_url:
        yield copy_dataset(tmp_path / "devset", base_url)


@pytest.fixture
def kimi() -> Iterator[FakeKimi]:
    with FakeKimi(api_key=MODEL_KEY, responder=eval_responder()) as server:
        yield server


def _settings(kimi: FakeKimi, **extra: str) -> Settings:
    env = {"API_OPEN_AI_API_KEY": MODEL_KEY, "API_OPENAI_FORCE_BASE_URL": kimi.base_url}
    # One call per chunk, as these tests count; verification: test_review_verify.py.
    env["API_LLM_VERIFY"] = "off"
    return load_settings({**env, **extra})


def _args(root: Path, *flags: str) -> argparse.Namespace:
    from app.cli import _parser

    return _parser().parse_args(["eval", str(root), *flags])


async def _eval(settings: Settings, root: Path, *flags: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await eval_command(settings, _args(root, *flags), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


async def test_scores_follow_the_judges_matches(dataset: Path, kimi: FakeKimi) -> None:
    code, out, err = await _eval(_settings(kimi), dataset, "--json")
    assert code == 2  # zz-bad-case is invalid: reported, skipped, the run still done
    assert "case zz-bad-case skipped: expected[0].severity: missing" in err
    report = json.loads(out)
    app, lib = report["cases"]
    # 1 expected issue, matched by one of 2 findings: P 0.5, R 1.0.
    assert (app["id"], app["status"], app["found"]) == ("app-total-off-by-one", "judged", 1)
    assert (app["precision"], app["recall"]) == (0.5, 1.0)
    assert app["f1"] == pytest.approx(2 / 3)
    assert app["snapshot"] == "used"
    # The judge gave F0 to both expected issues: a finding counts once.
    assert [m["finding"] for m in lib["matches"]] == [0, None]
    assert lib["matches"][1]["reason"].startswith(
        "F0 already counted for an earlier expected issue"
    )
    assert app["findings"][app["matches"][0]["finding"]]["title"] == "Off by one"
    assert (lib["found"], lib["precision"], lib["recall"]) == (1, 1.0, 0.5)
    assert lib["snapshot"] == "none"
    totals = report["totals"]
    assert (totals["found"], totals["findings"], totals["expected"]) == (2, 3, 3)
    assert totals["precision"] == pytest.approx(2 / 3)
    assert totals["macro_f1"] == pytest.approx(2 / 3)
    assert totals["findings_per_pr"] == 1.5
    assert totals["invalid"] == ["zz-bad-case"]
    # Review and judge calls are counted apart: one review and one judge call per case.
    assert app["review_tokens"] == {"prompt": 1200, "cached": 800, "completion": 300, "calls": 1}
    assert app["judge_tokens"] == {"prompt": 500, "cached": 0, "completion": 50, "calls": 1}
    assert totals["judge_tokens"]["calls"] == 2
    assert len(kimi.requests) == 4
    unpacked = dataset.parent / "cache" / "kimi-review" / "snapshots"
    [tree] = unpacked.iterdir()
    assert (tree / "src" / "app.py").read_text().startswith("def total")


async def test_no_judge_collects_findings_and_cost_only(dataset: Path, kimi: FakeKimi) -> None:
    code, out, _ = await _eval(_settings(kimi), dataset / "app-total-off-by-one", "--no-judge")
    assert code == 0
    assert not any(is_judge_call(r.body) for r in kimi.requests)
    assert "app-total-off-by-one  2 findings  in 1,200 (cached 800) out 300  1 calls" in out
    assert "P " not in out
    assert "judge: in 0" in out


async def test_the_review_sees_the_snapshot_as_context(dataset: Path, kimi: FakeKimi) -> None:
    """An eval reviewed the diff alone, unlike the App: the snapshot never reached the model."""
    code, _, _ = await _eval(_settings(kimi), dataset / "app-total-off-by-one", "--no-judge")
    assert code == 0
    [review] = [r.body for r in kimi.requests if not is_judge_call(r.body)]
    user = review["messages"][-1]["content"]
    assert "<<<UNTRUSTED context" in user
    assert "SNIPPET main.py:2-4 (why: caller of `total`" in user
    assert "3| print(total([1, 2, 3]))" in user


async def test_offline_reviews_without_the_snapshot_and_says_so(
    dataset: Path, kimi: FakeKimi
) -> None:
    code, out, _ = await _eval(
        _settings(kimi), dataset / "app-total-off-by-one", "--offline", "--no-judge"
    )
    assert code == 0
    assert "snapshot: offline" in out


async def test_a_bad_sha256_runs_the_case_without_its_snapshot(
    dataset: Path, kimi: FakeKimi
) -> None:
    case = dataset / "app-total-off-by-one" / "case.toml"
    case.write_text(case.read_text().replace("f68965102ab4", "0" * 12))
    code, out, _ = await _eval(_settings(kimi), case.parent, "--no-judge")
    assert code == 0
    assert "snapshot: unavailable: sha256 mismatch" in out


async def test_unparsable_judge_is_asked_again_then_the_case_is_unjudged(
    dataset: Path,
) -> None:
    def garbage(body: object) -> Reply:
        return kimi_ok("I think the first finding matches.")

    with FakeKimi(api_key=MODEL_KEY, responder=eval_responder(judge=garbage)) as kimi:
        code, out, _ = await _eval(_settings(kimi), dataset / "lib-parse-port", "--json")
        judge_calls = [r for r in kimi.requests if is_judge_call(r.body)]
    assert code == 0
    [case] = json.loads(out)["cases"]
    assert case["status"] == "unjudged"
    assert "unusable twice" in case["error"]
    assert len(judge_calls) == 2
    assert "could not be used" in judge_calls[1].body["messages"][-1]["content"]
    assert json.loads(out)["totals"]["unjudged"] == ["lib-parse-port"]


async def test_a_report_round_trips_and_two_runs_compare(
    dataset: Path, kimi: FakeKimi, tmp_path: Path
) -> None:
    a_path, b_path = tmp_path / "a.json", tmp_path / "b.json"
    code, _, _ = await _eval(_settings(kimi), dataset, "--json", str(a_path))
    assert code == 2
    report = load_report(a_path)
    assert encode_report(report) == a_path.read_bytes()  # the schema round-trips
    kimi.responder = eval_responder(judge=lambda body: _all_missed(body))
    await _eval(_settings(kimi), dataset, "--json", str(b_path))
    out, err = io.StringIO(), io.StringIO()
    assert compare_command(str(a_path), str(b_path), out, err) == 0
    rows = {line.split("  ")[0]: " ".join(line.split()) for line in out.getvalue().splitlines()}
    assert rows["app-total-off-by-one"] == (
        "app-total-off-by-one 50.0% -> 0.0% (-50.0 pt) 100.0% -> 0.0% (-100.0 pt) "
        "66.7% -> 0.0% (-66.7 pt) 2 -> 2 (+0) 1,500 -> 1,500 (+0)"
    )
    assert rows["TOTAL (micro; findings per PR)"].endswith(
        "66.7% -> 0.0% (-66.7 pt) 1.5 -> 1.5 (+0.0) 3,000 -> 3,000 (+0)"
    )


def _all_missed(body: object) -> Reply:
    user = "".join(m["content"] for m in body["messages"] if m["role"] == "user")  # type: ignore[index]
    count = user.count("[E")
    matches = [{"expected": n, "finding": None, "reason": "no"} for n in range(count)]
    return kimi_ok(json.dumps({"matches": matches}))


def test_compare_refuses_a_file_that_is_not_a_report(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    out, err = io.StringIO(), io.StringIO()
    assert compare_command(str(bad), str(bad), out, err) == 2
    assert "not a kimi-review eval report" in err.getvalue()


async def test_judge_calls_fail_over_like_review_calls(dataset: Path, kimi: FakeKimi) -> None:
    """The main key refused: the breaker opens and the fallback serves reviews and the judge."""
    kimi.script(kimi_error(401, "invalid_authentication_error", "Invalid Authentication"))
    with FakeKimi(api_key="sk-fallback-0123456789", responder=eval_responder()) as fallback:
        settings = _settings(
            kimi,
            API_LLM_FALLBACK_MODEL="kimi-k2-turbo-preview",
            API_LLM_FALLBACK_BASE_URL=fallback.base_url,
            API_LLM_FALLBACK_API_KEY="sk-fallback-0123456789",
        )
        code, out, _ = await _eval(settings, dataset / "app-total-off-by-one", "--json")
        served = [is_judge_call(r.body) for r in fallback.requests]
    assert code == 0
    [case] = json.loads(out)["cases"]
    assert (case["status"], case["precision"], case["recall"]) == ("judged", 0.5, 1.0)
    assert served == [False, True]
    assert len(kimi.requests) == 1  # no new call on a refused key


async def test_a_judge_of_its_own_is_called_there_and_named(dataset: Path, kimi: FakeKimi) -> None:
    with FakeKimi(api_key="sk-judge-0123456789", responder=eval_responder()) as judge:
        settings = _settings(
            kimi,
            API_LLM_JUDGE_MODEL="judge-model",
            API_LLM_JUDGE_BASE_URL=judge.base_url,
            API_LLM_JUDGE_API_KEY="sk-judge-0123456789",
        )
        code, out, _ = await _eval(settings, dataset / "app-total-off-by-one", "--json")
        assert [r.body["model"] for r in judge.requests] == ["judge-model"]
    assert code == 0
    assert json.loads(out)["judge_model"] == "judge-model"
    assert not any(is_judge_call(r.body) for r in kimi.requests)


def test_the_command_line_dispatches_eval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kimi: FakeKimi
) -> None:
    def settings() -> Settings:
        return _settings(kimi)

    assert run_eval_command(_args(tmp_path / "nope"), settings) == 2
    assert "not a directory" in capsys.readouterr().err
    assert run_eval_command(_args(tmp_path), settings) == 2
    assert "no usable case" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    env = {"PATH": "/usr/bin:/bin"}  # --compare needs no model key
    command = [str(KIMI_REVIEW), "eval", "--compare", str(bad), str(bad)]
    refused = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert refused.returncode == 2
    assert "not a kimi-review eval report" in refused.stderr


async def test_findings_dropped_by_verification_are_listed_and_not_scored(dataset: Path) -> None:
    def judge(body: object) -> Reply:
        match = {"expected": 0, "finding": 0, "reason": "same problem"}
        return kimi_ok(json.dumps({"matches": [match]}), prompt=500, completion=50, cached=0)

    reviews = eval_responder(judge)
    drop_style = {"verdicts": [{"id": 2, "verdict": "drop", "reason": "taste"}]}

    def answer(body: Any) -> Reply:
        return kimi_ok(json.dumps(drop_style)) if is_verify_request(body) else reviews(body)

    with FakeKimi(api_key=MODEL_KEY, responder=answer) as kimi:
        settings = _settings(kimi, API_LLM_VERIFY="on")
        code, out, _ = await _eval(settings, dataset / "app-total-off-by-one", "--json")
    assert code == 0
    [case] = json.loads(out)["cases"]
    assert [f["title"] for f in case["findings"]] == ["Off by one"]
    assert [f["title"] for f in case["dropped_by_verification"]] == ["Name s is unclear"]
    assert (case["precision"], case["recall"]) == (1.0, 1.0)  # the dropped one is not scored
    assert case["review_tokens"]["calls"] == 2  # the finder and the verifier
