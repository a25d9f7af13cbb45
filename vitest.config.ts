import { defineConfig } from "vitest/config";

// Unit specs live beside the code (src/**/*.spec.ts); contract, integration and fault tests under test/.
export default defineConfig({
  test: {
    include: ["src/**/*.spec.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
