/**
 * The latency buckets shared by LatencyHistogram (since start) and RecentCalls (per minute):
 * logarithmic, ≈ 4.5 % wide, from 10 µs to ~100 s. A percentile read from bucket counts is
 * within one bucket width of the exact value.
 */
const BUCKET_GROWTH = 1.045;
const MIN_MS = 0.01;
export const BUCKETS = Math.ceil(Math.log(1e7) / Math.log(BUCKET_GROWTH)) + 1;
const LOG_GROWTH = Math.log(BUCKET_GROWTH);

/** The largest value bucket `i` holds; the last bucket also holds everything above its range. */
export const bucketUpperMs = (i: number) =>
  i === BUCKETS - 1 ? Number.POSITIVE_INFINITY : MIN_MS * BUCKET_GROWTH ** i;

/** The bucket a latency of `ms` falls in. */
export const latencyBucket = (ms: number) =>
  ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH));

/**
 * The p-th percentile (p in 0..100) of `count` observations given as [bucket, count] pairs in
 * ascending bucket order: the upper bound of the bucket that holds it, never above `maxMs`.
 */
export function percentileOfBuckets(
  buckets: Iterable<readonly [number, number]>,
  count: number,
  maxMs: number,
  p: number,
): number {
  if (count === 0) return 0;
  const rank = Math.ceil((p / 100) * count);
  let seen = 0;
  for (const [i, n] of buckets) {
    seen += n;
    if (seen >= rank) return Math.min(maxMs, MIN_MS * BUCKET_GROWTH ** i);
  }
  return maxMs;
}
