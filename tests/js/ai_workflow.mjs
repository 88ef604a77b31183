// Read /workflow/:workflowId with the AI SDK's DefaultChatTransport (every part checked against
// uiMessageChunkSchema) and readUIMessageStream, then validateUIMessages on the final message.
// Usage: node tests/js/ai_workflow.mjs BASE_URL WORKFLOW_ID INPUT_JSON → one JSON report.
import { DefaultChatTransport, readUIMessageStream, validateUIMessages } from "ai";

const [baseUrl, workflowId, input] = process.argv.slice(2);
const transport = new DefaultChatTransport({
  api: `${baseUrl}/workflow/${workflowId}`,
  prepareSendMessagesRequest: () => ({ body: { inputData: JSON.parse(input) } }),
});
const messages = [{ id: "u1", role: "user", parts: [{ type: "text", text: "run it" }] }];
const stream = await transport.sendMessages({
  chatId: "wf-1", messages, trigger: "submit-message", messageId: undefined, abortSignal: undefined,
});
const errors = [];
let last;
for await (const message of readUIMessageStream({
  stream, onError: (e) => errors.push(e.message), terminateOnError: true,
})) {
  last = message;
}
await validateUIMessages({ messages: [...messages, last] });
const workflow = last.parts.filter((p) => p.type === "data-workflow");
console.log(JSON.stringify({
  errors,
  messageParts: last.parts.map((p) => p.type),
  workflow: workflow.map((p) => p.data),
}));
