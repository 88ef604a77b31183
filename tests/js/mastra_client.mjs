// Drive a streamwise server with the real @mastra/client-js: list agents, stream an agent whose
// tool streams a nested agent, then observe the same run from an offset.
// Usage: node tests/js/mastra_client.mjs BASE_URL  → prints one JSON report on stdout.
import { MastraClient } from "@mastra/client-js";

const baseUrl = process.argv[2];
const client = new MastraClient({ baseUrl, retries: 0 });

const agents = await client.listAgents();
const details = await client.getAgent("researchAgent").details();

const chunks = [];
const response = await client.getAgent("researchAgent").stream("hi");
await response.processDataStream({ onChunk: async (chunk) => { chunks.push(chunk); } });

const runId = chunks[0]?.runId;
const observed = [];
const obs = await client.getAgent("researchAgent").observe({ runId, offset: 3 });
await obs.processDataStream({ onChunk: async (chunk) => { observed.push(chunk); } });

const nested = chunks.filter((c) => c.type === "tool-output").map((c) => c.payload.output);
const finish = chunks.find((c) => c.type === "finish");
console.log(JSON.stringify({
  agentIds: Object.keys(agents).sort(),
  toolInputSchema: JSON.parse(details.tools.researchTool.inputSchema),
  types: chunks.map((c) => c.type),
  nestedTypes: nested.map((c) => c.type),
  nestedRunIds: [...new Set(nested.map((c) => c.runId))],
  runId,
  nestedText: nested.filter((c) => c.type === "text-delta").map((c) => c.payload.text).join(""),
  finishUsage: finish?.payload?.output?.usage,
  observedTypes: observed.map((c) => c.type),
}));
