// Human in the loop with the real @mastra/client-js: stream an agent until a tool call waits for
// approval, approve it (a new stream, same run id); again, and decline it with a reason.
// Usage: node tests/js/mastra_approval.mjs BASE_URL  → prints one JSON report on stdout.
import { MastraClient } from "@mastra/client-js";

const baseUrl = process.argv[2];
const agent = new MastraClient({ baseUrl, retries: 0 }).getAgent("admin");

async function read(response) {
  const chunks = [];
  await response.processDataStream({ onChunk: async (chunk) => { chunks.push(chunk); } });
  return chunks;
}

const first = await read(await agent.stream("delete r1"));
const waiting = first.find((c) => c.type === "tool-call-approval");
const approved = await read(
  await agent.approveToolCall({ runId: waiting.runId, toolCallId: waiting.payload.toolCallId }),
);

const second = await read(await agent.stream("delete r2"));
const waiting2 = second.find((c) => c.type === "tool-call-approval");
const declined = await read(
  await agent.declineToolCall({
    runId: waiting2.runId, toolCallId: waiting2.payload.toolCallId, reason: "not today",
  }),
);

const text = (chunks) => chunks.filter((c) => c.type === "text-delta").map((c) => c.payload.text).join("");
console.log(JSON.stringify({
  firstTypes: first.map((c) => c.type),
  finishReason: first.at(-1)?.payload?.stepResult?.reason,
  approval: waiting.payload,
  approvedTypes: approved.map((c) => c.type),
  approvedRunIds: [...new Set(approved.map((c) => c.runId))],
  runId: waiting.runId,
  approvedText: text(approved),
  declinedText: text(declined),
}));
