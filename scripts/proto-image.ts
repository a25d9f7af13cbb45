// Builds the contract from proto/ with buf, comments included, into a registry of descriptors. The docs
// generator and the contract tests read the source this way; the daemon uses the generated code instead.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createFileRegistry, fromBinary, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Runs `buf build` on the module at `root` (default: this repository) and returns its descriptors. */
export function loadProtoImage(root: string = repoRoot): FileRegistry {
  const buf = path.join(repoRoot, "node_modules", ".bin", "buf");
  const bytes = execFileSync(buf, ["build", "-o", "-#format=binpb"], { cwd: root, maxBuffer: 64 << 20 });
  return createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes));
}
