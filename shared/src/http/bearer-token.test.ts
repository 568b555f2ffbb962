import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { bearerToken, tokenMatches } from './bearer-token.js';

const withAuth = (authorization?: string): IncomingMessage =>
  ({ headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;

test('one reading of a bearer header for every service: the scheme in any case, the token trimmed', () => {
  assert.equal(bearerToken(withAuth('Bearer abc')), 'abc');
  assert.equal(bearerToken(withAuth('bearer abc')), 'abc');
  assert.equal(bearerToken(withAuth('  BEARER   abc  ')), 'abc');
  assert.equal(bearerToken(withAuth('Basic abc')), undefined);
  assert.equal(bearerToken(withAuth('Bearer')), undefined);
  assert.equal(bearerToken(withAuth()), undefined);
});

test('tokens compare whatever their lengths, and an empty one never matches', () => {
  assert.equal(tokenMatches('secret', 'secret'), true);
  assert.equal(tokenMatches('secret', 'secret-but-longer'), false);
  assert.equal(tokenMatches('secret', ''), false);
  assert.equal(tokenMatches('secret', undefined), false);
});
