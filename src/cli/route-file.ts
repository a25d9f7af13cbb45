// The line format of `orbctl route import`: "[TYPE] CIDR [via GW] [dev IF] [metric N] [table N]", "#"
// comments; `ip route show` output is accepted (its extra words are understood or ignored).

export interface RouteInit {
  destination: { cidr: string };
  table?: number;
  type?: number;
  gateway?: { address: string };
  interface?: string;
  metric?: number;
}

/** RouteType numbers of orbital.routing.v1 (kept here so that parsing a file loads no descriptors). */
export const ROUTE_TYPES: Record<string, number> = { unicast: 1, blackhole: 2, unreachable: 3, prohibit: 4 };

const IGNORED_WITH_VALUE = new Set(["proto", "scope", "src", "pref", "expires", "realm", "realms"]);
const IGNORED_FLAGS = new Set(["onlink", "linkdown", "dead", "pervasive", "offload", "trap"]);
const UINT32_MAX = 4294967295;

export type RouteLine = { route: RouteInit } | { error: string } | undefined;

function uint32(word: string | undefined, what: string): number | string {
  if (word === undefined || !/^\d+$/.test(word) || Number(word) > UINT32_MAX) return `${what} needs a number 0..${UINT32_MAX}`;
  return Number(word);
}

/** Parses one line: a route, an error text, or undefined for blank and comment lines. */
export function parseRouteLine(line: string): RouteLine {
  const words = line.replace(/#.*/, "").trim().split(/\s+/).filter((w) => w !== "");
  if (words.length === 0) return undefined;
  let i = 0;
  let type: number | undefined;
  if (ROUTE_TYPES[words[0]!] !== undefined) type = ROUTE_TYPES[words[i++]!];
  let cidr = words[i++];
  if (cidr === undefined) return { error: "missing destination prefix" };
  const route: RouteInit = { destination: { cidr } };
  if (type !== undefined) route.type = type;
  for (; i < words.length; i++) {
    const w = words[i]!;
    const next = words[i + 1];
    if (w === "via" || w === "dev" || w === "metric" || w === "table") {
      if (next === undefined) return { error: `"${w}" needs a value` };
      i++;
      if (w === "via") route.gateway = { address: next };
      else if (w === "dev") route.interface = next;
      else {
        const n = uint32(next, `"${w}"`);
        if (typeof n === "string") return { error: n };
        route[w] = n;
      }
    } else if (IGNORED_WITH_VALUE.has(w)) i++;
    else if (!IGNORED_FLAGS.has(w)) return { error: `unknown word "${w}"` };
  }
  // `ip route` writes "default" and host routes without a length.
  if (cidr === "default") cidr = route.gateway?.address.includes(":") ? "::/0" : "0.0.0.0/0";
  else if (/^\d+\.\d+\.\d+\.\d+$/.test(cidr)) cidr = `${cidr}/32`;
  else if (/^[0-9a-fA-F:.]+$/.test(cidr) && cidr.includes(":")) cidr = `${cidr}/128`;
  route.destination.cidr = cidr;
  return { route };
}
