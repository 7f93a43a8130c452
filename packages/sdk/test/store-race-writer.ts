/**
 * A store writer for the keyring race test (`src/store/store-race.test.ts`), run as a child process:
 *   store-race-writer.ts DIR KEK_FILE NAME [pause]
 * Opens the store and writes NAME to state/NAME. With `pause`, it stops just before its keyring
 * becomes visible (the rename or link step of keyring.json), prints "paused", and waits for a line
 * on stdin, so the test can let another writer create the store in between.
 */
import { readSync } from "node:fs";
import { fileKek, openStore } from "../src/store/index.ts";

const [dir, kekPath, name, pause] = process.argv.slice(2) as [string, string, string, string | undefined];
const store = openStore({
  dir,
  kek: fileKek(kekPath),
  onWriteStep: (step, path) => {
    if (pause && (step === "rename" || step === "link") && path.endsWith("keyring.json")) {
      process.stdout.write("paused\n");
      readSync(0, Buffer.alloc(1)); // blocks until the test says go on
    }
  },
});
store.put("state", name, Buffer.from(name));
process.stdout.write("done\n");
