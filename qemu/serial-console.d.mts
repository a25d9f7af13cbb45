// Types of serial-console.mjs (plain ESM, so that node runs it without a compile step) for TypeScript tests.
import type { ChildProcess } from "node:child_process";

export declare const repoRoot: string;
export declare function plainText(s: string): string;

export declare const guest: {
  loginPrompt: RegExp;
  apiReady: RegExp;
  rootPrompt: RegExp;
  orbctlPrompt: RegExp;
  initialPassword: string;
};

export declare class ConsoleTimeout extends Error {}

export interface Expectation {
  match: RegExpExecArray;
  before: string;
  at: number;
}

export declare class SerialConsole {
  static start(options?: { board?: string; args?: string[]; env?: NodeJS.ProcessEnv; transcript?: string }): SerialConsole;
  readonly child: ChildProcess;
  /** Everything printed so far, control sequences removed. */
  readonly text: string;
  readonly stderr: string;
  now(): number;
  expect(pattern: RegExp | string, options?: { timeoutMs?: number; what?: string }): Promise<Expectation>;
  seen(pattern: RegExp, options?: { timeoutMs?: number; what?: string; from?: number }): Promise<number>;
  mark(): number;
  skip(): void;
  tail(lines?: number): string;
  send(text: string): void;
  sendLine(line: string): void;
  login(user: string, password: string, prompt: RegExp): Promise<Expectation>;
  command(line: string, prompt: RegExp, options?: { timeoutMs?: number }): Promise<string>;
  sh(line: string, options?: { timeoutMs?: number }): Promise<{ out: string; status: number }>;
  waitExit(timeoutMs?: number): Promise<number | string>;
  kill(): Promise<void>;
}
