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
