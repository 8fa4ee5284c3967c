import { readFileSync } from 'node:fs';

/**
 * Whether `pid` names a running process. `kill(pid, 0)` alone also answers yes for a zombie: a
 * process that has died but whose parent has not reaped it. That is what a killed process
 * becomes when its parent is gone and the PID 1 it is handed to never reaps (a container whose
 * first process is not an init), and such a process must count as dead.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !hasDied(pid);
}

/** A zombie (or one being torn down): Linux's `/proc/<pid>/stat` says so; without /proc, nothing has. */
export function hasDied(pid: number): boolean {
  try {
    return diedState(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Reads the state from a `/proc/<pid>/stat` line, "pid (comm) state ...": `Z` zombie, `X` dead. */
export function diedState(stat: string): boolean {
  // comm may itself hold spaces and parentheses, so read after the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X';
}
