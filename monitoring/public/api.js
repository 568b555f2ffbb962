// The dashboard's one way to call monitoring's JSON API: it never throws, and says what went wrong.

/** `{ok, status, body, error}`: `error` is the answer's own message, or why there was no answer. */
async function call(path, init) {
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    return { ok: false, status: 0, body: null, error: `monitoring did not answer: ${err.message}` };
  }
  const body = await res.json().catch(() => null);
  return {
    ok: res.ok,
    status: res.status,
    body,
    error: res.ok ? null : (body?.error?.message ?? `HTTP ${res.status} ${res.statusText}`.trim()),
  };
}

export const getJson = (path) => call(path, {});

/** A POST, with `body` as JSON when given. */
export const postJson = (path, body) =>
  call(
    path,
    body === undefined
      ? { method: 'POST' }
      : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
  );
