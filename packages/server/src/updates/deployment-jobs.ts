import { createHash, randomUUIDv7 } from "node:crypto";
import { isTerminalJobState, type JobState, TERMINAL_JOB_STATES } from "@bulwark/sdk/wire/jobs";
import { chunks, placeholders } from "../store/placeholders.ts";
import type { Queryable } from "../store/store.ts";

/** One device's job in a deployment (issue #15 item 4: per-device job states, every transition stored). */
export interface Job {
  id: string;
  deploymentId: string;
  deviceId: string;
  state: JobState;
  wave: number;
  reason: string | null;
  progress: { bytes: number; total: number } | null;
  deferUntil: number | null;
  deadlineAt: number;
  updatedAt: string;
}

interface Row {
  id: string;
  deployment_id: string;
  device_id: string;
  state: JobState;
  wave: number;
  reason: string | null;
  progress_bytes: number | string | null;
  progress_total: number | string | null;
  defer_until: number | string | null;
  deadline_at: number | string;
  updated_at: number | string;
}

const toJob = (r: Row): Job => ({
  id: r.id,
  deploymentId: r.deployment_id,
  deviceId: r.device_id,
  state: r.state,
  wave: Number(r.wave),
  reason: r.reason,
  progress:
    r.progress_total === null ? null : { bytes: Number(r.progress_bytes), total: Number(r.progress_total) },
  deferUntil: r.defer_until === null ? null : Number(r.defer_until),
  deadlineAt: Number(r.deadline_at),
  updatedAt: new Date(Number(r.updated_at)).toISOString(),
});

/** Who caused a transition: the device, the rollout engine, or an operator (audit actor id). */
export type JobActor = "device" | "system" | `operator:${string}`;

// Orders a job's events even within one millisecond: microseconds since the epoch, never repeating here.
let lastSeq = 0;
const nextSeq = () => {
  lastSeq = Math.max(lastSeq + 1, Date.now() * 1000);
  return lastSeq;
};

const TERMINAL_LIST = TERMINAL_JOB_STATES.map((s) => `'${s}'`).join(", ");

export async function jobsOf(db: Queryable, deploymentId: string): Promise<Job[]> {
  return (
    await db.all<Row>(`SELECT * FROM deployment_jobs WHERE deployment_id = ? ORDER BY created_at, id`, [
      deploymentId,
    ])
  ).map(toJob);
}

/** A deployment's jobs counted by state (SQL aggregate: one row per state, not one per job). */
export type JobCounts = Partial<Record<JobState, number>>;

export async function jobCountsOf(db: Queryable, deploymentId: string): Promise<JobCounts> {
  const rows = await db.all<{ state: JobState; n: number | string }>(
    `SELECT state, COUNT(*) AS n FROM deployment_jobs WHERE deployment_id = ? GROUP BY state`,
    [deploymentId],
  );
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}

/** A deployment's jobs in one state, oldest first. */
export async function jobsInState(db: Queryable, deploymentId: string, state: JobState): Promise<Job[]> {
  return (
    await db.all<Row>(
      `SELECT * FROM deployment_jobs WHERE deployment_id = ? AND state = ? ORDER BY created_at, id`,
      [deploymentId, state],
    )
  ).map(toJob);
}

/** A deployment's jobs not ended whose deadline has passed. */
export async function overdueJobsOf(db: Queryable, deploymentId: string, now: number): Promise<Job[]> {
  return (
    await db.all<Row>(
      `SELECT * FROM deployment_jobs WHERE deployment_id = ? AND state NOT IN (${TERMINAL_LIST})
         AND deadline_at < ? ORDER BY created_at, id`,
      [deploymentId, now],
    )
  ).map(toJob);
}

/** The devices that have a job in the deployment. */
export async function jobDevicesOf(db: Queryable, deploymentId: string): Promise<Set<string>> {
  const rows = await db.all<{ device_id: string }>(
    `SELECT device_id FROM deployment_jobs WHERE deployment_id = ?`,
    [deploymentId],
  );
  return new Set(rows.map((r) => r.device_id));
}

export async function jobById(db: Queryable, id: string): Promise<Job | undefined> {
  const row = await db.get<Row>(`SELECT * FROM deployment_jobs WHERE id = ?`, [id]);
  return row && toJob(row);
}

/** How long a cancel is sent again to a device that does not acknowledge it (an agent before acks). */
export const CANCEL_NOTICE_MS = 30 * 24 * 3600 * 1000;

/**
 * The device's canceled jobs whose cancel it has not acknowledged (`cancel_notice`, migration 961):
 * sent again when it subscribes, as a device offline at cancel time (or connected to a process
 * that died before telling it) would otherwise go on with a job the server has ended.
 */
export async function unacknowledgedCancelsOf(db: Queryable, deviceId: string): Promise<Job[]> {
  return (
    await db.all<Row>(
      `SELECT * FROM deployment_jobs WHERE device_id = ? AND state = 'canceled' AND cancel_notice = 1
         AND updated_at > ? ORDER BY updated_at, id`,
      [deviceId, Date.now() - CANCEL_NOTICE_MS],
    )
  ).map(toJob);
}

/**
 * Marks the jobs' cancels as ones their devices must acknowledge (they had been told of their
 * jobs), in multi-row statements; `placeholders` makes the statement's bind list (`?, ?, …`).
 */
export async function expectCancelAcks(db: Queryable, jobIds: readonly string[]): Promise<void> {
  for (const chunk of chunks(jobIds))
    await db.run(
      `UPDATE deployment_jobs SET cancel_notice = 1 WHERE state = 'canceled' AND id IN (${placeholders(chunk.length)})`,
      chunk,
    );
}

/** The device acknowledged its job's cancel: it is not sent again. */
export async function acknowledgeCancel(db: Queryable, deviceId: string, jobId: string): Promise<boolean> {
  const result = await db.run(
    `UPDATE deployment_jobs SET cancel_notice = 0 WHERE id = ? AND device_id = ? AND state = 'canceled'
       AND cancel_notice = 1`,
    [jobId, deviceId],
  );
  return result.changes === 1;
}

/** The device's jobs that are still open (re-announced when it subscribes again). */
export async function openJobsOfDevice(db: Queryable, deviceId: string): Promise<Job[]> {
  return (
    await db.all<Row>(
      `SELECT * FROM deployment_jobs WHERE device_id = ? AND state NOT IN (${TERMINAL_LIST})`,
      [deviceId],
    )
  ).map(toJob);
}

export async function stateCounts(
  db: Queryable,
  deploymentId: string,
): Promise<Partial<Record<JobState, number>>> {
  const rows = await db.all<{ state: JobState; n: number | string }>(
    `SELECT state, COUNT(*) AS n FROM deployment_jobs WHERE deployment_id = ? GROUP BY state`,
    [deploymentId],
  );
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}

interface JobEvent {
  job: { id: string; deploymentId: string; deviceId: string };
  from: JobState | null;
  to: JobState;
  reason: string | null;
  actor: JobActor;
}

/**
 * Rows per multi-row statement of the batched job writes: 10 bound values an event row, so 2,000
 * a statement, well under both databases' limits; a rollout to 10,000 devices writes its jobs and
 * their events in 150 statements instead of 20,000 (issue #15 item 9).
 */
const ROWS = 200;

async function recordEvents(db: Queryable, events: readonly JobEvent[]): Promise<void> {
  for (const chunk of chunks(events, ROWS)) {
    const at = Date.now();
    await db.run(
      `INSERT INTO deployment_job_events (id, job_id, deployment_id, device_id, from_state, to_state, reason, actor, at, seq)
       VALUES ${chunk.map(() => "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ")}`,
      chunk.flatMap((e) => [
        // Time-ordered (RFC 9562 §5.7): each new row's key goes to the right edge of the primary
        // key's index, not to a random page of it (at 10,000 devices reporting, random ids were
        // one more page written per report at every commit).
        randomUUIDv7(),
        e.job.id,
        e.job.deploymentId,
        e.job.deviceId,
        e.from,
        e.to,
        e.reason,
        e.actor,
        at,
        nextSeq(),
      ]),
    );
  }
}

const recordEvent = (
  db: Queryable,
  job: { id: string; deploymentId: string; deviceId: string },
  from: JobState | null,
  to: JobState,
  reason: string | null,
  actor: JobActor,
) => recordEvents(db, [{ job, from, to, reason, actor }]);

/**
 * A job's id, computed from its deployment and device (one job each, UNIQUE): a UUID of version 8
 * (RFC 9562 §5.8, vendor-specific) from the first 122 bits of their SHA-256. A batch whose
 * announcements could not be handed over is rolled back with the jobs it made, and the next pass
 * makes them again under the same ids: a device that did hear of its job hears the same job again
 * (`announceInBatches`, rollout.ts). Job ids name no secret: a device's topic ACL and the report
 * check (`applyJobReport`: the job's device) bind a job to its device.
 */
export function jobIdFor(deploymentId: string, deviceId: string): string {
  const hex = createHash("sha256").update(`bulwark-job:${deploymentId}:${deviceId}`).digest("hex");
  const variant = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** `createJobs` for one device. */
export const createJob = (
  db: Queryable,
  deploymentId: string,
  deviceId: string,
  wave: number,
  timeoutMs: number,
) => createJobs(db, deploymentId, [deviceId], wave, timeoutMs);

/**
 * Call inside a transaction. Creates a queued job for each device, with its event, in multi-row
 * INSERTs. A device that already has a job in this deployment fails the whole call (UNIQUE): the
 * rollout pass, under the deployment's lock, admits only devices without one.
 */
export async function createJobs(
  db: Queryable,
  deploymentId: string,
  deviceIds: readonly string[],
  wave: number,
  timeoutMs: number,
): Promise<Pick<Job, "id" | "deploymentId" | "deviceId" | "state">[]> {
  const created: Pick<Job, "id" | "deploymentId" | "deviceId" | "state">[] = [];
  for (const chunk of chunks(deviceIds, ROWS)) {
    const now = Date.now();
    const jobs = chunk.map((deviceId) => ({
      id: jobIdFor(deploymentId, deviceId),
      deploymentId,
      deviceId,
      state: "queued" as const,
    }));
    created.push(...jobs);
    await db.run(
      `INSERT INTO deployment_jobs (id, deployment_id, device_id, state, wave, deadline_at, created_at, updated_at)
       VALUES ${jobs.map(() => "(?, ?, ?, 'queued', ?, ?, ?, ?)").join(", ")}`,
      jobs.flatMap((job) => [job.id, deploymentId, job.deviceId, wave, now + timeoutMs, now, now]),
    );
    await recordEvents(
      db,
      jobs.map((job) => ({ job, from: null, to: "queued", reason: null, actor: "system" })),
    );
  }
  return created;
}

/**
 * Call inside a transaction: the state and its event row must commit together.
 * Moves a job from `from` to `to` with one conditional UPDATE (a concurrent change, or a job
 * already ended, makes it a no-op) and records the transition; returns whether it moved.
 */
export async function transitionJob(
  db: Queryable,
  job: Pick<Job, "id" | "deploymentId" | "deviceId" | "state">,
  to: JobState,
  change: {
    reason?: string | null;
    actor: JobActor;
    deadlineAt: number;
    deferUntil?: number | null;
    progress?: { bytes: number; total: number };
  },
): Promise<boolean> {
  if (isTerminalJobState(job.state)) return false;
  const result = await db.run(
    `UPDATE deployment_jobs SET state = ?, reason = ?, deadline_at = ?, defer_until = ?, progress_bytes = ?,
       progress_total = ?, updated_at = ? WHERE id = ? AND state = ?`,
    [
      to,
      change.reason ?? null,
      change.deadlineAt,
      change.deferUntil ?? null,
      change.progress?.bytes ?? null,
      change.progress?.total ?? null,
      Date.now(),
      job.id,
      job.state,
    ],
  );
  if (result.changes !== 1) return false;
  if (to !== job.state) await recordEvent(db, job, job.state, to, change.reason ?? null, change.actor);
  return true;
}

/**
 * Call inside a transaction. `transitionJob` for many jobs with the same change: one conditional
 * `UPDATE … WHERE state = ? AND id IN (…) RETURNING id` per state and chunk, and the events of
 * the jobs that moved in multi-row INSERTs. Returns the jobs that moved (a job changed
 * concurrently, or already ended, does not).
 */
export async function transitionJobs<J extends Pick<Job, "id" | "deploymentId" | "deviceId" | "state">>(
  db: Queryable,
  jobs: readonly J[],
  to: JobState,
  change: { reason?: string | null; actor: JobActor; deadlineAt: number },
): Promise<J[]> {
  const byState = new Map<JobState, J[]>();
  for (const job of jobs) {
    if (isTerminalJobState(job.state)) continue;
    const group = byState.get(job.state);
    if (group) group.push(job);
    else byState.set(job.state, [job]);
  }
  const moved: J[] = [];
  for (const [from, group] of byState)
    for (const chunk of chunks(group, ROWS)) {
      const rows = await db.all<{ id: string }>(
        `UPDATE deployment_jobs SET state = ?, reason = ?, deadline_at = ?, defer_until = NULL, progress_bytes = NULL,
           progress_total = NULL, updated_at = ? WHERE state = ? AND id IN (${placeholders(chunk.length)}) RETURNING id`,
        [to, change.reason ?? null, change.deadlineAt, Date.now(), from, ...chunk.map((job) => job.id)],
      );
      const ids = new Set(rows.map((row) => row.id));
      const changed = chunk.filter((job) => ids.has(job.id));
      moved.push(...changed);
      if (to !== from)
        await recordEvents(
          db,
          changed.map((job) => ({ job, from, to, reason: change.reason ?? null, actor: change.actor })),
        );
    }
  return moved;
}

export async function jobEvents(db: Queryable, jobId: string) {
  return db.all<{
    from_state: string | null;
    to_state: string;
    reason: string | null;
    actor: string;
    at: number;
  }>(
    `SELECT from_state, to_state, reason, actor, at FROM deployment_job_events WHERE job_id = ? ORDER BY seq`,
    [jobId],
  );
}
