/** Worker-thread entry of the document parser pool (see document-parser.ts). */
import type { MessagePort } from "node:worker_threads";
import type { BundleLimits } from "@bulwark/sdk/software/osv/bundle";
import { serveOsvBatches } from "./osv-stream.ts";
import { type ParseTask, settle } from "./tasks.ts";

export type WorkerTask =
  | ParseTask
  | { kind: "osv"; path: string; limits: BundleLimits | undefined; port: MessagePort };

export default async function run(task: WorkerTask): Promise<unknown> {
  if (task.kind === "osv") return serveOsvBatches(task.port, task.path, task.limits);
  return settle(task);
}
