/**
 * A sleep that can be cut short: loops that wait between polls (persister backoff, worker
 * polling) wake at once on shutdown or when new work arrives.
 */
export class WakeableSleep {
  #wake: (() => void) | null = null;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  wake(): void {
    this.#wake?.();
  }
}

/**
 * Settles as `work` does, unless `ms` pass first: then `expired()` runs (abort what `work`
 * depends on) and the promise rejects with the error it returns. The timer is cleared as
 * soon as `work` settles, so nothing is left behind.
 */
export function within<T>(work: Promise<T>, ms: number, expired: () => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(expired()), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
