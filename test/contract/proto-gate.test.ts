// Contract test of the versioning gate itself: `npm run proto:check` passes on this tree, and fails on a
// copy where a v1 field was removed (breaking change) or where generated code was edited by hand (stale).
import { spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/proto-image.js";

const copies: string[] = [];

/** A scratch copy of everything proto:check reads. */
function copyTree(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "orbital-proto-gate-"));
  copies.push(dir);
  for (const entry of ["buf.yaml", "buf.gen.yaml", "proto", "proto-baseline", "src/gen", "src/common", "scripts", "docs"]) {
    cpSync(path.join(repoRoot, entry), path.join(dir, entry), { recursive: true });
  }
  symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

function protoCheck(dir: string): { status: number | null; output: string } {
  const r = spawnSync("bash", ["scripts/proto-check.sh"], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, PATH: `${path.join(repoRoot, "node_modules", ".bin")}:${process.env.PATH}` },
  });
  return { status: r.status, output: r.stdout + r.stderr };
}

afterEach(() => {
  for (const dir of copies.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("proto:check", () => {
  it("passes on the committed tree", () => {
    const r = protoCheck(copyTree());
    expect(r.output).toContain("proto:check: ok");
    expect(r.status).toBe(0);
  });

  it("fails when a field is removed from a v1 message", () => {
    const dir = copyTree();
    const file = path.join(dir, "proto/orbital/routing/v1/routing.proto");
    const source = readFileSync(file, "utf8");
    const field = "  uint32 metric = 6;\n";
    expect(source).toContain(field);
    writeFileSync(file, source.replace(field, ""));
    const r = protoCheck(dir);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/Previously present field "6" with name "metric" on message "Route" was deleted/);
  });

  it("fails when generated code was edited by hand", () => {
    const dir = copyTree();
    appendFileSync(path.join(dir, "src/gen/orbital/routing/v1/routing_pb.ts"), "\nexport const handEdit = 1;\n");
    const r = protoCheck(dir);
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("src/gen/ is stale or was edited by hand");
  });

  it("fails when the generated catalogues in docs/api.md are stale", () => {
    const dir = copyTree();
    const file = path.join(dir, "docs/api.md");
    writeFileSync(file, readFileSync(file, "utf8").replace("| `INVALID_PREFIX` | INVALID_ARGUMENT | 400 |", "| `INVALID_PREFIX` | INVALID_ARGUMENT | 418 |"));
    const r = protoCheck(dir);
    expect(r.status).not.toBe(0);
    expect(r.output).toContain("docs/api.md catalogues are stale");
  });

  it("fails on a lint error", () => {
    const dir = copyTree();
    const file = path.join(dir, "proto/orbital/system/v1/system.proto");
    const source = readFileSync(file, "utf8");
    expect(source).toContain("bool config_fallback = 4;");
    writeFileSync(file, source.replace("bool config_fallback = 4;", "bool configFallback = 4;"));
    const r = protoCheck(dir);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/configFallback.*lower_snake_case/);
  });
});
