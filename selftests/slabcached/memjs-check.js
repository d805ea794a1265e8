// SPDX-License-Identifier: LGPL-2.1-or-later
// memjs (a Node.js client of the binary protocol) against a server: one
// check per line, "ok <what>" or "not ok <what>: <detail>", then "done".
// Usage: node memjs-check.js <port>
'use strict';
const memjs = require('memjs');

const port = process.argv[2];
const c = memjs.Client.create(`127.0.0.1:${port}`, {
  retries: 0, timeout: 5, conntimeout: 5, logger: { log() {} },
});

function check(what, cond, detail) {
  console.log(cond ? `ok ${what}` : `not ok ${what}: ${JSON.stringify(detail)}`);
}

async function main() {
  let r;
  check('set', await c.set('j1', 'v1', { expires: 0 }), null);
  r = await c.get('j1');
  check('get', r.value && r.value.toString() === 'v1', r);
  r = await c.get('jnope');
  check('get miss', r.value === null, r);
  check('add existing', !(await c.add('j1', 'x', {})), null);
  check('add new', await c.add('j2', 'two', {}), null);
  check('replace missing', !(await c.replace('jnope', 'x', {})), null);
  check('replace', await c.replace('j2', 'TWO', {}), null);
  await c.append('j2', '-end');
  r = await c.get('j2');
  check('append', r.value && r.value.toString() === 'TWO-end', r);
  r = await c.increment('jn', 5, { initial: 10 });
  check('incr creates with initial', r.success && r.value === 10, r);
  r = await c.increment('jn', 5, {});
  check('incr', r.success && r.value === 15, r);
  r = await c.decrement('jn', 20, {});
  check('decr floors at 0', r.success && r.value === 0, r);
  check('touch', await c.touch('j1', 100), null);
  check('touch missing', !(await c.touch('jnope', 100)), null);
  check('delete', await c.delete('j1'), null);
  r = await c.get('j1');
  check('gone after delete', r.value === null, r);
  const big = Buffer.alloc(700000, 0x42);
  check('set 700 KB', await c.set('jbig', big, {}), null);
  r = await c.get('jbig');
  check('get 700 KB', r.value && r.value.equals(big), r.value && r.value.length);
  await c.set('jexp', 'x', { expires: 1 });
  await new Promise((res) => setTimeout(res, 2100));
  r = await c.get('jexp');
  check('expires', r.value === null, r);
  const st = await new Promise((res) => c.stats((err, server, stats) => res(stats)));
  check('stats', st && Number(st.curr_items) > 0, st && st.curr_items);
  await c.flush();
  r = await c.get('j2');
  check('flush', r.value === null, r);
  console.log('done');
  c.close();
}

main().catch((e) => { console.log(`not ok exception: ${e}`); c.close(); });
