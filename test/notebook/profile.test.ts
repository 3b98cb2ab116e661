import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byProfile, DEFAULT_PROFILE, getProfile, parseProfile, PROFILES } from '../../lib/profile';
import { UserError } from '../../lib/util/errors';

test('profiles are smoke, quick, full; quick is the default', () => {
  assert.deepEqual([...PROFILES], ['smoke', 'quick', 'full']);
  assert.equal(DEFAULT_PROFILE, 'quick');
  assert.equal(getProfile({}), 'quick');
  assert.equal(getProfile({ METAANCHOR_PROFILE: '' }), 'quick');
  assert.equal(getProfile({ METAANCHOR_PROFILE: '   ' }), 'quick');
});

test('getProfile reads METAANCHOR_PROFILE, ignoring case and surrounding spaces', () => {
  assert.equal(getProfile({ METAANCHOR_PROFILE: 'smoke' }), 'smoke');
  assert.equal(getProfile({ METAANCHOR_PROFILE: ' FULL\n' }), 'full');
  assert.equal(parseProfile('Quick'), 'quick');
});

test('an unknown profile is a UserError naming the accepted values', () => {
  for (const bad of ['fast', 'smoke-test', '1']) {
    assert.throws(
      () => getProfile({ METAANCHOR_PROFILE: bad }),
      (err: unknown) =>
        err instanceof UserError &&
        err.message === `unknown profile "${bad}"` &&
        err.hint === 'set METAANCHOR_PROFILE (or --profile) to one of: smoke, quick, full',
    );
  }
});

test('byProfile picks the value of the given or active profile', () => {
  const steps = { smoke: 30, quick: 200, full: 1000 };
  assert.equal(byProfile(steps, 'smoke'), 30);
  assert.equal(byProfile(steps, 'full'), 1000);
  const saved = process.env.METAANCHOR_PROFILE;
  try {
    process.env.METAANCHOR_PROFILE = 'smoke';
    assert.equal(byProfile(steps), 30);
    delete process.env.METAANCHOR_PROFILE;
    assert.equal(byProfile(steps), 200);
  } finally {
    if (saved === undefined) delete process.env.METAANCHOR_PROFILE;
    else process.env.METAANCHOR_PROFILE = saved;
  }
});
