// The reference for bench/rpc-overhead.ts: the least a node:http JSON-RPC endpoint can do.
// Reads the POST body, JSON.parse, answers {"jsonrpc":"2.0","id":<id>,"result":{"pong":true}}
// with content-length. No routing, validation, dispatch or logging.
// Usage: node bench/bare-echo-server.mjs <port>   (prints "listening <port>" when ready)
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? 0);

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    let id = null;
    try {
      id = JSON.parse(Buffer.concat(chunks).toString()).id ?? null;
    } catch {
      // not JSON: answer with id null, like a parse error would
    }
    const text = JSON.stringify({ jsonrpc: "2.0", id, result: { pong: true } });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  });
});
// Same keep-alive setting as the ClaudeBench HTTP transport.
server.keepAliveTimeout = 65_000;
server.listen(port, "127.0.0.1", () => {
  const address = server.address();
  console.log(`listening ${typeof address === "object" && address ? address.port : port}`);
});

const stop = () => server.close(() => process.exit(0)).closeAllConnections();
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
