"""``GET /api/agents/:agentId/suspended-runs``: the runs that wait for a human, as Mastra
lists them.

``@mastra/client-js``'s ``agent.listSuspendedRuns({threadId, resourceId, fromDate, toDate,
perPage, page})`` calls this route and reads ``{runs: [{runId, status: 'suspended', threadId?,
resourceId?, suspendedAt, toolCalls: [{toolCallId, toolName, args, requiresApproval,
suspendPayload?}]}], total}``. As in Mastra, the runs are newest first, ``total`` counts the
matching runs before pagination, and a page is cut only when both ``perPage`` and ``page``
(0-based) are given. The query parsing and the wire shape are pure; the route is a thin shell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..agent import SuspendedRun
from ._responses import error_response, json_response
from ._state import ServerState

__all__ = (
    "QueryError",
    "SuspendedRunsQuery",
    "list_suspended_runs",
    "suspended_runs_page",
    "wire_run",
)


class QueryError(ValueError):
    """A query parameter that cannot be read; the message names it."""


@dataclass(frozen=True, slots=True)
class SuspendedRunsQuery:
    """The filters and page of a ``suspended-runs`` request."""

    thread_id: str | None = None
    resource_id: str | None = None
    from_date: datetime | None = None
    to_date: datetime | None = None
    per_page: int | None = None
    page: int | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> SuspendedRunsQuery:
        """Read the query string (unknown keys, such as ``requestContext``, are ignored).

        Raises:
            QueryError: a date is not ISO 8601, ``perPage`` is not a positive integer or
                ``page`` not a non-negative one.
        """
        return cls(
            thread_id=params.get("threadId") or None,
            resource_id=params.get("resourceId") or None,
            from_date=_date(params, "fromDate"),
            to_date=_date(params, "toDate"),
            per_page=_int(params, "perPage", minimum=1),
            page=_int(params, "page", minimum=0),
        )

    def keeps(self, run: SuspendedRun) -> bool:
        """Whether ``run`` passes the date filters (inclusive)."""
        if self.from_date is not None and run.suspended_at < self.from_date:
            return False
        return self.to_date is None or run.suspended_at <= self.to_date


def _date(params: Mapping[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise QueryError(f"invalid query: {name} (an ISO 8601 date)") from None
    # A date without an offset is read as UTC, as JavaScript's toISOString writes them.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _int(params: Mapping[str, str], name: str, *, minimum: int) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) < minimum:
        what = "a positive integer" if minimum else "a non-negative integer"
        raise QueryError(f"invalid query: {name} ({what})")
    return int(raw)


def _iso(at: datetime) -> str:
    """``2025-01-02T03:04:05.678Z``, the form of JavaScript's ``Date.toISOString``."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def wire_run(run: SuspendedRun) -> dict[str, Any]:
    """One run in the route's JSON shape."""
    calls: list[dict[str, Any]] = []
    for call in run.tool_calls:
        wire: dict[str, Any] = {
            "toolCallId": call["toolCallId"],
            "toolName": call["toolName"],
            "args": call["args"],
            "requiresApproval": call["kind"] == "approval",
        }
        if call.get("suspendPayload") is not None:
            wire["suspendPayload"] = call["suspendPayload"]
        calls.append(wire)
    item: dict[str, Any] = {"runId": run.run_id, "status": "suspended"}
    if run.thread_id is not None:
        item["threadId"] = run.thread_id
    if run.resource_id is not None:
        item["resourceId"] = run.resource_id
    item["suspendedAt"] = _iso(run.suspended_at)
    item["toolCalls"] = calls
    return item


def suspended_runs_page(runs: Sequence[SuspendedRun], query: SuspendedRunsQuery) -> dict[str, Any]:
    """``{runs, total}`` for runs listed oldest first (``Agent.list_suspended``): filtered by
    date, newest first, then cut to the page."""
    kept = [r for r in reversed(runs) if query.keeps(r)]
    total = len(kept)
    if query.per_page is not None and query.page is not None:
        start = query.page * query.per_page
        kept = kept[start : start + query.per_page]
    return {"runs": [wire_run(r) for r in kept], "total": total}


async def list_suspended_runs(state: ServerState, request: Request) -> Response:
    """The route: the agent's suspended runs, stored (any process's) and held here."""
    agent_id = request.path_params["agent_id"]
    agent = state.agent(agent_id)
    if agent is None:
        return error_response(404, f"agent {agent_id!r} not found")
    try:
        query = SuspendedRunsQuery.parse(request.query_params)
    except QueryError as exc:
        return error_response(400, str(exc))
    runs = await agent.list_suspended(thread_id=query.thread_id, resource_id=query.resource_id)
    return json_response(suspended_runs_page(runs, query))
