import type { IncomingMessage, ServerResponse } from "node:http";

export type Headers = Record<string, string>;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Headers = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=UTF-8",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** What a gateway in front of the platform answers when the platform behind it is down. */
export function sendHtml502(res: ServerResponse): void {
  const text =
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>" +
    "<body><h1>Bad Gateway</h1><p>The server returned an invalid or incomplete response.</p></body></html>\n";
  res.writeHead(502, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const MAX_BODY_BYTES = 64 * 1024;

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error("body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function retryAfterHeader(seconds: number | undefined): Headers {
  return seconds === undefined ? {} : { "retry-after": String(seconds) };
}
