export { main } from './cli.js';
export { ExitCode, exitCodeFor } from './exit-codes.js';
export { buildProgram } from './program.js';
