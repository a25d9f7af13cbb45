// Text forms of a RouteRecord's addresses: parses a destination prefix or a gateway into its words (IPv4 on a
// fast path without allocation, IPv6 through the shared parser) and formats them back canonically. The rules
// are validation/ip.ts's: no other forms are accepted.
import { parseAddress, parsePrefix } from "../validation/ip.js";
import type { RouteRecord } from "./route-columns.js";

/** Parses "a.b.c.d" in text[start, end) into a number; -1 when it is not a plain dotted quad. */
function quad(text: string, start: number, end: number): number {
  let value = 0;
  let octets = 0;
  let i = start;
  while (octets < 4) {
    let n = 0;
    const from = i;
    for (; i < end; i++) {
      const c = text.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      n = n * 10 + c;
    }
    const digits = i - from;
    if (digits === 0 || digits > 3 || n > 255 || (digits > 1 && text.charCodeAt(from) === 48)) return -1;
    value = value * 256 + n;
    octets++;
    if (octets < 4) {
      if (text.charCodeAt(i) !== 46) return -1;
      i++;
    }
  }
  return i === end ? value : -1;
}

/** An address's 4 or 16 bytes as big-endian words (an IPv4 one in word 0, the others zero). */
function bytesToWords(bytes: Uint8Array, out: Uint32Array): void {
  out.fill(0);
  for (let w = 0; w * 4 < bytes.length; w++) out[w] = ((bytes[w * 4]! << 24) | (bytes[w * 4 + 1]! << 16) | (bytes[w * 4 + 2]! << 8) | bytes[w * 4 + 3]!) >>> 0;
}

/** Fills r's family, prefix length and destination from a prefix; returns what is wrong, or undefined. */
export function parseDestination(text: string, r: RouteRecord): string | undefined {
  const slash = text.indexOf("/");
  if (slash > 0 && slash >= text.length - 3 && text.indexOf(":") < 0) {
    const addr = quad(text, 0, slash);
    const lenText = text.slice(slash + 1);
    if (addr >= 0 && /^(?:\d|[12]\d|3[0-2])$/.test(lenText)) {
      const len = Number(lenText);
      const hostMask = len === 32 ? 0 : 0xffffffff >>> len;
      if ((addr & hostMask) >>> 0 !== 0) return `"${text}" has host bits set`;
      r.family = 4;
      r.prefixLength = len;
      r.dst[0] = addr >>> 0;
      r.dst[1] = r.dst[2] = r.dst[3] = 0;
      return undefined;
    }
  }
  const p = parsePrefix(text);
  if (typeof p === "string") return p;
  r.family = p.family;
  r.prefixLength = p.prefixLength;
  bytesToWords(p.bytes, r.dst);
  return undefined;
}

/** Fills r's gateway from an address of `family`; returns what is wrong, or undefined. */
export function parseGateway(text: string, r: RouteRecord): string | undefined {
  if (r.family === 4) {
    const addr = quad(text, 0, text.length);
    if (addr >= 0) {
      r.hasGateway = true;
      r.gw[0] = addr;
      r.gw[1] = r.gw[2] = r.gw[3] = 0;
      return undefined;
    }
  }
  const a = parseAddress(text);
  if (!a) return `"${text}" is not an IP address`;
  if (a.family !== r.family) return `an IPv${a.family} gateway cannot serve an IPv${r.family} destination`;
  r.hasGateway = true;
  bytesToWords(a.bytes, r.gw);
  return undefined;
}

function formatV4(w: number): string {
  return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
}

/** RFC 5952: lower-case hex groups, the longest run (two or more) of zero groups as "::". */
function formatV6(words: Uint32Array): string {
  const groups: number[] = [];
  for (let w = 0; w < 4; w++) groups.push(words[w]! >>> 16, words[w]! & 0xffff);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

export function formatDestination(r: RouteRecord): string {
  return `${r.family === 4 ? formatV4(r.dst[0]!) : formatV6(r.dst)}/${r.prefixLength}`;
}

/** The gateway's text; "" when r has none. */
export function formatGateway(r: RouteRecord): string {
  if (!r.hasGateway) return "";
  return r.family === 4 ? formatV4(r.gw[0]!) : formatV6(r.gw);
}
