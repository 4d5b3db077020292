/**
 * Waiting on real state that has no event to wait for (Redis groups, another process's counters): the
 * check runs now and then every `everyMs` until it holds, and the wait fails with what it was waiting
 * for once `timeoutMs` is over or `abort` says the run cannot get there any more (a process died).
 */
export interface PollOptions {
  timeoutMs: number;
  everyMs?: number;
  /** Returns a reason to give up now (e.g. the process that should make progress exited), or null. */
  abort?: () => string | null;
}

export async function until(
  what: string,
  check: () => Promise<boolean>,
  options: PollOptions,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await check()) return;
    const reason = options.abort?.();
    if (reason) throw new Error(`gave up waiting for ${what}: ${reason}`);
    if (Date.now() >= deadline) throw new Error(`no ${what} within ${options.timeoutMs} ms`);
    await Bun.sleep(options.everyMs ?? 25);
  }
}
