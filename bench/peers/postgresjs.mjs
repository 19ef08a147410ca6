// C4's anchor: COUNT autocommit point selects issued at once through
// postgres.js (implicit pipelining) on one connection (max: 1), awaited
// together.  Prints one key=value line for bench/run, like bench/bmbench.c.
//
//   node bench/peers/postgresjs.mjs COUNT
//
// The server comes from PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE;
// ids are drawn from 1..$BM_BENCH_ROWS of table bench_point.
import postgres from 'postgres';

const count = Number.parseInt(process.argv[2] ?? '50000', 10);
const rows = Number.parseInt(process.env.BM_BENCH_ROWS ?? '100000', 10);

const sql = postgres({
  host: process.env.PGHOST,
  port: Number.parseInt(process.env.PGPORT ?? '5432', 10),
  user: process.env.PGUSER,
  password: process.env.PGPASSWORD,
  database: process.env.PGDATABASE,
  max: 1,
  prepare: true,
  onnotice: () => {},
});

// xorshift32 so that drawing ids costs next to nothing, as in bmbench.c
let state = 0x9e3779b9;
function nextId() {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return 1 + ((state >>> 0) % rows);
}

// warm-up: connect and prepare the statement, outside the timing
await sql`SELECT id, v FROM bench_point WHERE id = ${1}`;

const ids = Array.from({ length: count }, nextId);
const t0 = process.hrtime.bigint();
const results = await Promise.all(
  ids.map((id) => sql`SELECT id, v FROM bench_point WHERE id = ${id}`),
);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

results.forEach((r, i) => {
  if (r.length !== 1 || Number(r[0].id) !== ids[i]) {
    console.error(`postgresjs: point select for id ${ids[i]} returned ${r.length} rows`);
    process.exit(1);
  }
});
console.log(`ops=${count} seconds=${seconds.toFixed(6)} rate=${(count / seconds).toFixed(1)}`);
await sql.end();
