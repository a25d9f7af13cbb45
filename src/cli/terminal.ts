// What the terminal allows: colour and cursor movement only on a TTY whose TERM is not "dumb" and without
// NO_COLOR (a 115200-baud serial console gets plain text), and the width to lay output out in.

export interface TerminalInfo {
  /** ANSI colours and cursor movement (progress bars) are allowed. */
  readonly fancy: boolean;
  /** Columns to fit output into: $COLUMNS, else 80. */
  readonly width: number;
}

export interface Stream {
  isTTY?: boolean;
}

export function terminalInfo(stream: Stream, env: NodeJS.ProcessEnv): TerminalInfo {
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== "";
  const dumb = !env.TERM || env.TERM === "dumb";
  const columns = Number(env.COLUMNS);
  return {
    fancy: stream.isTTY === true && !dumb && !noColor,
    width: Number.isInteger(columns) && columns >= 20 ? columns : 80,
  };
}

export interface Style {
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

const sgr = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;
const plain = (s: string) => s;

export function styleFor(term: TerminalInfo): Style {
  if (!term.fancy) return { red: plain, green: plain, yellow: plain, bold: plain, dim: plain };
  return { red: sgr(31, 39), green: sgr(32, 39), yellow: sgr(33, 39), bold: sgr(1, 22), dim: sgr(2, 22) };
}
