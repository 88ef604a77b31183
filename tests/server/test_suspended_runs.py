"""The ``suspended-runs`` route's pure parts: its query, the wire shape of a run, the page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streamwise.agent import SuspendedRun
from streamwise.server._suspended_runs import (
    QueryError,
    SuspendedRunsQuery,
    suspended_runs_page,
    wire_run,
)


def _run(run_id: str, second: int) -> SuspendedRun:
    return SuspendedRun(
        run_id=run_id,
        suspended_at=datetime(2025, 1, 2, 3, 4, second, 678_000, UTC),
        thread_id=None,
        resource_id=None,
        tool_calls=[{"toolCallId": "p1", "toolName": "pay", "args": {"id": "inv-7"},
                     "kind": "suspended", "suspendPayload": {"reason": "pay?"}}],
    )  # fmt: skip


def test_wire_run_of_a_suspended_tool_carries_its_payload() -> None:
    assert wire_run(_run("r", 5)) == {
        "runId": "r",
        "status": "suspended",
        "suspendedAt": "2025-01-02T03:04:05.678Z",
        "toolCalls": [{"toolCallId": "p1", "toolName": "pay", "args": {"id": "inv-7"},
                       "requiresApproval": False, "suspendPayload": {"reason": "pay?"}}],
    }  # fmt: skip


def test_query_reads_dates_with_or_without_offset_and_ignores_request_context() -> None:
    query = SuspendedRunsQuery.parse(
        {
            "fromDate": "2025-01-02T03:04:06Z",
            "toDate": "2025-01-02T03:04:07",
            "requestContext": "e30=",
        }
    )
    assert query.from_date == datetime(2025, 1, 2, 3, 4, 6, tzinfo=UTC)
    assert query.to_date == datetime(2025, 1, 2, 3, 4, 7, tzinfo=UTC)
    assert (query.per_page, query.page, query.thread_id) == (None, None, None)
    runs = [_run("a", 5), _run("b", 6), _run("c", 7)]  # oldest first
    page = suspended_runs_page(runs, query)
    assert [r["runId"] for r in page["runs"]] == ["b"]  # c is 0.678 s past toDate
    assert page["total"] == 1


def test_page_is_cut_newest_first_only_with_both_page_and_per_page() -> None:
    runs = [_run("a", 5), _run("b", 6), _run("c", 7)]
    cut = suspended_runs_page(runs, SuspendedRunsQuery(per_page=2, page=1))
    assert ([r["runId"] for r in cut["runs"]], cut["total"]) == (["a"], 3)
    whole = suspended_runs_page(runs, SuspendedRunsQuery(page=1))
    assert [r["runId"] for r in whole["runs"]] == ["c", "b", "a"]


@pytest.mark.parametrize(
    ("params", "named"),
    [({"perPage": "0"}, "perPage"), ({"page": "-1"}, "page"), ({"toDate": "soon"}, "toDate")],
)
def test_query_errors_name_the_parameter(params: dict[str, str], named: str) -> None:
    with pytest.raises(QueryError, match=named):
        SuspendedRunsQuery.parse(params)
