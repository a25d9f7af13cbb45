// Word wrapping for help and long table values, so that output stays within the terminal width (80 columns
// by default: a serial console).

/** Splits text into lines of at most `width` characters, breaking at spaces (long words are cut). */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const para of text.split("\n")) {
    let line = "";
    for (let word of para.split(/ +/)) {
      while (word.length > width) {
        if (line) {
          out.push(line);
          line = "";
        }
        out.push(word.slice(0, width));
        word = word.slice(width);
      }
      if (!line) line = word;
      else if (line.length + 1 + word.length <= width) line += ` ${word}`;
      else {
        out.push(line);
        line = word;
      }
    }
    out.push(line);
  }
  return out;
}

/** Wraps text and indents every line by `indent` spaces (the first by `first` when given). */
export function indentWrap(text: string, width: number, indent: number, first = indent): string {
  return wrap(text, Math.max(20, width - indent))
    .map((l, i) => " ".repeat(i === 0 ? first : indent) + l)
    .join("\n");
}

/** Cuts a single line to `width` characters, marking the cut with "...". */
export function truncate(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 3 ? text.slice(0, width) : `${text.slice(0, width - 3)}...`;
}
