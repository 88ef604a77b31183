"""Per-chunk overhead of the provider adapters over the SDKs' own iteration.

A 5,000-delta transcript (OpenAI Chat Completions, and Anthropic Messages) is served on loopback by
the tests' wire server, running in a subprocess so that its work is not timed. Each round times
the official SDK iterating the stream by itself (typed chunk objects, as SDK users get them; for
OpenAI also as plain dicts, the way ``OpenAICompatible`` asks the SDK for them), then the same
bytes through our model's ``stream()`` (SDK + mapping to model parts). The last line times the
sans-IO mapping alone over already-decoded chunks.

Run: ``.venv/bin/python bench/bench_providers.py [--deltas 5000] [--rounds 7]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anthropic
import openai
from tests.models.wire_server import Reply, WireServer

from streamwise.models import ModelRequest
from streamwise.models._anthropic_stream import MessagesStreamState
from streamwise.models._openai_chat import ChatStreamState
from streamwise.models.anthropic import AnthropicModel
from streamwise.models.openai import OpenAICompatible

REQUEST: ModelRequest = {"messages": [{"role": "user", "content": "count"}], "tools": []}
SSE = [("content-type", "text/event-stream; charset=utf-8")]


def _data(obj: Any) -> str:
    return "data: " + json.dumps(obj, separators=(",", ":")) + "\n\n"


def openai_transcript(deltas: int) -> tuple[Reply, list[dict[str, Any]]]:
    """A Chat Completions stream of ``deltas`` text deltas (and its chunk objects)."""
    base = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1730980800,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_0ba0d124f1",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**base, "choices": [choice], "usage": None}

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": f" w{i}"}) for i in range(deltas)]
    chunks.append(chunk({}, "stop"))
    usage = {"prompt_tokens": 5, "completion_tokens": deltas, "total_tokens": deltas + 5}
    chunks.append({**base, "choices": [], "usage": usage})
    body = "".join(_data(c) for c in chunks) + "data: [DONE]\n\n"
    return Reply(200, "OK", SSE, body.encode()), chunks


def anthropic_transcript(deltas: int) -> tuple[Reply, list[dict[str, Any]]]:
    """A Messages stream of ``deltas`` text deltas (and its event objects)."""
    usage = {"input_tokens": 5, "output_tokens": 1}
    message: dict[str, Any] = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    events += [
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": f" w{i}"},
        }
        for i in range(deltas)
    ]
    events += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": deltas},
        },
        {"type": "message_stop"},
    ]
    body = "".join(f"event: {e['type']}\n" + _data(e) for e in events)
    return Reply(200, "OK", SSE, body.encode()), events


def _serve(conn: Connection, reply: Reply, count: int) -> None:
    asyncio.run(_serve_until_told(conn, reply, count))


async def _serve_until_told(conn: Connection, reply: Reply, count: int) -> None:
    async with WireServer() as server:
        server.queue(*[reply] * count)
        conn.send(server.port)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)


@contextlib.contextmanager
def served(reply: Reply, count: int) -> Iterator[str]:
    """The address of a wire server in a subprocess that answers ``count`` requests with ``reply``."""
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(theirs, reply, count), daemon=True)
    proc.start()
    try:
        yield f"http://127.0.0.1:{ours.recv()}"
    finally:
        ours.send("stop")
        proc.join(10)


async def _count(it: AsyncIterator[Any]) -> int:
    n = 0
    async for _ in it:
        n += 1
    return n


async def _timed(run: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    start = time.perf_counter()
    n = await run()
    return time.perf_counter() - start, n


async def bench_openai(deltas: int, rounds: int) -> list[tuple[str, dict[str, float]]]:
    reply, chunks = openai_transcript(deltas)
    with served(reply, 3 * rounds + 3) as base_url:
        client = openai.AsyncOpenAI(api_key="k", base_url=f"{base_url}/v1")
        model = OpenAICompatible("gpt-4o-mini", client=client)

        async def sdk_typed() -> int:
            # what an SDK user writes: ChatCompletionChunk objects
            create: Any = client.chat.completions.create
            stream = await create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "count"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            async with stream:
                return await _count(stream)

        async def sdk_dicts() -> int:
            # the SDK's request and event decoding that OpenAICompatible uses: plain dicts
            stream = await client.post(
                "/chat/completions",
                cast_to=dict[str, Any],
                body={"model": "gpt-4o-mini", "messages": REQUEST["messages"], "stream": True},
                options={"security": {"bearer_auth": True}},
                stream=True,
                stream_cls=openai.AsyncStream[dict[str, Any]],
            )
            async with stream:
                return await _count(stream)

        async def ours() -> int:
            return await _count(model.stream(REQUEST))

        typed, dicts, mine = await _compare([sdk_typed, sdk_dicts, ours], rounds)
        await client.close()

    def mapping_only() -> None:
        state = ChatStreamState()
        for c in chunks:
            state.feed(c)
        state.end()

    mapping = _sync_best(mapping_only, rounds) / len(chunks) * 1e6
    return [
        ("SDK, typed chunks", typed),
        ("SDK, dict chunks", dicts),
        ("OpenAICompatible.stream()", mine),
        ("mapping alone (sans-IO)", {"us": mapping, "n": len(chunks)}),
    ]


async def bench_anthropic(deltas: int, rounds: int) -> list[tuple[str, dict[str, float]]]:
    reply, events = anthropic_transcript(deltas)
    with served(reply, 2 * rounds + 2) as base_url:
        client = anthropic.AsyncAnthropic(api_key="k", base_url=base_url)
        model = AnthropicModel("claude-sonnet-4-6", client=client)

        async def sdk_typed() -> int:
            create: Any = client.messages.create
            stream = await create(
                model="claude-sonnet-4-6",
                max_tokens=4096,
                messages=[{"role": "user", "content": "count"}],
                stream=True,
            )
            async with stream:
                return await _count(stream)

        async def ours() -> int:
            return await _count(model.stream(REQUEST))

        typed, mine = await _compare([sdk_typed, ours], rounds)
        await client.close()
    from anthropic.types import RawMessageStreamEvent
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)
    parsed = [adapter.validate_python(e) for e in events]

    def mapping_only() -> None:
        state = MessagesStreamState()
        for e in parsed:
            state.feed(e)

    mapping = _sync_best(mapping_only, rounds) / len(parsed) * 1e6
    return [
        ("SDK, typed events", typed),
        ("AnthropicModel.stream()", mine),
        ("mapping alone (sans-IO)", {"us": mapping, "n": len(parsed)}),
    ]


async def _compare(runs: list[Callable[[], Awaitable[int]]], rounds: int) -> list[dict[str, float]]:
    """Each run's best time per SDK chunk over ``rounds`` interleaved rounds.

    The best round, not the median: the SDK's own timing varies between rounds by several µs
    per chunk, more than some of the differences being measured.
    """
    times: list[list[float]] = [[] for _ in runs]
    counts = [0] * len(runs)
    for i in range(rounds + 1):  # the first round warms up connections and imports
        for k, run in enumerate(runs):
            t, counts[k] = await _timed(run)
            if i:
                times[k].append(t)
    chunks = counts[0]
    return [{"us": min(t) / chunks * 1e6, "n": n} for t, n in zip(times, counts, strict=True)]


def _sync_best(fn: Callable[[], None], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _report(title: str, rows: list[tuple[str, dict[str, float]]]) -> None:
    print(title)
    base = rows[0][1]["us"]
    for name, r in rows:
        print(
            f"  {name:<28} {r['us']:7.2f} µs/chunk  ({r['us'] - base:+7.2f} vs the first)  n={int(r['n'])}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    print(f"{args.deltas} text deltas on loopback, best of {args.rounds} rounds")
    _report("openai chat completions", await bench_openai(args.deltas, args.rounds))
    _report("anthropic messages", await bench_anthropic(args.deltas, args.rounds))


if __name__ == "__main__":
    asyncio.run(main())
