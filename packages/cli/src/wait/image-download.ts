import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, type Image, TimeoutError } from '@hangar/sdk';
import { Interrupted, interruptible } from '../interrupt.js';
import type { WaitSettings } from '../options.js';
import { startBytesBar } from '../progress/bytes-bar.js';

/**
 * Waits for an image registered by URL to be downloaded by the server: the SDK's long-poll
 * decides when it is over; on a terminal a bar shows the `progress` the server reports
 * (bytes done, of the total once the download knows it). A failed download throws the SDK's
 * IMAGE_FAILED error (exit 6). Ctrl-C stops the wait; the download goes on.
 */
export async function followImageDownload(client: Client, image: Image, settings: WaitSettings): Promise<Image> {
  if (image.status === 'ready') return image;
  const bar = await startBytesBar(`download ${image.name}`, image.progress.bytes_total, settings.progress);
  try {
    const ready = await interruptible(async (signal) => {
      const poller = settings.progress ? pollProgress(client, image.id, bar.update, signal) : null;
      try {
        return await client.waitForImage(image.id, { timeout_ms: settings.timeoutMs, signal });
      } finally {
        poller?.abort();
      }
    });
    bar.update(ready.size_bytes ?? ready.progress.bytes_done, ready.size_bytes ?? ready.progress.bytes_total);
    return ready;
  } catch (err) {
    const resume = `hgr image wait ${image.id}`;
    if (err instanceof Interrupted)
      throw new Interrupted(`Stopped waiting; image ${image.id} (${image.name}) goes on downloading.`, resume);
    if (err instanceof TimeoutError)
      throw new TimeoutError(`${err.message}; it goes on (${resume} waits again)`, { status: null, code: 'TIMEOUT' });
    throw err;
  } finally {
    bar.stop();
  }
}

/** Reads the image's progress on an interval for the bar; a failed read leaves the bar as it was. */
function pollProgress(client: Client, id: string, update: (done: number, total?: number | null) => void, outer: AbortSignal) {
  const stop = new AbortController();
  const signal = AbortSignal.any([outer, stop.signal]);
  void (async () => {
    while (!signal.aborted) {
      try {
        const image = await client.getImage(id, { signal });
        update(image.progress.bytes_done, image.progress.bytes_total);
      } catch {
        // the long-poll, not this read, says whether the download is over
      }
      await sleep(300, undefined, { signal }).catch(() => {});
    }
  })();
  return stop;
}
