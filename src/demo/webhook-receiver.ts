import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

/**
 * The demo's stand-in for a product's webhook receiver: verifies each event with `standardwebhooks` (as a product
 * would, in a few lines) and prints it. The secret arrives after the endpoint is registered: `use(secret)`.
 */
export async function startDemoReceiver(print: (line: string) => void) {
  let verifier: Webhook | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      try {
        if (!verifier) throw new Error("no secret yet");
        const event = verifier.verify(body, req.headers as Record<string, string>) as { type: string; data: Record<string, unknown> };
        const { channelId, code, error } = event.data;
        print(`  ✓ webhook ${event.type} ${channelId ?? ""}${code ? ` ${code}` : ""}${error ? `: ${error}` : ""}`);
        res.end("ok");
      } catch (error) {
        print(`  ✗ webhook refused: ${(error as Error).message}`);
        res.statusCode = 400;
        res.end("bad signature");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/refresca`,
    use(secret: string) {
      verifier = new Webhook(secret);
    },
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}
