/**
 * Test helper process for slots.test.ts: installs an image with the A/B slot installer and kills
 * itself with SIGKILL right after step `argv[4]` (0: nothing done, 1: slot written, 2: switched on
 * trial, 3: committed), so the test can check what the next start finds.
 */
import { SlotInstaller } from "./slots.ts";

const [dir, image, version, after] = process.argv.slice(2) as [string, string, string, string];
const slots = new SlotInstaller(dir);
const stop = Number(after);
const kill = (step: number) => {
  if (step === stop) process.kill(process.pid, "SIGKILL");
};
kill(0);
const slot = await slots.write(image);
kill(1);
await slots.switchTo(slot, version, `job-${version}`);
kill(2);
await slots.commit();
kill(3);
