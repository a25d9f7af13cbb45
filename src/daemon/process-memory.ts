// Keeps orbitald's resident memory close to what it uses, for a router with 512 MB of RAM: V8's memory saver
// mode, and a reducer that, once the daemon is idle after its memory grew, collects V8's garbage and hands the
// C heap's free pages back to the kernel. The heap sizes are not set here: V8 reads them only when the process
// starts, so they come from the executable's execArgv (EXEC_ARGV in scripts/build-sea.mjs). docs/operations.md
// ("Memory") has the figures behind each choice.
import v8 from "node:v8";
import vm from "node:vm";
import type { Logger } from "../common/logger.js";
import { loadNativeAddon } from "./native-addon.js";

/** How often the reducer looks at the process. */
export const MEMORY_CHECK_INTERVAL_MS = 1_000;
/** RSS grown by this much since the last reduction is worth a full GC once the daemon is idle. */
const REDUCE_AFTER_GROWTH_BYTES = 4 << 20;
/** An interval in which the daemon used less CPU than this share of it is idle (CPU, not wall time: a busy machine stalls an idle daemon too). */
const IDLE_CPU_SHARE = 0.1;

interface MallocTrimAddon {
  trim(): boolean;
}

/**
 * Memory saver mode makes every full GC of V8 13 (Node 24) reduce memory: without it V8 keeps the pages freed
 * by a GC in a pool for reuse, which after a burst of connections held ~50 MB. Unlike the heap sizes it takes
 * effect at run time, so it applies to orbitald and not to orbctl (where it would cost ~10% of a command's
 * start-up CPU). Node 20's V8 (11.3) has no such flag and no such pool.
 */
function v8HasMemorySaverMode(): boolean {
  return Number(process.versions.v8.split(".")[0]) >= 13;
}

/**
 * What a burst of connections leaves behind stays resident when nothing collects it: the buffers of closed
 * connections are garbage that V8 collects only when the daemon allocates again, and glibc's malloc returns
 * freed memory only from the top of its heaps. So every interval the C heap's free pages go back to the kernel
 * (malloc_trim), and when the daemon was idle for an interval and its RSS grew by REDUCE_AFTER_GROWTH_BYTES since
 * the last reduction, a full GC runs first. That costs one GC (a few ms at this heap size) per burst, not per interval.
 */
function memoryReducer(log: Logger, trim: (() => boolean) | undefined): () => void {
  // gc() from a context made after the flag is set: the daemon's own global scope gets no gc
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  let cpu = process.cpuUsage();
  let floor = process.memoryUsage.rss();
  return () => {
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const idle = (used.user + used.system) / 1000 < MEMORY_CHECK_INTERVAL_MS * IDLE_CPU_SHARE;
    const rss = process.memoryUsage.rss();
    const reduce = idle && rss > floor + REDUCE_AFTER_GROWTH_BYTES;
    if (reduce) gc();
    trim?.();
    if (reduce) {
      floor = process.memoryUsage.rss();
      log.debug({ rssBefore: rss, rssAfter: floor }, "memory reduced");
    } else floor = Math.min(floor, rss);
  };
}

/** Applies both; what could not be applied is logged, and the daemon runs on without it. */
export function tuneProcessMemory(log: Logger): void {
  const memorySaver = v8HasMemorySaverMode();
  if (memorySaver) v8.setFlagsFromString("--memory-saver-mode");
  const addon = loadNativeAddon<MallocTrimAddon>("malloc-trim");
  if (!addon.loaded) log.warn({ cause: addon.cause }, "malloc's free pages stay resident: the malloc-trim addon is missing");
  setInterval(memoryReducer(log, addon.loaded ? addon.addon.trim : undefined), MEMORY_CHECK_INTERVAL_MS).unref();
  const heap = v8.getHeapStatistics();
  log.info({ execArgv: process.execArgv, heapLimitMiB: Math.round(heap.heap_size_limit / 2 ** 20), memorySaver, mallocTrim: addon.loaded }, "process memory");
}
