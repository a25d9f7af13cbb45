// Checks a verity bundle's payload against the dm-verity hash tree its signed manifest names, before RAUC
// writes anything. RAUC verifies a verity bundle block by block as it reads it (dm-verity), so a damaged or
// tampered payload fails only part-way through the install, after the target slot was marked bad and partly
// overwritten: the previous release in it is gone. Reading the whole payload first makes such a bundle a
// refusal that writes nothing. (A file changed between this check and RAUC's read still fails in dm-verity.)
//
// Layout of a verity bundle (RAUC 1.8): the payload (a squashfs padded to 4 KiB blocks), its hash tree
// (`Verity Size` bytes), the CMS signature, the signature's size (8 bytes, big-endian). The tree is dm-verity's
// format 1 as `veritysetup format` writes it: SHA-256 of salt + block, 4 KiB data and hash blocks, 128 hashes
// a block, zero padded; levels stored top level first; the root hash is that of the top level's one block.
import { createHash } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import { RaucFailure } from "./rauc-cli.js";

/** What the signed manifest says of the payload ("Verity Salt", "Verity Hash", "Verity Size"). */
export interface VerityParams {
  /** Hex. */
  salt: string;
  /** Hex: the root hash. */
  rootHash: string;
  /** Bytes of the hash tree after the payload. */
  hashTreeBytes: number;
}

const BLOCK = 4096;
const HASHES_PER_BLOCK = BLOCK / 32;
/** How much of the payload is read (and hashed) between yields to the event loop. */
const CHUNK = 256 * BLOCK;

const tampered = (detail: string) => new RaucFailure("tampered", detail);

/** Throws RaucFailure "tampered" unless the payload and its hash tree match the signed root hash. */
export async function checkVerityPayload(bundlePath: string, v: VerityParams): Promise<void> {
  const salt = Buffer.from(v.salt, "hex");
  const hash = (block: Uint8Array) => createHash("sha256").update(salt).update(block).digest();
  const file = await open(bundlePath, "r");
  try {
    const size = (await file.stat()).size;
    if (size < BLOCK + 8) throw tampered(`the verity bundle is too small (${size} B)`);
    const tail = await readExactly(file, size - 8, 8);
    const signatureBytes = Number(tail.readBigUInt64BE(0));
    const treeEnd = size - 8 - signatureBytes;
    const payloadBytes = treeEnd - v.hashTreeBytes;
    if (signatureBytes <= 0 || payloadBytes <= 0 || payloadBytes % BLOCK !== 0 || v.hashTreeBytes % BLOCK !== 0) {
      throw tampered(`the verity bundle's layout does not add up (payload ${payloadBytes} B, hash tree ${v.hashTreeBytes} B, signature ${signatureBytes} B)`);
    }
    // Level 0: a hash of every payload block.
    let level: Buffer[] = [];
    for (let at = 0; at < payloadBytes; at += CHUNK) {
      const chunk = await readExactly(file, at, Math.min(CHUNK, payloadBytes - at));
      for (let o = 0; o < chunk.length; o += BLOCK) level.push(hash(chunk.subarray(o, o + BLOCK)));
    }
    // Upward: hash blocks of 128 hashes, until one block is left (one payload block: its hash is the root).
    const levels: Buffer[] = [];
    while (level.length > 1) {
      const blocks: Buffer[] = [];
      for (let i = 0; i < level.length; i += HASHES_PER_BLOCK) {
        const block = Buffer.alloc(BLOCK);
        Buffer.concat(level.slice(i, i + HASHES_PER_BLOCK)).copy(block);
        blocks.push(block);
      }
      levels.unshift(Buffer.concat(blocks));
      level = blocks.length === 1 ? [hash(blocks[0]!)] : blocks.map(hash);
    }
    if (level[0]!.toString("hex") !== v.rootHash.toLowerCase()) {
      throw tampered("the payload does not match the root hash in the signed manifest");
    }
    const tree = Buffer.concat(levels);
    if (tree.length !== v.hashTreeBytes || !tree.equals(await readExactly(file, payloadBytes, v.hashTreeBytes))) {
      throw tampered("the hash tree after the payload does not match the payload");
    }
  } finally {
    await file.close();
  }
}

async function readExactly(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await file.read(buf, 0, length, position);
  if (bytesRead !== length) throw tampered(`the bundle ends early (${bytesRead} of ${length} B at ${position})`);
  return buf;
}
