// The node:http JSON-RPC endpoint of the bench's bare servers (bare-queue-server.mjs,
// bare-dispatch-server.mjs): as little as ../shared/bench/ref-min-server.js does around a call,
// so that what a bench measures beside the reference is what `call` does.
import { createServer } from "node:http";

/** Serves POSTed JSON-RPC requests with `call(method, params)`; prints "listening <port>" when ready. */
export function serveBareJsonRpc(port, call) {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", async () => {
      let out;
      try {
        const msg = JSON.parse(Buffer.concat(chunks).toString());
        out = { jsonrpc: "2.0", id: msg.id ?? null, result: await call(msg.method, msg.params ?? {}) };
      } catch (err) {
        out = { jsonrpc: "2.0", id: null, error: { code: -32000, message: String(err?.message ?? err) } };
      }
      const text = JSON.stringify(out);
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
    });
  });
  server.listen(port, "127.0.0.1", () => console.log(`listening ${port}`));
}
