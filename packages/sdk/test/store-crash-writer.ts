/**
 * A store writer for the crash test (`src/store/store-crash.test.ts`), run as a child process:
 *   store-crash-writer.ts DIR KEK_FILE VALUE [KILL_AT]
 * It writes VALUE to state/config and SIGKILLs itself before write step number KILL_AT (counting
 * every step of every atomic write, the keyring's included). Without KILL_AT it prints how many
 * steps the write took.
 */
import { fileKek, openStore } from "../src/store/index.ts";

const [dir, kekPath, value, killAt] = process.argv.slice(2) as [string, string, string, string | undefined];
const kek = fileKek(kekPath);
let steps = 0;
const store = openStore({
  dir,
  kek,
  onWriteStep: () => {
    if (killAt !== undefined && steps === Number(killAt)) process.kill(process.pid, "SIGKILL");
    steps++;
  },
});
store.put("state", "config", Buffer.from(value));
process.stdout.write(`${steps}\n`);
