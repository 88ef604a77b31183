// Finding the runs that wait for a human with the real @mastra/client-js: two runs wait for
// approval on one server; a second server (sharing only the storage) lists them with
// agent.listSuspendedRuns() (filters, pagination), approves one it found, and lists again.
// Usage: node tests/js/mastra_suspended_runs.mjs FIRST_URL SECOND_URL → one JSON report.
import { MastraClient } from "@mastra/client-js";

const [first, second] = process.argv.slice(2).map(
  (baseUrl) => new MastraClient({ baseUrl, retries: 0 }).getAgent("admin"),
);

async function read(response) {
  const chunks = [];
  await response.processDataStream({ onChunk: async (chunk) => { chunks.push(chunk); } });
  return chunks;
}

const inThread = await read(
  await first.stream("delete r1", { memory: { thread: "t1", resource: "u1" } }),
);
const plain = await read(await first.stream("delete r2"));
const runIdOf = (chunks) => chunks.find((c) => c.type === "tool-call-approval").runId;

const all = await second.listSuspendedRuns();
const byThread = await second.listSuspendedRuns({ threadId: "t1", resourceId: "u1" });
const page = await second.listSuspendedRuns({ perPage: 1, page: 1 });
const future = await second.listSuspendedRuns({ fromDate: new Date("2999-01-01T00:00:00Z") });

const found = byThread.runs[0];
const approved = await read(
  await second.approveToolCall({ runId: found.runId, toolCallId: found.toolCalls[0].toolCallId }),
);
const after = await second.listSuspendedRuns();

const text = (chunks) => chunks.filter((c) => c.type === "text-delta").map((c) => c.payload.text).join("");
console.log(JSON.stringify({
  threadRunId: runIdOf(inThread),
  plainRunId: runIdOf(plain),
  all,
  byThreadIds: byThread.runs.map((r) => r.runId),
  pageIds: page.runs.map((r) => r.runId),
  pageTotal: page.total,
  futureTotal: future.total,
  approvedText: text(approved),
  afterIds: after.runs.map((r) => r.runId),
}));
