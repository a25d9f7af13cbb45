// POSIX ustar archives in memory: writes the archives a package file is made of and reads them back into
// entries (name, type, mode, link target, data). Knows nothing of what a package may contain: the package
// checks each entry (package-contents.ts).
const BLOCK = 512;

export type EntryType = "file" | "directory" | "symlink" | "hardlink" | "device" | "fifo" | "other";

export interface TarEntry {
  name: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky, as stored. */
  mode: number;
  linkName: string;
  data: Buffer;
}

const typeFlags: Record<string, EntryType> = { "0": "file", "\0": "file", "5": "directory", "2": "symlink", "1": "hardlink", "3": "device", "4": "device", "6": "fifo" };

export class TarFormatError extends Error {}

function field(block: Buffer, offset: number, length: number): string {
  const raw = block.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? length : end).toString("utf8");
}

function octal(block: Buffer, offset: number, length: number, what: string): number {
  const text = field(block, offset, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new TarFormatError(`bad ${what} field`);
  return text === "" ? 0 : parseInt(text, 8);
}

function checksumOf(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

/** Reads every entry of a ustar archive; throws TarFormatError on anything malformed or truncated. */
export function readTar(archive: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  while (offset + BLOCK <= archive.length) {
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) return entries;
    if (octal(header, 148, 8, "checksum") !== checksumOf(header)) throw new TarFormatError(`bad header checksum at byte ${offset}`);
    const size = octal(header, 124, 12, "size");
    const prefix = field(header, 257, 6) === "ustar" ? field(header, 345, 155) : "";
    const base = field(header, 0, 100);
    const name = prefix ? `${prefix}/${base}` : base;
    const flag = String.fromCharCode(header[156]!);
    const start = offset + BLOCK;
    if (start + size > archive.length) throw new TarFormatError(`entry ${name} is truncated`);
    entries.push({
      name,
      type: typeFlags[flag] ?? "other",
      mode: octal(header, 100, 8, "mode"),
      linkName: field(header, 157, 100),
      data: archive.subarray(start, start + size),
    });
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  throw new TarFormatError("archive ends without its end-of-archive blocks");
}

function put(header: Buffer, text: string, offset: number, length: number): void {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > length) throw new TarFormatError(`"${text}" does not fit a ${length}-byte tar field`);
  bytes.copy(header, offset);
}

const putOctal = (header: Buffer, value: number, offset: number, length: number) =>
  put(header, value.toString(8).padStart(length - 1, "0"), offset, length - 1);

const flagOf: Partial<Record<EntryType, string>> = { file: "0", directory: "5", symlink: "2", hardlink: "1", device: "3", fifo: "6" };

/** A ustar archive of the entries, in the order given (uid/gid 0, mtime 0: the same input gives the same bytes). */
export type NewTarEntry = Omit<TarEntry, "linkName" | "data"> & { linkName?: string; data?: Buffer };

export function writeTar(entries: readonly NewTarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const header = Buffer.alloc(BLOCK);
    const data = e.data ?? Buffer.alloc(0);
    let name = e.name;
    let prefix = "";
    if (Buffer.byteLength(name) > 100) {
      const cut = name.lastIndexOf("/", 155);
      if (cut <= 0) throw new TarFormatError(`name too long for ustar: ${name}`);
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
    }
    put(header, name, 0, 100);
    putOctal(header, e.mode & 0o7777, 100, 8);
    putOctal(header, 0, 108, 8);
    putOctal(header, 0, 116, 8);
    putOctal(header, data.length, 124, 12);
    putOctal(header, 0, 136, 12);
    header.write(flagOf[e.type] ?? "0", 156, "latin1");
    put(header, e.linkName ?? "", 157, 100);
    put(header, "ustar", 257, 6);
    put(header, "00", 263, 2);
    put(header, prefix, 345, 155);
    header.write(checksumOf(header).toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
    parts.push(header, data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
