// YAML for `-o yaml` and for showing whole configurations: a plain emitter for JSON values (the canonical
// proto3 JSON of a message), block style, strings quoted only when YAML would misread them.

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const PLAIN = /^[A-Za-z0-9_./@+][A-Za-z0-9_ ./@+:=-]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i;
const NUMERIC = /^[-+]?(\d[\d_]*(\.\d*)?([eE][-+]?\d+)?|\.\d+|0x[0-9a-fA-F]+|0o[0-7]+|\.inf|\.nan)$/i;

function scalar(s: string): string {
  if (s !== "" && PLAIN.test(s) && !RESERVED.test(s) && !NUMERIC.test(s) && !s.endsWith(" ") && !s.includes(": ") && !s.endsWith(":")) return s;
  return JSON.stringify(s);
}

function emit(v: Json, indent: string, out: string[], prefix: string): void {
  if (v === null || typeof v !== "object") {
    if (typeof v === "string" && v.includes("\n")) {
      out.push(`${prefix}|${v.endsWith("\n") ? "" : "-"}`);
      for (const l of v.replace(/\n$/, "").split("\n")) out.push(l === "" ? "" : `${indent}  ${l}`);
      return;
    }
    out.push(`${prefix}${v === null ? "null" : typeof v === "string" ? scalar(v) : String(v)}`);
    return;
  }
  if (Array.isArray(v)) {
    if (v.length === 0) return void out.push(`${prefix}[]`);
    if (prefix.trim() !== "") out.push(prefix.trimEnd());
    const base = prefix.trim() === "" ? indent : `${indent}`;
    for (const item of v) {
      if (item !== null && typeof item === "object" && !Array.isArray(item) && Object.keys(item).length > 0) {
        const lines: string[] = [];
        emit(item, `${base}  `, lines, `${base}  `);
        lines[0] = `${base}- ${lines[0]!.slice(base.length + 2)}`;
        out.push(...lines);
      } else emit(item, `${base}  `, out, `${base}- `);
    }
    return;
  }
  const keys = Object.keys(v);
  if (keys.length === 0) return void out.push(`${prefix}{}`);
  if (prefix.trim() !== "") out.push(prefix.trimEnd());
  const base = prefix.trim() === "" ? prefix : `${indent}`;
  for (const k of keys) {
    const child = v[k]!;
    const key = `${scalar(k)}:`;
    if (child !== null && typeof child === "object" && (Array.isArray(child) ? child.length > 0 : Object.keys(child).length > 0)) {
      emit(child, Array.isArray(child) ? base : `${base}  `, out, `${base}${key} `);
    } else emit(child, base, out, `${base}${key} `);
  }
}

/** YAML text of a JSON value, ending with a newline. */
export function toYaml(value: unknown): string {
  const out: string[] = [];
  emit(value as Json, "", out, "");
  return `${out.join("\n")}\n`;
}
