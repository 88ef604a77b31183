"""Per-chunk overhead of the provider adapters over the SDKs' own iteration.

A 5,000-delta transcript (OpenAI Chat Completions, and Anthropic Messages) is served on loopback by
the tests' wire server, running in a subprocess so that its work is not timed. Each round times
the official SDK iterating the stream by itself, then the same bytes through our model's
``stream()`` (SDK + mapping to model parts); the difference is our cost per chunk. A third number
times the sans-IO mapping alone over already-parsed chunks.

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
from openai.types.chat import ChatCompletionChunk
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


async def bench_openai(deltas: int, rounds: int) -> dict[str, float]:
    reply, chunks = openai_transcript(deltas)
    with served(reply, 2 * rounds + 2) as base_url:
        client = openai.AsyncOpenAI(api_key="k", base_url=f"{base_url}/v1")
        model = OpenAICompatible("gpt-4o-mini", client=client)

        async def sdk_only() -> int:
            create: Any = client.chat.completions.create
            stream = await create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "count"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            async with stream:
                return await _count(stream)

        async def ours() -> int:
            return await _count(model.stream(REQUEST))

        result = await _compare(sdk_only, ours, rounds)
        await client.close()
    parsed = [ChatCompletionChunk.model_validate(c) for c in chunks]

    def mapping_only() -> None:
        state = ChatStreamState()
        for c in parsed:
            state.feed(c)
        state.end()

    result["mapping_only_us"] = _sync_best(mapping_only, rounds) / len(parsed) * 1e6
    return result


async def bench_anthropic(deltas: int, rounds: int) -> dict[str, float]:
    reply, events = anthropic_transcript(deltas)
    with served(reply, 2 * rounds + 2) as base_url:
        client = anthropic.AsyncAnthropic(api_key="k", base_url=base_url)
        model = AnthropicModel("claude-sonnet-4-6", client=client)

        async def sdk_only() -> int:
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

        result = await _compare(sdk_only, ours, rounds)
        await client.close()
    from anthropic.types import RawMessageStreamEvent
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)
    parsed = [adapter.validate_python(e) for e in events]

    def mapping_only() -> None:
        state = MessagesStreamState()
        for e in parsed:
            state.feed(e)

    result["mapping_only_us"] = _sync_best(mapping_only, rounds) / len(parsed) * 1e6
    return result


async def _compare(
    sdk_only: Callable[[], Awaitable[int]],
    ours: Callable[[], Awaitable[int]],
    rounds: int,
) -> dict[str, float]:
    sdk_times: list[float] = []
    our_times: list[float] = []
    sdk_n = our_n = 0
    for i in range(rounds + 1):  # the first round warms up connections and imports
        t_sdk, sdk_n = await _timed(sdk_only)
        t_ours, our_n = await _timed(ours)
        if i:
            sdk_times.append(t_sdk)
            our_times.append(t_ours)
    # The best round of each: the SDK's own timing varies by several µs per chunk between
    # rounds, more than the difference being measured.
    sdk = min(sdk_times) / sdk_n * 1e6
    mine = min(our_times) / sdk_n * 1e6
    return {
        "sdk_chunks": sdk_n,
        "our_parts": our_n,
        "sdk_us": sdk,
        "ours_us": mine,
        "overhead_us": mine - sdk,
    }


def _sync_best(fn: Callable[[], None], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _report(name: str, r: dict[str, float]) -> None:
    print(
        f"{name:<28} SDK alone {r['sdk_us']:6.2f} µs/chunk | through stream() {r['ours_us']:6.2f} "
        f"µs/chunk | overhead {r['overhead_us']:+6.2f} µs/chunk | mapping alone "
        f"{r['mapping_only_us']:5.2f} µs/chunk  ({int(r['sdk_chunks'])} chunks -> "
        f"{int(r['our_parts'])} parts)"
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
