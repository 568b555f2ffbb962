import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DEVELOPMENT_SECRET, envBool, envPort, loadConfig, resolveSecret } from './config.js';

const spec = {
  port: { env: 'TASKMESH_X_PORT', schema: envPort(7100) },
  verbose: { env: 'TASKMESH_X_VERBOSE', schema: envBool(false) },
};

test('loadConfig applies defaults and parses values', () => {
  assert.deepEqual(loadConfig(spec, {}), { port: 7100, verbose: false });
  assert.deepEqual(loadConfig(spec, { TASKMESH_X_PORT: '80', TASKMESH_X_VERBOSE: 'true' }), { port: 80, verbose: true });
});

test('loadConfig names the bad variable', () => {
  assert.throws(
    () => loadConfig(spec, { TASKMESH_X_PORT: 'eighty' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /TASKMESH_X_PORT="eighty"/);
      return true;
    },
  );
  assert.throws(() => loadConfig(spec, { TASKMESH_X_PORT: '70000' }), /TASKMESH_X_PORT/);
});

test('resolveSecret refuses a missing or short secret, and takes the development one only when opted in', () => {
  assert.throws(
    () => resolveSecret({}),
    (err: unknown) =>
      err instanceof ConfigError && /TASKMESH_SECRET is not set/.test(err.message) && /TASKMESH_ALLOW_DEV_SECRET/.test(err.message),
  );
  assert.throws(
    () => resolveSecret({ TASKMESH_SECRET: 's3cret' }),
    (err: unknown) => err instanceof ConfigError && /too short: 6 characters/.test(err.message),
  );
  assert.equal(resolveSecret({ TASKMESH_ALLOW_DEV_SECRET: '1' }).isDefault, true);
  const secret = 'a'.repeat(32);
  assert.deepEqual(resolveSecret({ TASKMESH_SECRET: secret, TASKMESH_ALLOW_DEV_SECRET: '1' }), { secret, isDefault: false });
  assert.throws(
    () => resolveSecret({ TASKMESH_SECRET: DEVELOPMENT_SECRET }),
    (err: unknown) => err instanceof ConfigError && /is the public development secret/.test(err.message),
  );
  assert.deepEqual(resolveSecret({ TASKMESH_SECRET: DEVELOPMENT_SECRET, TASKMESH_ALLOW_DEV_SECRET: '1' }), {
    secret: DEVELOPMENT_SECRET,
    isDefault: true,
  });
});
