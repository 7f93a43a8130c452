/**
 * Event-loop delay of the process that loads it, for finding the server's stalls in a bench:
 *   BULWARK_BENCH_SERVER_NODE_ARGS="--import ./bench/fleet-sim/loop-delay.ts" \
 *   BULWARK_BENCH_LOOP_DELAY_FILE=/tmp/loop npm run bench -- rollout --devices 2000
 * appends one line every 2 s to `$BULWARK_BENCH_LOOP_DELAY_FILE-<pid>.log`: the longest delay, the
 * 99th percentile and the mean over those 2 s (10 ms sampling: a mean near 10 ms is an idle loop).
 * Loaded without the variable set, it does nothing.
 */
import { appendFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";

const prefix = process.env.BULWARK_BENCH_LOOP_DELAY_FILE;
if (prefix) {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const file = `${prefix}-${process.pid}.log`;
  const ms = (ns: number) => (ns / 1e6).toFixed(0);
  setInterval(() => {
    appendFileSync(
      file,
      `${new Date().toISOString()} max=${ms(histogram.max)}ms p99=${ms(histogram.percentile(99))}ms mean=${ms(histogram.mean)}ms\n`,
    );
    histogram.reset();
  }, 2000).unref();
}
