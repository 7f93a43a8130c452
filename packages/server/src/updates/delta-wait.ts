import type { Queryable } from "../store/store.ts";
import { deltaJobsOf, OPEN_DELTA_JOB_STATES } from "./delta-job-queries.ts";
import type { Deployment } from "./deployments.ts";

/**
 * Why a deployment admits no device yet, or null (issue #15 item 10): under delta policy
 * `require`, while a delta of its release is still being computed in the background
 * (`delta-jobs.ts`), its devices would find no delta target and fail; they wait instead, until
 * every delta of the release is ready, skipped or failed. `prefer` never waits: a device takes the
 * full image meanwhile (it finds no signed delta), and `off` takes it always.
 */
export async function deltaWaitReason(db: Queryable, deployment: Pick<Deployment, "releaseId" | "spec">) {
  if (deployment.spec.delta !== "require") return null;
  const open = (await deltaJobsOf(db, deployment.releaseId)).filter((j) =>
    OPEN_DELTA_JOB_STATES.includes(j.state),
  );
  if (open.length === 0) return null;
  const each = open.map(
    (j) =>
      `${j.artifactName} from ${j.baseVersion}: ${j.state}${j.state === "computing" ? `, ${j.progress.done} of ${j.progress.total} segments` : ""}`,
  );
  return `delta policy require: waiting for ${open.length} delta${open.length === 1 ? "" : "s"} still being computed (${each.join("; ")})`;
}
