/**
 * SHA-512 of a stream on a worker thread, while the calling thread computes SHA-256 and writes the
 * bytes. One hash is inherently sequential, so the two digests an artifact needs (TUF spec §4.5:
 * `hashes` of each target; we publish SHA-256 and SHA-512) are the natural split across two cores:
 * on x86-64 with SHA extensions SHA-256 runs at about twice SHA-512's speed, so computing both on
 * one thread runs at a third of SHA-256 alone (issue #15 item 9, `bench -- sign`).
 *
 * One worker serves every upload of the process (started on first use, unref'd so it never keeps
 * the process alive). Each upload gets its own `MessageChannel` and a few fixed slabs: chunks are
 * copied into a slab, a full slab is transferred (not cloned) to the worker and transferred back
 * once hashed, and `update` waits while every slab is out, so memory stays bounded (`slabs` ×
 * `slabBytes`) however fast the source is, and short HTTP chunks travel as one message per slab.
 */
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
parentPort.on("message", (port) => {
  const hash = createHash("sha512");
  port.on("message", (message) => {
    if (message === null) {
      port.postMessage({ digest: hash.digest("hex") });
      port.close();
      return;
    }
    hash.update(new Uint8Array(message.slab, 0, message.length));
    port.postMessage({ slab: message.slab }, [message.slab]);
  });
});
`;

let shared: Worker | undefined;
let sessions = 0;

function worker(): Worker {
  if (shared) return shared;
  const started = new Worker(WORKER_SOURCE, { eval: true, name: "bulwark-sha512" });
  started.unref();
  started.on("error", () => {
    // Every open session sees its port close and fails; the next upload starts a new worker.
    if (shared === started) shared = undefined;
  });
  started.on("exit", () => {
    if (shared === started) shared = undefined;
  });
  shared = started;
  return started;
}

export interface Sha512Session {
  /** Queues `chunk` for hashing; resolves once fewer than the bound of bytes are unhashed. */
  update(chunk: Uint8Array): Promise<void>;
  /** The hex digest of everything queued. */
  digest(): Promise<string>;
  /** Ends the session without a digest (the upload failed). */
  abort(): void;
}

export function sha512OffThread(slabs = 8, slabBytes = 1024 * 1024): Sha512Session {
  const { port1, port2 } = new MessageChannel();
  const thread = worker();
  sessions += 1;
  thread.postMessage(port2, [port2]);
  const free: ArrayBuffer[] = [];
  let allocated = 0;
  let current: { slab: ArrayBuffer; view: Uint8Array; filled: number } | undefined;
  let failure: Error | undefined;
  let returned: (() => void) | undefined;
  let finished: ((digest: string) => void) | undefined;
  let failed: ((error: Error) => void) | undefined;
  const fail = (error: Error) => {
    failure ??= error;
    returned?.();
    failed?.(failure);
  };
  const onExit = () => fail(new Error("the hashing thread stopped"));
  thread.once("exit", onExit);
  let closed = false;
  const close = (port: MessagePort) => {
    if (closed) return;
    closed = true;
    thread.off("exit", onExit);
    port.close();
    sessions -= 1;
  };
  port1.on("message", (message: { slab?: ArrayBuffer; digest?: string }) => {
    if (message.slab !== undefined) {
      free.push(message.slab);
      returned?.();
    } else if (message.digest !== undefined) {
      close(port1);
      finished?.(message.digest);
    }
  });
  const send = () => {
    if (!current || current.filled === 0) return;
    port1.postMessage({ slab: current.slab, length: current.filled }, [current.slab]);
    current = undefined;
  };
  const take = async (): Promise<void> => {
    while (!current) {
      if (failure) throw failure;
      let slab = free.pop();
      if (!slab && allocated < slabs) {
        allocated += 1;
        slab = new ArrayBuffer(slabBytes);
      }
      if (slab) {
        current = { slab, view: new Uint8Array(slab), filled: 0 };
        return;
      }
      await new Promise<void>((resolve) => {
        returned = resolve;
      });
      returned = undefined;
    }
  };
  return {
    async update(chunk) {
      let offset = 0;
      while (offset < chunk.byteLength) {
        await take();
        const slab = current as NonNullable<typeof current>;
        const n = Math.min(chunk.byteLength - offset, slabBytes - slab.filled);
        slab.view.set(chunk.subarray(offset, offset + n), slab.filled);
        slab.filled += n;
        offset += n;
        if (slab.filled === slabBytes) send();
      }
      if (failure) throw failure;
    },
    digest() {
      return new Promise<string>((resolve, reject) => {
        if (failure) return reject(failure);
        finished = resolve;
        failed = reject;
        send();
        port1.postMessage(null);
      });
    },
    abort() {
      close(port1);
    },
  };
}

/** Open hashing sessions (for tests: every upload, failed or not, must close its own). */
export function openSha512Sessions(): number {
  return sessions;
}
