import { runPgliteChild } from "./pglite-child.js";

/**
 * The embedded store's process when it only serves the database (embedded-pglite.ts starts it
 * unless its caller names an entry with more work, as domain/history/store-process.ts).
 */
await runPgliteChild();
