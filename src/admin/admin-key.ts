import { createHash, timingSafeEqual } from 'node:crypto';
import { PortcullisError } from '../errors.js';

/** Shortest admin key accepted, in characters. */
export const MIN_ADMIN_KEY_LENGTH = 32;

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * A checker for presented admin keys. Both sides are hashed to 32 bytes first, so
 * `timingSafeEqual` compares equal lengths and the time taken says nothing about the key's length
 * or how many leading characters matched.
 */
export function createAdminKeyCheck(key: string): (presented: string | undefined) => boolean {
  if (typeof key !== 'string' || key.length < MIN_ADMIN_KEY_LENGTH) {
    throw new TypeError(`admin key must be at least ${MIN_ADMIN_KEY_LENGTH} characters`);
  }
  const expected = digest(key);
  return (presented) => presented !== undefined && timingSafeEqual(digest(presented), expected);
}

/**
 * The admin key in force: `admin.key` from the config, else `PORTCULLIS_ADMIN_KEY` from `env`
 * (so a .json config can stay free of secrets), else `null` (admin API disabled). A key from the
 * environment that is too short fails start-up naming the variable.
 */
export function resolveAdminKey(admin: { readonly key?: string }, env: Readonly<Record<string, string | undefined>>): string | null {
  if (admin.key !== undefined) return admin.key;
  const fromEnv = env.PORTCULLIS_ADMIN_KEY;
  if (fromEnv === undefined || fromEnv === '') return null;
  if (fromEnv.length < MIN_ADMIN_KEY_LENGTH) {
    throw new PortcullisError('CONFIG_INVALID', `PORTCULLIS_ADMIN_KEY: must be at least ${MIN_ADMIN_KEY_LENGTH} characters`);
  }
  return fromEnv;
}
