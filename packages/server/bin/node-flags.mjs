// The flags node runs `hangar serve` with, in every launcher this repository ships: the start
// scripts, the container's entry point, the systemd unit in docs/operations.md, the benchmark
// and the tests' `serveProcess` (test/node-flags.test.ts holds the first four to this list).
//
// --max-semi-space-size=8: V8's young generation grows to 2 x 16 MB semi-spaces under a steady
// request load by default, and stays there. 8 MB keeps the server's RSS under load about 15 MB
// lower (`pnpm --filter @hangar/server bench:read`: 139-142 MB peak by default, 125-126 MB with
// 8 MB, 120 MB with 4 MB) with no throughput lost that the benchmark can see; at 4 MB the write
// path measured about 10% slower. A flag, not code: V8 sizes its heap when the process starts.
export const SERVE_NODE_FLAGS = ['--max-semi-space-size=8'];
