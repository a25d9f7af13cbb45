// A one-line progress bar on stderr for long bulk loads and installs, redrawn in place with "\r" at most ten times a
// second; it draws nothing unless stderr is a terminal that allows cursor tricks (not TERM=dumb, NO_COLOR).
import type { Writer } from "./command-context.js";
import type { TerminalInfo } from "./terminal.js";

export class ProgressBar {
  private last = 0;
  private drawn = false;
  private lastText: string | undefined;

  constructor(
    private readonly out: Writer,
    private readonly term: TerminalInfo,
    private readonly unit: string,
    private readonly total: number | undefined,
  ) {}

  /**
   * `done` is in the unit of `total` (bytes), `count` is what is shown (e.g. routes read), or `text` instead
   * of it (an install's stage). A change of text is drawn at once, the same text at most ten times a second.
   */
  update(done: number, count: number, text?: string): void {
    if (!this.term.fancy) return;
    const now = Date.now();
    if (now - this.last < 100 && text === this.lastText) return;
    this.last = now;
    this.lastText = text;
    const width = Math.min(this.term.width, 80) - 1;
    const tail = text === undefined ? ` ${count} ${this.unit}` : ` ${text}`;
    let line: string;
    if (this.total) {
      const f = Math.min(1, done / this.total);
      const pct = `${Math.floor(f * 100)}%`.padStart(5);
      const barWidth = Math.max(10, width - tail.length - pct.length - 3);
      const full = Math.round(f * barWidth);
      line = `[${"#".repeat(full)}${".".repeat(barWidth - full)}]${pct}${tail}`;
    } else line = `${tail.trim()} ...`;
    this.out.write(`\r${line.slice(0, width)}\x1b[K`);
    this.drawn = true;
  }

  /** Removes the bar so that the summary starts on a clean line. */
  finish(): void {
    if (this.drawn) this.out.write("\r\x1b[K");
    this.drawn = false;
  }
}
