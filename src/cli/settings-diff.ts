/** The unified diff `claudebench init` prints of each settings file it would change (--dry-run). */

/** A unified diff (3 lines of context) of a file's old and new text; "" when equal. */
export function unifiedDiff(path: string, before: string | null, after: string | null): string {
  if (before === after) return "";
  const split = (t: string | null) => (t === null || t === "" ? [] : t.replace(/\n$/, "").split("\n"));
  const a = split(before);
  const b = split(after);
  // Longest common subsequence, from the end (files here are small).
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      (lcs[i] as number[])[j] =
        a[i] === b[j]
          ? ((lcs[i + 1] as number[])[j + 1] as number) + 1
          : Math.max((lcs[i + 1] as number[])[j] as number, (lcs[i] as number[])[j + 1] as number);
    }
  }
  type Line = { op: " " | "-" | "+"; text: string; ai: number; bi: number };
  const lines: Line[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      lines.push({ op: " ", text: a[i] as string, ai: i++, bi: j++ });
    } else if (
      i < a.length &&
      (j >= b.length || ((lcs[i + 1] as number[])[j] as number) >= ((lcs[i] as number[])[j + 1] as number))
    ) {
      lines.push({ op: "-", text: a[i] as string, ai: i++, bi: j });
    } else {
      lines.push({ op: "+", text: b[j] as string, ai: i, bi: j++ });
    }
  }
  const out = [
    `--- ${before === null ? "/dev/null" : `a/${path}`}`,
    `+++ ${after === null ? "/dev/null" : `b/${path}`}`,
  ];
  const changed = lines.map((l, k) => (l.op !== " " ? k : -1)).filter((k) => k >= 0);
  let k = 0;
  while (k < changed.length) {
    const from = Math.max(0, (changed[k] as number) - 3);
    let to = Math.min(lines.length, (changed[k] as number) + 4);
    while (k + 1 < changed.length && (changed[k + 1] as number) - 3 <= to) {
      k++;
      to = Math.min(lines.length, (changed[k] as number) + 4);
    }
    k++;
    const hunk = lines.slice(from, to);
    const first = hunk[0] as Line;
    const oldCount = hunk.filter((l) => l.op !== "+").length;
    const newCount = hunk.filter((l) => l.op !== "-").length;
    out.push(
      `@@ -${oldCount ? first.ai + 1 : first.ai},${oldCount} +${newCount ? first.bi + 1 : first.bi},${newCount} @@`,
      ...hunk.map((l) => `${l.op}${l.text}`),
    );
  }
  return `${out.join("\n")}\n`;
}
