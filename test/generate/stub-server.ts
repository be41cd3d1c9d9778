import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** What the stub does with one request: reply, fail with a status, stall, or drop the connection. */
export type Script =
  | { kind: "reply"; text?: string; delayMs?: number }
  | { kind: "status"; status: number; retryAfter?: string; body?: string }
  | { kind: "drop" }
  | { kind: "stall"; ms: number };

export interface StubRequest {
  prompt: string;
  body: Record<string, unknown>;
  at: number;
  authorization?: string;
}

/**
 * An OpenAI-compatible server on loopback with scripted behaviour per prompt and attempt: the n-th request for
 * a prompt gets `script(prompt, n)`. Replies echo the prompt so results can be checked.
 */
export class StubServer {
  readonly requests: StubRequest[] = [];
  private readonly attempts = new Map<string, number>();
  private server: Server | undefined;
  url = "";

  constructor(private readonly script: (prompt: string, attempt: number) => Script = () => ({ kind: "reply" })) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  attemptsFor(prompt: string): number {
    return this.attempts.get(prompt) ?? 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
    const messages = body.messages as { role: string; content: string }[] | undefined;
    const prompt = messages ? messages[messages.length - 1]!.content : String(body.prompt);
    const attempt = (this.attempts.get(prompt) ?? 0) + 1;
    this.attempts.set(prompt, attempt);
    this.requests.push({ prompt, body, at: Date.now(), authorization: req.headers.authorization });
    const action = this.script(prompt, attempt);
    switch (action.kind) {
      case "drop":
        req.socket.destroy();
        return;
      case "stall":
        await new Promise((r) => setTimeout(r, action.ms));
        if (!res.writableEnded && !req.socket.destroyed) reply(res, body, `late: ${prompt}`);
        return;
      case "status":
        res.writeHead(action.status, { "content-type": "application/json", ...(action.retryAfter ? { "retry-after": action.retryAfter } : {}) });
        res.end(action.body ?? JSON.stringify({ error: { message: `scripted ${action.status}` } }));
        return;
      case "reply":
        if (action.delayMs) await new Promise((r) => setTimeout(r, action.delayMs));
        reply(res, body, action.text ?? `echo: ${prompt}`);
    }
  }
}

function reply(res: ServerResponse, body: Record<string, unknown>, text: string): void {
  const chat = Array.isArray(body.messages);
  const choice = chat ? { index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" } : { index: 0, text, finish_reason: "stop" };
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ id: "x", object: chat ? "chat.completion" : "text_completion", choices: [choice], usage: { prompt_tokens: 5, completion_tokens: text.split(" ").length } }));
}
