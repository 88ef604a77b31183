// Validate UI messages with the real AI SDK: JSON array on stdin, result on stdout.
// Prints {"ok": true, "messages": [...]} (what validateUIMessages returned) or
// {"ok": false, "error": "..."} and exits 1.
import { validateUIMessages } from "ai";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const messages = JSON.parse(Buffer.concat(chunks).toString("utf8"));
try {
  const validated = await validateUIMessages({ messages });
  process.stdout.write(JSON.stringify({ ok: true, messages: validated }));
} catch (error) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(error?.message ?? error) }));
  process.exitCode = 1;
}
