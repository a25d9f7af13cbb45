// IP address and prefix parsing for the shared API types (IpAddress, IpPrefix, InterfaceAddress): exactly the
// rules written in orbital/api/v1/ip.proto, with canonical forms, so that every service validates them alike.
import net from "node:net";

export interface ParsedAddress {
  family: 4 | 6;
  /** Canonical text: dotted quad, or RFC 5952 compressed lower-case IPv6. */
  address: string;
  bytes: Uint8Array;
}

export interface ParsedCidr extends ParsedAddress {
  prefixLength: number;
  /** "<canonical address>/<length>" */
  cidr: string;
}

function toBytes(address: string, family: 4 | 6): Uint8Array {
  if (family === 4) return Uint8Array.from(address.split(".").map(Number));
  const [head = "", tail = ""] = address.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const h = groups(head);
  const t = address.includes("::") ? groups(tail) : [];
  const words = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    const v = parseInt(w, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

function canonicalV6(address: string): string {
  // The WHATWG URL parser serializes IPv6 hosts in the RFC 5952 form.
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** Parses a plain address; undefined when it is not one (zone indexes and prefix lengths are refused). */
export function parseAddress(text: string): ParsedAddress | undefined {
  if (net.isIPv4(text)) {
    if (text.split(".").some((p) => p.length > 1 && p.startsWith("0"))) return undefined; // no octal-looking octets
    return { family: 4, address: text, bytes: toBytes(text, 4) };
  }
  if (net.isIPv6(text) && !text.includes("%") && !text.includes(".")) {
    const address = canonicalV6(text);
    return { family: 6, address, bytes: toBytes(address, 6) };
  }
  return undefined;
}

function parseCidr(text: string): ParsedCidr | undefined {
  const slash = text.indexOf("/");
  if (slash < 0 || !/^\d{1,3}$/.test(text.slice(slash + 1))) return undefined;
  const addr = parseAddress(text.slice(0, slash));
  if (!addr) return undefined;
  const prefixLength = Number(text.slice(slash + 1));
  if (prefixLength > (addr.family === 4 ? 32 : 128)) return undefined;
  return { ...addr, prefixLength, cidr: `${addr.address}/${prefixLength}` };
}

function hostBitsZero(bytes: Uint8Array, prefixLength: number): boolean {
  for (let bit = prefixLength; bit < bytes.length * 8; bit++) {
    if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) return false;
  }
  return true;
}

/** An IpPrefix: a network, host bits zero. The error says what is wrong. */
export function parsePrefix(text: string): ParsedCidr | string {
  const p = parseCidr(text);
  if (!p) return `"${text}" is not "<address>/<length>" (IPv4 length 0..32, IPv6 0..128)`;
  if (!hostBitsZero(p.bytes, p.prefixLength)) return `"${text}" has host bits set`;
  return p;
}

/** An InterfaceAddress: a host address with its subnet length (1..32 / 1..128). */
export function parseInterfaceAddress(text: string): ParsedCidr | string {
  const p = parseCidr(text);
  if (!p || p.prefixLength === 0) return `"${text}" is not "<address>/<length>" (IPv4 length 1..32, IPv6 1..128)`;
  return p;
}

/** Whether `address` lies inside `prefix`. */
export function prefixContains(prefix: ParsedCidr, address: ParsedAddress): boolean {
  if (prefix.family !== address.family) return false;
  for (let bit = 0; bit < prefix.prefixLength; bit++) {
    const mask = 1 << (7 - (bit & 7));
    if ((prefix.bytes[bit >> 3]! & mask) !== (address.bytes[bit >> 3]! & mask)) return false;
  }
  return true;
}
