// The flags node runs `hangar serve` with, in every launcher this repository ships: the start
// scripts, the container's entry point, the systemd unit in docs/operations.md, the first line
// of bin/hangar.mjs (and so pnpm's `hangar` shim), the benchmark and the tests' `serveProcess`
// (test/node-flags.test.ts holds all but the last two to this list).
//
// --max-semi-space-size=8: V8's young generation grows to 2 x 16 MB semi-spaces under a steady
// request load by default, and stays there. 8 MB keeps the server's RSS under load about 15 MB
// lower (`pnpm --filter @hangar/server bench:read`: 139-145 MB peak by default, 125-127 MB with
// 8 MB, 117-129 MB with 4 MB). The price is more frequent scavenges: none measurable on
// `vms.get`, about 6% of list throughput and up to 1 ms of its p99 at 50 VMs a page
// (`bench:list --vms 100000`, four runs each: 465/s against 436/s); at 4 MB the write path ran
// about 10% slower. A flag, not code: V8 sizes its heap when the process starts.
export const SERVE_NODE_FLAGS = ['--max-semi-space-size=8'];
