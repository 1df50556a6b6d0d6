/**
 * Promises that resolve when a condition over a stream reader's state becomes true, fail when
 * the stream is gone or after a time limit. The reader calls `wake()` whenever its state changes.
 */
export class Waiters {
  readonly #checks = new Set<() => void>();

  wake(): void {
    for (const check of [...this.#checks]) check();
  }

  /**
   * Resolves once `done()`; rejects with `gone()`'s message as soon as it returns one, or with
   * `timedOut()`'s after `timeoutMs`.
   */
  until(
    done: () => boolean,
    gone: () => string | null,
    timedOut: () => string,
    timeoutMs: number,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (done()) {
          finish();
          resolve();
          return;
        }
        const reason = gone();
        if (reason) {
          finish();
          reject(new Error(reason));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(timedOut()));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.#checks.delete(check);
      };
      this.#checks.add(check);
      check();
    });
  }
}
