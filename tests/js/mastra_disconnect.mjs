// Start an agent stream with @mastra/client-js and abort it after the first chunk.
// Usage: node tests/js/mastra_disconnect.mjs BASE_URL AGENT_ID  → prints {runId, received}.
import { MastraClient } from "@mastra/client-js";

const [baseUrl, agentId] = process.argv.slice(2);
const client = new MastraClient({ baseUrl, retries: 0 });
const controller = new AbortController();
const response = await client.getAgent(agentId).stream("hi", { abortSignal: controller.signal });
let runId;
let received = 0;
try {
  await response.processDataStream({
    onChunk: async (chunk) => {
      received += 1;
      runId ??= chunk.runId;
      controller.abort();
    },
  });
} catch (e) {
  if (e?.name !== "AbortError") throw e;
}
console.log(JSON.stringify({ runId, received }));
