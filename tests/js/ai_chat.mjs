// Read /chat/:agentId with the code under useChat: DefaultChatTransport (which parses every part
// against the AI SDK's own uiMessageChunkSchema) and readUIMessageStream (which enforces the
// order rules), then validateUIMessages on the final message.
// Usage: node tests/js/ai_chat.mjs BASE_URL AGENT_ID  → prints one JSON report on stdout.
import { DefaultChatTransport, readUIMessageStream, validateUIMessages } from "ai";

const [baseUrl, agentId] = process.argv.slice(2);
const transport = new DefaultChatTransport({ api: `${baseUrl}/chat/${agentId}` });
const messages = [{ id: "u1", role: "user", parts: [{ type: "text", text: "hi" }] }];
const stream = await transport.sendMessages({
  chatId: "chat-1",
  messages,
  trigger: "submit-message",
  messageId: undefined,
  abortSignal: undefined,
});

const partTypes = [];
const [forParts, forMessage] = stream.tee();
const collecting = (async () => {
  const reader = forParts.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    partTypes.push(value.type);
  }
})();

const errors = [];
let last;
try {
  for await (const message of readUIMessageStream({
    stream: forMessage,
    onError: (e) => errors.push(e.message),
    terminateOnError: true,
  })) {
    last = message;
  }
} catch (e) {
  errors.push(`thrown: ${e.message}`);
}
await collecting.catch((e) => errors.push(`parts: ${e.message}`));
const validated = await validateUIMessages({ messages: [...messages, last] });
console.log(JSON.stringify({
  partTypes,
  errors,
  messageParts: last.parts.map((p) => p.type),
  text: last.parts.filter((p) => p.type === "text").map((p) => p.text).join(""),
  toolPart: last.parts.find((p) => p.type.startsWith("tool-")),
  nested: last.parts.filter((p) => p.type === "data-tool-agent").map((p) => p.data),
  validatedCount: validated.length,
}));
