/**
 * Time series for the Metrics and Overview charts: a bounded list of samples and the SVG
 * polyline that draws them. Rates come from the difference of two counter readings, so a
 * counter reset (a server restart) reads as a fresh start, not as a negative rate.
 */

export class Series {
  readonly values: number[] = [];
  constructor(readonly capacity = 120) {}

  push(value: number): void {
    this.values.push(value);
    if (this.values.length > this.capacity) this.values.shift();
  }
}

/** The rate per second between two readings of a counter; a reset counts from zero. */
export function rate(previous: number, current: number, seconds: number): number {
  if (seconds <= 0) return 0;
  return (current >= previous ? current - previous : current) / seconds;
}

/** SVG `points` for a polyline filling width × height; the highest value touches the top. */
export function polylinePoints(values: readonly number[], width: number, height: number): string {
  if (values.length === 0) return "";
  const max = Math.max(...values, 0);
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  return values
    .map((v, i) => {
      const y = max > 0 ? height - (v / max) * height : height;
      return `${round(i * step)},${round(y)}`;
    })
    .join(" ");
}

const round = (n: number) => Math.round(n * 10) / 10;
