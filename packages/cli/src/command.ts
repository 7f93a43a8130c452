import type { ApiClient } from "./client.ts";

/** What a command writes to and reads its environment from (tests pass their own). */
export interface Io {
  stdout: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

/** One CLI command: its arguments in, an exit code out. */
export type Command = (args: string[], api: () => Promise<ApiClient>, io: Io) => Promise<number>;
