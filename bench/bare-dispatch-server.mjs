// The fourth side of bench/task-cycles.ts (`--split`): a whole ClaudeBench server started in this
// process (startServer, as `claudebench serve --no-db` does, its own HTTP port unused), and beside
// it a node:http JSON-RPC endpoint as bare as ../shared/bench/ref-min-server.js that hands each
// call to the server's dispatcher: input and output validation, the middleware (audit trail,
// resilience), the handlers, the background loops, everything but our HTTP transport and its
// JSON-RPC handling. Against bench/bare-queue-server.mjs it shows what the dispatch pipeline
// costs; ours against it, what our transport costs.
// Usage: node bench/bare-dispatch-server.mjs <port> <redis url> <key prefix>
// (needs `npm run build`; the queue settings come from the environment, as for `serve`;
// prints "listening <port>" when ready)
import { loadConfig } from "../dist/config.js";
import { startServer } from "../dist/server.js";
import { serveBareJsonRpc } from "./bare-json-rpc.mjs";

const [port, redisUrl, keyPrefix] = process.argv.slice(2);
const config = loadConfig({ port: 0, redisUrl, keyPrefix, db: "none", logLevel: "warn" });
const { dispatcher } = await startServer(config);

serveBareJsonRpc(Number(port), (method, params) => dispatcher.call({ method, params, transport: "jsonrpc" }));
