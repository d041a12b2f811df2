/**
 * Time windows: days of the week and an hour range on the wall clock of an IANA time zone.
 * Comparisons are made on the local wall clock Intl reports for the instant, never by adding
 * offsets, so DST changes need no special case: 09:00–17:00 New York is 09:00–17:00 on either
 * side of a clock change. A range whose end is before its start crosses midnight and belongs to
 * the day it starts on: Fri 22:00–02:00 includes Saturday 01:30.
 */

/** Day names, Sunday first (the bit order of `TimeWindow.dayMask`). */
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
/** A day name as grants spell it. */
export type Weekday = (typeof WEEKDAYS)[number];

/** A window as written in a grant's `constraints.timeWindow`. */
export interface TimeWindowInput {
  timeZone?: string;
  days?: Weekday[];
  /** `from` inclusive, `to` exclusive, `HH:MM` 24-hour; `to` may be `24:00`. */
  hours?: { from: string; to: string };
}

/** A compiled window: a bit per weekday (Sunday = bit 0) and minutes since local midnight. */
export interface TimeWindow {
  readonly timeZone: string;
  readonly dayMask: number;
  readonly from: number;
  readonly to: number;
  readonly clock: ZoneClock;
}

const ALL_DAYS = 0b1111111;
const MINUTE_MS = 60_000;
const HH_MM = /^(?:([01][0-9]|2[0-3]):([0-5][0-9])|24:00)$/;

/** Compiles a window, or says which part is wrong (unknown zone, bad time, empty range). */
export function compileTimeWindow(
  input: TimeWindowInput,
): { ok: true; window: TimeWindow } | { ok: false; field: string; message: string } {
  const zone = input.timeZone ?? 'UTC';
  const clock = zoneClock(zone);
  if (clock === null) return { ok: false, field: 'timeZone', message: `unknown time zone "${zone}"` };
  let dayMask = ALL_DAYS;
  if (input.days !== undefined) {
    dayMask = 0;
    for (const day of input.days) dayMask |= 1 << WEEKDAYS.indexOf(day);
  }
  let from = 0;
  let to = 24 * 60;
  if (input.hours !== undefined) {
    const f = parseHhMm(input.hours.from);
    const t = parseHhMm(input.hours.to);
    if (f === null || f === 24 * 60) return { ok: false, field: 'hours.from', message: 'expected HH:MM from 00:00 to 23:59' };
    if (t === null) return { ok: false, field: 'hours.to', message: 'expected HH:MM from 00:00 to 24:00' };
    if (f === t) return { ok: false, field: 'hours', message: 'from and to are equal; omit hours for the whole day' };
    from = f;
    to = t;
  }
  return { ok: true, window: Object.freeze({ timeZone: clock.timeZone, dayMask, from, to, clock }) };
}

/** Whether the instant `now` falls inside the window. */
export function isWithinWindow(window: TimeWindow, now: number): boolean {
  const local = window.clock.localMinuteOfWeek(now);
  const day = Math.floor(local / 1440);
  const minute = local - day * 1440;
  if (window.from < window.to) {
    return (window.dayMask & (1 << day)) !== 0 && minute >= window.from && minute < window.to;
  }
  // Crosses midnight: the evening part belongs to today, the early part to yesterday's window.
  if (minute >= window.from) return (window.dayMask & (1 << day)) !== 0;
  if (minute < window.to) return (window.dayMask & (1 << ((day + 6) % 7))) !== 0;
  return false;
}

function parseHhMm(text: string): number | null {
  const m = HH_MM.exec(text);
  if (m === null) return null;
  if (m[1] === undefined) return 24 * 60;
  return Number(m[1]) * 60 + Number(m[2]);
}

/** Local wall-clock reader for one zone. */
export interface ZoneClock {
  readonly timeZone: string;
  /** Minutes since local Sunday 00:00 at instant `now`. */
  localMinuteOfWeek(now: number): number;
}

/*
 * One clock per zone, shared by every grant naming it: a DateTimeFormat costs kilobytes and
 * formatToParts about a microsecond. Each clock remembers the last minute it converted (UTC
 * offsets change only on whole minutes), so the hot path usually pays one comparison. This memo
 * is the only module state in policy/, and it is a pure function of its key.
 */
const clocks = new Map<string, ZoneClock | null>();

function zoneClock(timeZone: string): ZoneClock | null {
  let clock = clocks.get(timeZone);
  if (clock === undefined) {
    clock = createZoneClock(timeZone);
    clocks.set(timeZone, clock);
  }
  return clock;
}

const WEEKDAY_INDEX: Readonly<Record<string, number>> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

function createZoneClock(timeZone: string): ZoneClock | null {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
  } catch {
    return null; // RangeError: not an IANA zone Intl knows
  }
  let lastMinute = Number.NaN;
  let lastLocal = 0;
  return {
    timeZone: format.resolvedOptions().timeZone,
    localMinuteOfWeek(now: number): number {
      const minute = Math.floor(now / MINUTE_MS);
      if (minute === lastMinute) return lastLocal;
      let day = 0;
      let hour = 0;
      let min = 0;
      for (const part of format.formatToParts(minute * MINUTE_MS)) {
        if (part.type === 'weekday') day = WEEKDAY_INDEX[part.value] ?? 0;
        else if (part.type === 'hour') hour = Number(part.value) % 24;
        else if (part.type === 'minute') min = Number(part.value);
      }
      lastMinute = minute;
      lastLocal = day * 1440 + hour * 60 + min;
      return lastLocal;
    },
  };
}
