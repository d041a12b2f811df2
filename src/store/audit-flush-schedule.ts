/**
 * When an audit writer sends its queue to the store. A record a call waits for (an attempt) goes
 * `soon`: after `flushMs`, or on the next event-loop turn when that is 0, so the records of one
 * turn share a transaction. A record nobody waits for (an outcome, a denial) goes `later`: it
 * rides with the next batch, or is sent after `deferMs` at the latest. At one call at a time this
 * halves the transactions and the wake-ups of the writer, which are most of the latency the audit
 * adds; under load the queue never waits that long.
 */
export interface FlushSchedule {
  /** Flush within `flushMs` (0: the next turn); takes over a pending `later`. */
  soon(): void;
  /** Flush within `deferMs` unless something flushes first. */
  later(): void;
  /** The queue is being sent now: forget both timers. */
  cancel(): void;
}

export function createFlushSchedule(flushMs: number, deferMs: number, flush: () => void): FlushSchedule {
  let soonTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  let laterTimer: NodeJS.Timeout | undefined;
  const schedule: FlushSchedule = {
    soon() {
      if (soonTimer) return;
      soonTimer = flushMs === 0 ? setImmediate(flush) : setTimeout(flush, flushMs);
    },
    later() {
      if (soonTimer || laterTimer) return;
      laterTimer = setTimeout(flush, deferMs);
    },
    cancel() {
      if (soonTimer) {
        if (flushMs === 0) clearImmediate(soonTimer as NodeJS.Immediate);
        else clearTimeout(soonTimer as NodeJS.Timeout);
        soonTimer = undefined;
      }
      if (laterTimer) {
        clearTimeout(laterTimer);
        laterTimer = undefined;
      }
    },
  };
  return schedule;
}
