// Drive real streamwise workflows with the real @mastra/client-js: list workflows, stream the
// three-step workflow, then stream the approval workflow until it suspends, resume it, and
// observe the resumed run from an offset.
// Usage: node tests/js/mastra_workflow.mjs BASE_URL  → prints one JSON report on stdout.
import { MastraClient } from "@mastra/client-js";

const baseUrl = process.argv[2];
const client = new MastraClient({ baseUrl, retries: 0 });

async function read(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

const workflows = await client.listWorkflows();

const threeStep = await client.getWorkflow("threeStep").createRun();
const plain = await read(await threeStep.stream({ inputData: { value: 3 } }));

const run = await client.getWorkflow("approval").createRun();
const first = await read(await run.stream({ inputData: { item: "invoice" } }));
const resumed = await read(
  await run.resumeStream({ step: "approve", resumeData: { approved: true } }),
);
const observed = await read(await run.observe({ offset: 2 }));

const finish = (chunks) => chunks.find((c) => c.type === "workflow-finish")?.payload;
console.log(JSON.stringify({
  workflowIds: Object.keys(workflows).sort(),
  plainTypes: plain.map((c) => c.type),
  plainResult: finish(plain)?.finalWorkflowResult ?? null,
  runId: run.runId,
  firstTypes: first.map((c) => c.type),
  firstStatus: finish(first)?.workflowStatus,
  suspendPayload: first.find((c) => c.type === "workflow-step-suspended")?.payload?.suspendPayload,
  resumedTypes: resumed.map((c) => c.type),
  resumedStatus: finish(resumed)?.workflowStatus,
  resumedResult: finish(resumed)?.finalWorkflowResult ?? null,
  resumedRunIds: [...new Set(resumed.map((c) => c.runId))],
  observedTypes: observed.map((c) => c.type),
}));
