/** One JSON document on stdout: the SDK's objects as they are, for scripts (`| jq`). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One JSON object per line (a stream of events): each line parses on its own as it arrives. */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
