import { describe, expect, it } from 'vitest';
import { compileTimeWindow, isWithinWindow, type TimeWindowInput } from '../../src/policy/index.js';

function within(input: TimeWindowInput, isoInstant: string): boolean {
  const w = compileTimeWindow(input);
  if (!w.ok) throw new Error(w.message);
  return isWithinWindow(w.window, Date.parse(isoInstant));
}

const officeUtc: TimeWindowInput = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], hours: { from: '09:00', to: '17:00' } };
const nightShift: TimeWindowInput = { days: ['fri'], hours: { from: '22:00', to: '02:00' } };
const berlin: TimeWindowInput = { timeZone: 'Europe/Berlin', hours: { from: '09:00', to: '17:00' } };
const newYork: TimeWindowInput = { timeZone: 'America/New_York', hours: { from: '09:00', to: '17:00' } };
const earlyNy: TimeWindowInput = { timeZone: 'America/New_York', hours: { from: '01:00', to: '03:00' } };

describe('time windows', () => {
  it.each<[string, TimeWindowInput, string, boolean]>([
    ['weekday inside', officeUtc, '2025-01-06T09:00:00Z', true], // Monday, start inclusive
    ['weekday end exclusive', officeUtc, '2025-01-06T17:00:00Z', false],
    ['weekday last minute', officeUtc, '2025-01-06T16:59:59Z', true],
    ['weekday before', officeUtc, '2025-01-06T08:59:59Z', false],
    ['weekend', officeUtc, '2025-01-04T12:00:00Z', false],
    ['days only', { days: ['sat'] }, '2025-01-04T23:59:00Z', true],
    ['whole day end 24:00', { hours: { from: '20:00', to: '24:00' } }, '2025-01-04T23:59:30Z', true],
    // crossing midnight belongs to the day it starts
    ['overnight, evening of the day', nightShift, '2025-01-10T23:00:00Z', true], // Friday
    ['overnight, after midnight', nightShift, '2025-01-11T01:30:00Z', true], // Saturday early
    ['overnight, end exclusive', nightShift, '2025-01-11T02:00:00Z', false],
    ['overnight, wrong starting day', nightShift, '2025-01-10T01:30:00Z', false], // Friday early = Thursday's window
    ['overnight, saturday evening', nightShift, '2025-01-11T23:00:00Z', false],
    // non-UTC zone
    ['Berlin winter (UTC+1) inside', berlin, '2025-01-06T08:30:00Z', true], // 09:30 local
    ['Berlin winter outside', berlin, '2025-01-06T07:30:00Z', false], // 08:30 local
    ['Berlin summer (UTC+2) inside', berlin, '2025-07-07T07:30:00Z', true], // 09:30 local
    ['Berlin summer outside', berlin, '2025-07-07T15:30:00Z', false], // 17:30 local
    ['zone moves the weekday', { timeZone: 'Asia/Tokyo', days: ['tue'] }, '2025-01-06T20:00:00Z', true], // Tue 05:00 JST
    // DST: wall-clock hours hold on both sides of the change
    ['NY day before spring-forward', newYork, '2025-03-08T14:30:00Z', true], // 09:30 EST
    ['NY spring-forward day 09:30 EDT', newYork, '2025-03-09T13:30:00Z', true],
    ['NY spring-forward day 08:30 EDT', newYork, '2025-03-09T12:30:00Z', false],
    ['NY fall-back day 16:30 EST', newYork, '2025-11-02T21:30:00Z', true],
    ['NY fall-back day 17:30 EST', newYork, '2025-11-02T22:30:00Z', false],
    ['NY skipped hour: 01:59 EST is inside', earlyNy, '2025-03-09T06:59:00Z', true],
    ['NY skipped hour: 03:00 EDT is outside', earlyNy, '2025-03-09T07:00:00Z', false],
    ['NY repeated hour, first 01:30', earlyNy, '2025-11-02T05:30:00Z', true],
    ['NY repeated hour, second 01:30', earlyNy, '2025-11-02T06:30:00Z', true],
    ['NY after repeated hour 03:00', earlyNy, '2025-11-02T08:00:00Z', false],
  ])('%s', (_name, window, instant, expected) => {
    expect(within(window, instant)).toBe(expected);
  });

  it('reads the local clock again when the minute changes', () => {
    const w = compileTimeWindow({ hours: { from: '10:00', to: '10:01' } });
    if (!w.ok) throw new Error(w.message);
    const t = Date.parse('2025-01-06T10:00:00Z');
    expect(isWithinWindow(w.window, t)).toBe(true);
    expect(isWithinWindow(w.window, t + 59_999)).toBe(true);
    expect(isWithinWindow(w.window, t + 60_000)).toBe(false);
    expect(isWithinWindow(w.window, t - 1)).toBe(false);
  });

  it.each<[TimeWindowInput, string]>([
    [{ timeZone: 'Mars/Olympus' }, 'timeZone'],
    [{ hours: { from: '9:00', to: '17:00' } }, 'hours.from'],
    [{ hours: { from: '09:00', to: '25:00' } }, 'hours.to'],
    [{ hours: { from: '24:00', to: '02:00' } }, 'hours.from'],
    [{ hours: { from: '09:00', to: '09:00' } }, 'hours'],
  ])('refuses %j', (input, field) => {
    const w = compileTimeWindow(input);
    expect(w.ok).toBe(false);
    if (!w.ok) expect(w.field).toBe(field);
  });
});
