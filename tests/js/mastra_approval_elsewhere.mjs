// Approvals across processes with the real @mastra/client-js: a run waits for approval on one
// server and is approved (then another declined, with a reason) on a second server that shares
// only the storage with the first.
// Usage: node tests/js/mastra_approval_elsewhere.mjs FIRST_URL SECOND_URL → one JSON report.
import { MastraClient } from "@mastra/client-js";

const [first, second] = process.argv.slice(2).map(
  (baseUrl) => new MastraClient({ baseUrl, retries: 0 }).getAgent("admin"),
);

async function read(response) {
  const chunks = [];
  await response.processDataStream({ onChunk: async (chunk) => { chunks.push(chunk); } });
  return chunks;
}

async function status(promise) {
  try {
    await promise;
    return 200;
  } catch (error) {
    return error?.status ?? 0;
  }
}

const suspended = await read(await first.stream("delete r1"));
const waiting = suspended.find((c) => c.type === "tool-call-approval");
const approved = await read(
  await second.approveToolCall({ runId: waiting.runId, toolCallId: waiting.payload.toolCallId }),
);
const again = await status(second.approveToolCall({ runId: waiting.runId }));

const suspended2 = await read(await first.stream("delete r2"));
const waiting2 = suspended2.find((c) => c.type === "tool-call-approval");
const declined = await read(
  await second.declineToolCall({
    runId: waiting2.runId, toolCallId: waiting2.payload.toolCallId, reason: "not today",
  }),
);

const text = (chunks) => chunks.filter((c) => c.type === "text-delta").map((c) => c.payload.text).join("");
console.log(JSON.stringify({
  suspendedTypes: suspended.map((c) => c.type),
  runId: waiting.runId,
  approvedTypes: approved.map((c) => c.type),
  approvedRunIds: [...new Set(approved.map((c) => c.runId))],
  approvedText: text(approved),
  againStatus: again,
  declinedText: text(declined),
}));
