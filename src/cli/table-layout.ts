// Aligned plain-text layouts for people: tables whose columns shrink (with "...") to fit the width, and
// "key  value" lists whose long values wrap. No colour, no box drawing: fine on a serial console.
import { truncate, wrap } from "./text-wrap.js";

const GAP = 2;
const MIN_COLUMN = 6;

export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[], width: number): string[] {
  const n = headers.length;
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  // Shrink the widest column, one character at a time, until the table fits (or nothing can shrink).
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP * (n - 1);
  while (total() > width) {
    let widest = 0;
    for (let i = 1; i < n; i++) if (widths[i]! > widths[widest]!) widest = i;
    if (widths[widest]! <= MIN_COLUMN) break;
    widths[widest]!--;
  }
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => {
        const cell = truncate(c ?? "", widths[i]!);
        return i === n - 1 ? cell : cell.padEnd(widths[i]!);
      })
      .join(" ".repeat(GAP))
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...rows.map(line)];
}

export function renderFields(pairs: readonly (readonly [string, string])[], width: number): string[] {
  const keyWidth = Math.max(0, ...pairs.map(([k]) => k.length + 1));
  const valueWidth = Math.max(20, width - keyWidth - GAP);
  const out: string[] = [];
  for (const [key, value] of pairs) {
    const lines = value === "" ? [""] : value.split("\n").flatMap((l) => wrap(l, valueWidth));
    out.push(`${`${key}:`.padEnd(keyWidth)}${" ".repeat(GAP)}${lines[0]}`.trimEnd());
    for (const l of lines.slice(1)) out.push(`${" ".repeat(keyWidth + GAP)}${l}`.trimEnd());
  }
  return out;
}
