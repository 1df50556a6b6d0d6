import type { CoordinationKeys } from "../../storage/coordination-keys.js";
import type { CoordinationScripts } from "../../storage/scripts.js";

/**
 * Coordinated batches: several instances call `processBatch` for the same batch id; the items
 * are leased out in chunks (claimBatchItems-1.lua), each completed item is counted once
 * (completeBatchItems-1.lua), and items whose processor died go back to the others when its
 * lease expires. `batch.completed` is emitted once, by the script that counts the last item.
 */

export interface BatchProgress {
  status: "running" | "completed";
  done: number;
  total: number;
}

export interface BatchSettings {
  chunk: number;
  leaseMs: number;
  ttlSec: number;
}

export type ItemProcessor = (item: unknown, index: number) => Promise<void>;

export async function processBatch(
  scripts: CoordinationScripts,
  q: CoordinationKeys,
  batch: { batchId: string; processorId: string; items: unknown[] },
  processItem: ItemProcessor,
  settings: BatchSettings,
  signal: AbortSignal,
): Promise<BatchProgress & { processedByMe: number }> {
  const key = q.batch(batch.batchId);
  const itemsJson = batch.items.map((item) => JSON.stringify(item));
  let processedByMe = 0;
  let first = true;
  for (;;) {
    const reply = (await scripts.run("claimBatchItems", key, [
      batch.batchId,
      batch.processorId,
      settings.chunk,
      settings.leaseMs,
      settings.ttlSec,
      ...(first ? itemsJson : []),
    ])) as [string, number, number, ...string[]];
    first = false;
    const [status, done, total, ...taken] = reply;
    if (status !== "running") return { status: "completed", done, total, processedByMe };
    if (taken.length === 0) {
      // Nothing left to take, but items are still leased to others: wait, then take over
      // whatever a dead processor leaves behind when its lease expires.
      if (signal.aborted) return { status: "running", done, total, processedByMe };
      await new Promise((r) => setTimeout(r, Math.max(50, settings.leaseMs / 4)));
      continue;
    }
    const indexes: string[] = [];
    for (let i = 0; i < taken.length; i += 2) {
      const index = taken[i] as string;
      await processItem(JSON.parse(taken[i + 1] as string), Number(index));
      indexes.push(index);
    }
    const [counted, doneNow, totalNow, completedNow] = (await scripts.run("completeBatchItems", key, [
      batch.batchId,
      batch.processorId,
      ...indexes,
    ])) as [number, number, number, number];
    processedByMe += counted;
    if (completedNow === 1 || doneNow >= totalNow)
      return { status: "completed", done: doneNow, total: totalNow, processedByMe };
  }
}
