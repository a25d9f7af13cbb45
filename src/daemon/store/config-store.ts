// The running configuration and its persistence under the data dir. Commits are serialized (one at a time,
// in call order), each one is built on a copy, persisted atomically, and only then becomes the running
// configuration: a failed commit changes nothing. Transactions and revision history build on this.
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { clone, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import {
  RevisionSchema,
  type Revision,
  type RevisionInfo,
} from "../../gen/orbital/config/v1/config_pb.js";
import { ConfigurationSchema, type Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import type { Logger } from "../../common/logger.js";
import { writeFileAtomic } from "./atomic-file.js";

export interface CommitMeta {
  author: string;
  comment?: string;
  traceId?: string;
}

export type Mutation<T> = (candidate: Configuration) => T;

export class ConfigStore {
  private current: Revision;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly file: string;

  private constructor(dir: string, initial: Revision) {
    this.file = path.join(dir, "running.binpb");
    this.current = initial;
  }

  /** Opens the store in `dataDir`, loading the persisted running configuration (empty on first start). */
  static open(dataDir: string, log: Logger): ConfigStore {
    const dir = path.join(dataDir, "config");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, "running.binpb");
    let initial = create(RevisionSchema, {
      info: { revision: 0n, author: "system", comment: "empty configuration" },
      configuration: create(ConfigurationSchema),
    });
    try {
      initial = fromBinary(RevisionSchema, readFileSync(file));
      log.info({ revision: initial.info?.revision.toString() }, "loaded running configuration");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`cannot load ${file}: ${(err as Error).message}`, { cause: err });
      log.info("no configuration yet: starting with the empty configuration");
    }
    return new ConfigStore(dir, initial);
  }

  /** The running configuration. Callers must not mutate it. */
  get running(): Configuration {
    return this.current.configuration ?? create(ConfigurationSchema);
  }

  get revision(): bigint {
    return this.current.info?.revision ?? 0n;
  }

  /**
   * Applies `mutate` to a copy of the running configuration and persists it as the next revision. Throws
   * whatever `mutate` throws (nothing is persisted then) or STORAGE_FULL when it cannot be written.
   */
  commit<T>(mutate: Mutation<T>, meta: CommitMeta): Promise<{ result: T; info: RevisionInfo }> {
    const run = async () => {
      const candidate = clone(ConfigurationSchema, this.running);
      const result = mutate(candidate);
      const next = create(RevisionSchema, {
        info: {
          revision: this.revision + 1n,
          author: meta.author,
          commitTime: timestampNow(),
          comment: meta.comment ?? "",
          traceId: meta.traceId ?? "",
        },
        configuration: candidate,
      });
      writeFileAtomic(this.file, toBinary(RevisionSchema, next));
      this.current = next;
      return { result, info: next.info! };
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }
}
