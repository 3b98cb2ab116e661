/**
 * Run profiles: how much work a notebook or experiment does.
 *
 *   smoke  seconds per notebook: proves every cell runs (npm test executes all notebooks this way)
 *   quick  minutes per run, about 2 h for every table on 2 CPU cores: small but meaningful numbers;
 *          the default (lib/experiments/settings.ts)
 *   full   the paper's settings; hours
 *
 * Chosen with env METAANCHOR_PROFILE, which `npm run notebooks -- --profile <name>` sets for the kernel
 * (in an interactive Jupyter session, set it before `npm run notebook`).
 */
import { UserError } from './util/errors';

export type Profile = 'smoke' | 'quick' | 'full';

export const PROFILES: readonly Profile[] = ['smoke', 'quick', 'full'];

export const DEFAULT_PROFILE: Profile = 'quick';

/** Parse a profile name; throws a UserError naming the accepted values. */
export function parseProfile(name: string): Profile {
  const value = name.trim().toLowerCase();
  if ((PROFILES as readonly string[]).includes(value)) return value as Profile;
  throw new UserError(`unknown profile "${name}"`, `set METAANCHOR_PROFILE (or --profile) to one of: ${PROFILES.join(', ')}`);
}

/** The active profile: env METAANCHOR_PROFILE, or 'quick' when unset or empty. */
export function getProfile(env: NodeJS.ProcessEnv = process.env): Profile {
  const raw = env.METAANCHOR_PROFILE;
  if (raw === undefined || raw.trim() === '') return DEFAULT_PROFILE;
  return parseProfile(raw);
}

/** The value for the active profile, e.g. `byProfile({ smoke: 20, quick: 300, full: 90000 })` steps. */
export function byProfile<T>(values: Record<Profile, T>, profile: Profile = getProfile()): T {
  return values[profile];
}
