// API token secrets: minted once, shown once, stored only as a salted scrypt hash in PHC string form.
// A secret reads "orb_<id>_<random>": the id finds the stored hash without scanning, the random part is the
// credential. Verification is constant time.
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

const N_LOG2 = 14; // scrypt N = 16384, r = 8, p = 1: ~16 MiB and tens of ms per check on a router CPU
const R = 8;
const P = 1;
const KEY_BYTES = 32;

function scryptAsync(secret: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, KEY_BYTES, { N: n, r, p, maxmem: 64 << 20 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export interface MintedToken {
  id: string;
  secret: string;
  hash: string;
}

export async function mintToken(): Promise<MintedToken> {
  const id = randomBytes(6).toString("hex");
  const secret = `orb_${id}_${randomBytes(24).toString("base64url")}`;
  return { id, secret, hash: await hashSecret(secret) };
}

export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, 1 << N_LOG2, R, P);
  return `$scrypt$ln=${N_LOG2},r=${R},p=${P}$${salt.toString("base64url")}$${key.toString("base64url")}`;
}

/** The token id a presented secret claims, or undefined when it is not shaped like one of ours. */
export function tokenIdOf(secret: string): string | undefined {
  return /^orb_([0-9a-f]{12})_[A-Za-z0-9_-]{32}$/.exec(secret)?.[1];
}

export async function verifySecret(secret: string, phc: string): Promise<boolean> {
  const m = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(phc);
  if (!m) return false;
  const expected = Buffer.from(m[5]!, "base64url");
  const key = await scryptAsync(secret, Buffer.from(m[4]!, "base64url"), 1 << Number(m[1]), Number(m[2]), Number(m[3]));
  return key.length === expected.length && timingSafeEqual(key, expected);
}
