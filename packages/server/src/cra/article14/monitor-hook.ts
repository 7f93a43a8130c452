import type { SoftwareMonitor } from "../../software/monitor.ts";

type Flow = "importAdvisories" | "importKev" | "attachSbom";
const FLOWS: readonly Flow[] = ["importAdvisories", "importKev", "attachSbom"];

/**
 * Wakes the Article 14 watcher after each software-monitor flow settles (committed or not), so a
 * finding that just became known-exploited opens its candidate at once. The monitor's own callback
 * fires only when webhook deliveries were queued; a commit hook in the monitor would replace this.
 */
export function wakeAfterFlows(monitor: SoftwareMonitor, wake: () => void): void {
  for (const name of FLOWS) {
    const original = monitor[name].bind(monitor) as (...args: unknown[]) => Promise<unknown>;
    const wrapped = async (...args: unknown[]) => {
      try {
        return await original(...args);
      } finally {
        wake();
      }
    };
    Object.defineProperty(monitor, name, { value: wrapped, configurable: true, writable: true });
  }
}
