// The third side of bench/task-cycles.ts (`--split`): ClaudeBench's task queue (TaskQueue, the same
// Lua scripts and Redis connection settings as `claudebench serve`) behind a node:http JSON-RPC
// endpoint as bare as ../shared/bench/ref-min-server.js. No validation, dispatch pipeline, audit,
// resilience, metrics or background loops. Measured beside both servers it splits the gap between
// them into our queue (this server against the reference) and our request pipeline (ours against
// this one).
// The answers are the handlers' own (toClaimAnswer; complete's id, status, completedAt and task),
// so both servers write the same bytes; what this server leaves out is the pipeline around them.
// Usage: node bench/bare-queue-server.mjs <port> <redis url> <key prefix> <event stream maxlen>
// (needs `npm run build`; prints "listening <port>" when ready)

import { hostname } from "node:os";
import { DEFAULT_QUEUE_SETTINGS, TaskQueue } from "../dist/domain/tasks/queue.js";
import { toClaimAnswer } from "../dist/handlers/task/claim.js";
import { createKeys } from "../dist/storage/keys.js";
import { writeScriptsPerTurn } from "../dist/storage/lua-script.js";
import { connectRedis } from "../dist/storage/redis.js";
import { serveBareJsonRpc } from "./bare-json-rpc.mjs";

const [port, redisUrl, keyPrefix, eventMaxLen] = process.argv.slice(2);
const redis = await connectRedis(redisUrl, "bare-queue");
writeScriptsPerTurn(redis); // as the server does for its connection
// An event source of the same form and length as a server's instance id (srv-<host>-<pid>).
const source = `srv-${hostname()}-${process.pid}`;
const queue = new TaskQueue(
  redis,
  createKeys(keyPrefix),
  source,
  Number(eventMaxLen),
  DEFAULT_QUEUE_SETTINGS,
);
await queue.scripts.load();

// What task.create, task.claim and task.complete do for the load's params, without validation.
const methods = {
  "task.create": async (p) =>
    (await queue.create({ text: p.text, priority: p.priority ?? 50, maxAttempts: p.maxAttempts ?? 3 })).task,
  "task.claim": async (p) =>
    toClaimAnswer(
      await queue.claim({ workerId: p.workerId, count: p.maxTasks ?? 1, capacity: "registered" }),
    ),
  "task.complete": async (p) => {
    const task = await queue.complete(p.id, { workerId: p.workerId }, p.result);
    return { id: task.id, status: task.status, completedAt: task.completedAt, task };
  },
};

serveBareJsonRpc(Number(port), (method, params) => {
  const handle = methods[method];
  if (!handle) throw new Error(`Method not found: ${method}`);
  return handle(params);
});
