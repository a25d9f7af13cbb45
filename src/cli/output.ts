// Where command results go: canonical proto3 JSON of the response message (-o json; one document per line
// for streams), YAML of the same (-o yaml), or aligned tables and "key: value" lists for people (default).
import type { DescMessage, JsonValue, MessageShape } from "@bufbuild/protobuf";
import type { OutputFormat } from "./argv-parser.js";
import { renderFields, renderTable } from "./table-layout.js";
import { wrap } from "./text-wrap.js";
import type { Style, TerminalInfo } from "./terminal.js";
import { toYaml } from "./yaml-text.js";

/** toJson of @bufbuild/protobuf, handed in by the caller so that commands without messages never load it. */
export type ToJson = <D extends DescMessage>(schema: D, message: MessageShape<D>) => JsonValue;

export class Output {
  constructor(
    readonly format: OutputFormat,
    private readonly write: (text: string) => void,
    readonly term: TerminalInfo,
    readonly style: Style,
    private readonly toJson: ToJson = () => {
      throw new Error("this command prints no messages");
    },
  ) {}

  get width(): number {
    return this.term.width;
  }

  /** A response: its JSON or YAML document, or what `human` prints for people. */
  response<D extends DescMessage>(schema: D, message: MessageShape<D>, human: () => void): void {
    if (this.format === "table") human();
    else this.document(this.toJson(schema, message));
  }

  /** One message of a stream: a JSON document per line, a YAML document per message, or a human line. */
  streamItem<D extends DescMessage>(schema: D, message: MessageShape<D>, human: () => void): void {
    if (this.format === "json") this.write(`${JSON.stringify(this.toJson(schema, message))}\n`);
    else if (this.format === "yaml") this.write(`---\n${toYaml(this.toJson(schema, message))}`);
    else human();
  }

  /** A JSON value as a document (pretty JSON, or YAML with -o yaml). */
  document(value: JsonValue): void {
    this.write(this.format === "yaml" ? toYaml(value) : `${JSON.stringify(value, null, 2)}\n`);
  }

  table(headers: readonly string[], rows: readonly (readonly string[])[]): void {
    this.lines(renderTable(headers, rows, this.width));
  }

  fields(pairs: readonly (readonly [string, string])[]): void {
    this.lines(renderFields(pairs, this.width));
  }

  /** A line of text for people, wrapped at the width (tables and laid-out text use lines() and text()). */
  line(text = ""): void {
    this.write(`${text.length > this.width ? wrap(text, this.width).join("\n") : text}\n`);
  }

  lines(lines: readonly string[]): void {
    if (lines.length > 0) this.write(`${lines.join("\n")}\n`);
  }

  /** Text that is already laid out (metrics, diffs), written as is. */
  text(text: string): void {
    this.write(text.endsWith("\n") || text === "" ? text : `${text}\n`);
  }
}
