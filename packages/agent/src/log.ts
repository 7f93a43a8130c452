/** Structured JSON log lines on stdout; the agent never logs keys, tokens or certificates' private parts. */
export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface AgentLog {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLog(
  level: Level = "info",
  write: (line: string) => void = (l) => process.stdout.write(l),
): AgentLog {
  const emit =
    (at: Level) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (ORDER[at] < ORDER[level]) return;
      write(
        `${JSON.stringify({ time: new Date().toISOString(), level: at, component: "agent", msg, ...fields })}\n`,
      );
    };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}
