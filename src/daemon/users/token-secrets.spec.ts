import { describe, expect, it } from "vitest";
import { hashSecret, mintToken, tokenIdOf, verifySecret } from "./token-secrets.js";

describe("token secrets", () => {
  it("verifies the minted secret against its stored hash and nothing else", async () => {
    const t = await mintToken();
    expect(tokenIdOf(t.secret)).toBe(t.id);
    expect(t.hash).not.toContain(t.secret);
    expect(t.hash).toMatch(/^\$scrypt\$ln=14,r=8,p=1\$/);
    expect(await verifySecret(t.secret, t.hash)).toBe(true);
    const last = t.secret.at(-1) === "x" ? "y" : "x";
    expect(await verifySecret(`${t.secret.slice(0, -1)}${last}`, t.hash)).toBe(false);
    expect(await verifySecret(t.secret, "$scrypt$garbage")).toBe(false);
  });

  it("salts every hash", async () => {
    expect(await hashSecret("same")).not.toBe(await hashSecret("same"));
  });

  it("refuses secrets of the wrong shape", () => {
    expect(tokenIdOf("Bearer x")).toBeUndefined();
    expect(tokenIdOf("orb_zz_")).toBeUndefined();
  });
});
