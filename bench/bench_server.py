"""Chunks per second from the server to ``@mastra/client-js`` over loopback.

An agent streams ``--deltas`` text deltas (scripted model, no delay) from a uvicorn server in
this process to the real client-js in Node. Three readings of the same 10,006-chunk run:

- ``stream``: ``agent.stream()`` + ``processDataStream`` — client-js also tees the body into
  ``processChatResponse_vNext``, which runs ``structuredClone`` on the whole growing message at every
  text delta (O(n²) in the client), so this is bound by the client's CPU, not the server;
- ``observe``: ``agent.observe({runId})`` + ``processDataStream`` — the same SSE parsing in
  client-js without the per-chunk message clone (the run is made first by ``generate``);
- ``raw``: Node's ``fetch`` reading the SSE bytes of ``/stream`` (what the server can deliver).

Target: ≥ 3x Mastra's 12,800 chunks/s.

The server starts as ``streamwise serve`` starts it (lifespan on, so ``streamwise.tune_gc()``
runs); ``--gc default`` keeps CPython's collector settings instead. The collections made in
the server's process while the client reads are counted (``gc.callbacks``) and printed.

    .venv/bin/python bench/bench_server.py [--deltas 10000] [--runs 5] [--gc tuned|default]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import threading
from pathlib import Path
from typing import Any

import uvicorn

from bench_agent import GCMeter
from streamwise import Agent, Streamwise
from streamwise.server import ServerSettings, create_asgi_app
from streamwise.testing import ScriptedModel, Turn

ROOT = Path(__file__).resolve().parents[1]
MASTRA_CHUNKS_PER_S = 12_800

CLIENT = """
import { MastraClient } from "@mastra/client-js";
const [baseUrl, runs] = [process.argv[1], Number(process.argv[2])];
const client = new MastraClient({ baseUrl, retries: 0 });
const agent = client.getAgent("long");

async function timed(mode) {
  const ready = mode.prepare ? await mode.prepare() : undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const chunks = await mode.read(ready);
  const cpu = process.cpuUsage(cpu0);
  return { chunks, seconds: (performance.now() - t0) / 1000, clientCpu: (cpu.user + cpu.system) / 1e6 };
}
const modes = {
  stream: {
    async read() {
      let n = 0;
      const response = await agent.stream("go");
      await response.processDataStream({ onChunk: async () => { n += 1; } });
      return n;
    },
  },
  observe: {
    // The run is made (not timed) by generate; observe replays all of it.
    prepare: () => agent.generate("go"),
    async read({ runId }) {
      let n = 0;
      const observed = await agent.observe({ runId });
      await observed.processDataStream({ onChunk: async () => { n += 1; } });
      return n;
    },
  },
  raw: { async read() {
    const raw = await fetch(`${baseUrl}/api/agents/long/stream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: "go" }),
    });
    const text = await raw.text();
    return text.split("\\n\\n").filter((f) => f.startsWith("data: {")).length;
  } },
};
const results = {};
for (const [name, mode] of Object.entries(modes)) {
  results[name] = [];
  for (let i = 0; i < runs; i++) results[name].push(await timed(mode));
}
console.log(JSON.stringify(results));
"""


def make_app(deltas: int) -> Streamwise:
    """One agent whose every run streams ``deltas`` one-word text deltas."""

    def turn(messages: list[Any]) -> Turn:
        return {"text": ["word "] * deltas, "usage": {"inputTokens": 1, "outputTokens": deltas}}

    return Streamwise(agents=[Agent("long", model=ScriptedModel(turn))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--gc", choices=("tuned", "default"), default="tuned")
    args = parser.parse_args()

    settings = ServerSettings(heartbeat_interval=0, gc_tuning=args.gc == "tuned")
    asgi = create_asgi_app(make_app(args.deltas), settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(asgi, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    meter = GCMeter()
    try:
        out = subprocess.run(
            ["node", "--input-type=module", "-e", CLIENT, url, str(args.runs + 1)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
            check=True,
        )
    finally:
        server.should_exit = True
        thread.join()
        sock.close()
    report = json.loads(out.stdout)
    collections, seconds = meter.snapshot()
    runs = sum(len(results) for results in report.values()) + args.runs + 1  # + observe's runs
    print(f"deltas per run: {args.deltas}, runs: {args.runs} (after one warm-up), gc: {args.gc}")
    print(
        f"server-side collections over {runs} runs: {collections} (gen 0/1/2), "
        f"{sum(seconds) * 1e3:.0f} ms collecting ({seconds[2] * 1e3:.0f} ms in full ones)"
    )
    for name, results in report.items():
        results = results[1:]  # the first run warms up both sides
        rates = [r["chunks"] / r["seconds"] for r in results]
        median = statistics.median(rates)
        busy = statistics.median(r["clientCpu"] / r["seconds"] for r in results)
        print(
            f"{name:8} chunks/run {results[0]['chunks']:6}  median {median:10,.0f}/s  "
            f"best {max(rates):10,.0f}/s  {median / MASTRA_CHUNKS_PER_S:5.1f}x Mastra  "
            f"client CPU {busy:4.0%} of wall time"
        )


if __name__ == "__main__":
    main()
