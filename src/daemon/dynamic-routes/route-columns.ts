// The routes of one dynamic route set in compact form: typed-array columns, one slot per route, and an
// open-addressing hash index on each route's key (table, family, destination); no JS object per route. It
// holds what the daemon needs to list, compare, reinstall and withdraw a route; it knows nothing of the
// kernel or the API. Slots stay dense (a removal moves the last slot into the hole).

/** The route has a gateway (gw words are meaningful). */
export const HAS_GATEWAY = 1;
/** The kernel holds it (its last add or replace was acknowledged). */
export const INSTALLED = 2;
/** Held from before its owner resumed the set, not resent since. */
export const STALE = 4;

/** One route's fields, parsed once and reused for every route of a batch (no allocation per route). */
export class RouteRecord {
  family: 4 | 6 = 4;
  /** Kernel table id (254 for main). */
  table = 254;
  prefixLength = 0;
  /** Destination address: word 0 for IPv4, words 0..3 (big-endian words) for IPv6. */
  readonly dst = new Uint32Array(4);
  /** rtm_type. */
  type = 1;
  /** Egress ifindex; 0 for none. */
  oif = 0;
  hasGateway = false;
  readonly gw = new Uint32Array(4);
}

const EMPTY = -1;
const TOMBSTONE = -2;
const MIN_CAPACITY = 1024;

function mix(h: number, w: number): number {
  h = Math.imul(h ^ w, 0x85ebca6b);
  return h ^ (h >>> 13);
}

export class RouteColumns {
  private capacity = 0;
  /** Slots in use, 0..size-1. */
  private used = 0;
  private family = new Uint8Array(0);
  private prefixLength = new Uint8Array(0);
  private type = new Uint8Array(0);
  private flagBits = new Uint8Array(0);
  private table = new Uint32Array(0);
  private oif = new Int32Array(0);
  private dst = new Uint32Array(0);
  private gw = new Uint32Array(0);
  /** Hash index: slot numbers, EMPTY or TOMBSTONE; its length is a power of two, at most half full. */
  private index = new Int32Array(0);
  private tombstones = 0;
  /** Bumped on every insert and removal (sorted views are cached per version). */
  version = 0;
  private sortedCache: { version: number; slots: Int32Array } | undefined;

  get size(): number {
    return this.used;
  }

  /** Bytes of the columns and the index (what the set costs beside the kernel's own copy). */
  get bytes(): number {
    return this.capacity * 44 + this.index.byteLength + (this.sortedCache?.slots.byteLength ?? 0);
  }

  /** The slot holding r's key, or -1. */
  find(r: RouteRecord): number {
    if (this.used === 0) return -1;
    const mask = this.index.length - 1;
    for (let i = this.hash(r) & mask; ; i = (i + 1) & mask) {
      const s = this.index[i]!;
      if (s === EMPTY) return -1;
      if (s >= 0 && this.keyEquals(s, r)) return s;
    }
  }

  /** Adds r (its key must not be held: find() first) with `flags`; returns its slot. */
  insert(r: RouteRecord, flags: number): number {
    if (this.used === this.capacity) this.grow();
    if ((this.used + this.tombstones + 1) * 2 > this.index.length) this.rehash(this.index.length * (this.used * 4 > this.index.length ? 2 : 1));
    const slot = this.used++;
    this.write(slot, r, flags);
    const mask = this.index.length - 1;
    for (let i = this.hash(r) & mask; ; i = (i + 1) & mask) {
      const s = this.index[i]!;
      if (s === EMPTY || s === TOMBSTONE) {
        if (s === TOMBSTONE) this.tombstones--;
        this.index[i] = slot;
        break;
      }
    }
    this.version++;
    return slot;
  }

  /** Overwrites the non-key fields of `slot` with r's, and its flags. */
  update(slot: number, r: RouteRecord, flags: number): void {
    this.type[slot] = r.type;
    this.oif[slot] = r.oif;
    for (let w = 0; w < 4; w++) this.gw[slot * 4 + w] = r.hasGateway ? r.gw[w]! : 0;
    this.flagBits[slot] = (flags & ~HAS_GATEWAY) | (r.hasGateway ? HAS_GATEWAY : 0);
    this.version++;
  }

  /** Removes `slot`; the last slot moves into it (so a loop that removes while it walks goes downwards). */
  remove(slot: number): void {
    this.setIndexEntry(slot, TOMBSTONE);
    this.tombstones++;
    const last = this.used - 1;
    if (slot !== last) {
      this.copySlot(last, slot);
      this.setIndexEntry(last, slot);
    }
    this.used--;
    this.version++;
  }

  flags(slot: number): number {
    return this.flagBits[slot]!;
  }

  setFlags(slot: number, flags: number): void {
    this.flagBits[slot] = (flags & ~HAS_GATEWAY) | (this.flagBits[slot]! & HAS_GATEWAY);
  }

  /** Reads slot into r. */
  read(slot: number, r: RouteRecord): RouteRecord {
    r.family = this.family[slot] as 4 | 6;
    r.prefixLength = this.prefixLength[slot]!;
    r.table = this.table[slot]!;
    r.type = this.type[slot]!;
    r.oif = this.oif[slot]!;
    r.hasGateway = (this.flagBits[slot]! & HAS_GATEWAY) !== 0;
    for (let w = 0; w < 4; w++) {
      r.dst[w] = this.dst[slot * 4 + w]!;
      r.gw[w] = this.gw[slot * 4 + w]!;
    }
    return r;
  }

  /** Whether slot's non-key fields equal r's. */
  sameTarget(slot: number, r: RouteRecord): boolean {
    if (this.type[slot] !== r.type || this.oif[slot] !== r.oif) return false;
    const has = (this.flagBits[slot]! & HAS_GATEWAY) !== 0;
    if (has !== r.hasGateway) return false;
    if (!has) return true;
    for (let w = 0; w < 4; w++) if (this.gw[slot * 4 + w] !== r.gw[w]) return false;
    return true;
  }

  /** Slots ordered by table, family, destination and prefix length; cached until the next change. */
  sorted(): Int32Array {
    if (this.sortedCache?.version === this.version) return this.sortedCache.slots;
    this.sortedCache = undefined; // let the old one go before the new one is made
    const slots = new Int32Array(this.used);
    for (let i = 0; i < this.used; i++) slots[i] = i;
    slots.sort((a, b) => this.compare(a, b));
    this.sortedCache = { version: this.version, slots };
    return slots;
  }

  private compare(a: number, b: number): number {
    const d = this.table[a]! - this.table[b]! || this.family[a]! - this.family[b]!;
    if (d) return d;
    for (let w = 0; w < 4; w++) {
      const x = this.dst[a * 4 + w]!;
      const y = this.dst[b * 4 + w]!;
      if (x !== y) return x < y ? -1 : 1;
    }
    return this.prefixLength[a]! - this.prefixLength[b]!;
  }

  private hash(r: RouteRecord): number {
    let h = mix(0x9e3779b1, r.table);
    h = mix(h, (r.family << 8) | r.prefixLength);
    h = mix(h, r.dst[0]!);
    if (r.family === 6) {
      h = mix(h, r.dst[1]!);
      h = mix(h, r.dst[2]!);
      h = mix(h, r.dst[3]!);
    }
    h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }

  private keyEquals(slot: number, r: RouteRecord): boolean {
    if (this.table[slot] !== r.table || this.family[slot] !== r.family || this.prefixLength[slot] !== r.prefixLength) return false;
    const b = slot * 4;
    return this.dst[b] === r.dst[0] && this.dst[b + 1] === r.dst[1] && this.dst[b + 2] === r.dst[2] && this.dst[b + 3] === r.dst[3];
  }

  /** Points the index entry that holds `slot` at `to`. */
  private setIndexEntry(slot: number, to: number): void {
    const key = this.read(slot, scratch);
    const mask = this.index.length - 1;
    for (let i = this.hash(key) & mask; ; i = (i + 1) & mask) {
      if (this.index[i] === slot) {
        this.index[i] = to;
        return;
      }
    }
  }

  private write(slot: number, r: RouteRecord, flags: number): void {
    this.family[slot] = r.family;
    this.prefixLength[slot] = r.prefixLength;
    this.table[slot] = r.table;
    for (let w = 0; w < 4; w++) this.dst[slot * 4 + w] = r.dst[w]!;
    this.update(slot, r, flags);
  }

  private copySlot(from: number, to: number): void {
    this.family[to] = this.family[from]!;
    this.prefixLength[to] = this.prefixLength[from]!;
    this.type[to] = this.type[from]!;
    this.flagBits[to] = this.flagBits[from]!;
    this.table[to] = this.table[from]!;
    this.oif[to] = this.oif[from]!;
    this.dst.copyWithin(to * 4, from * 4, from * 4 + 4);
    this.gw.copyWithin(to * 4, from * 4, from * 4 + 4);
  }

  private grow(): void {
    const capacity = Math.max(MIN_CAPACITY, this.capacity * 2);
    const widen = <T extends Uint8Array | Uint32Array | Int32Array>(old: T, make: (n: number) => T, per = 1): T => {
      const next = make(capacity * per);
      next.set(old);
      return next;
    };
    this.family = widen(this.family, (n) => new Uint8Array(n));
    this.prefixLength = widen(this.prefixLength, (n) => new Uint8Array(n));
    this.type = widen(this.type, (n) => new Uint8Array(n));
    this.flagBits = widen(this.flagBits, (n) => new Uint8Array(n));
    this.table = widen(this.table, (n) => new Uint32Array(n));
    this.oif = widen(this.oif, (n) => new Int32Array(n));
    this.dst = widen(this.dst, (n) => new Uint32Array(n), 4);
    this.gw = widen(this.gw, (n) => new Uint32Array(n), 4);
    this.capacity = capacity;
  }

  private rehash(length: number): void {
    const size = Math.max(MIN_CAPACITY * 2, length);
    this.index = new Int32Array(size).fill(EMPTY);
    this.tombstones = 0;
    const mask = size - 1;
    for (let slot = 0; slot < this.used; slot++) {
      let i = this.hash(this.read(slot, scratch)) & mask;
      while (this.index[i] !== EMPTY) i = (i + 1) & mask;
      this.index[i] = slot;
    }
  }
}

const scratch = new RouteRecord();
