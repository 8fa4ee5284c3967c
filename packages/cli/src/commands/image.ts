import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Image } from '@hangar/sdk';
import { type Command, Option } from 'commander';
import { connect } from '../connection.js';
import { Interrupted, interruptible } from '../interrupt.js';
import { addWaitOptions, optionsOf, positiveInt, type WaitFlags, waitSettings } from '../options.js';
import { printJson } from '../output/json.js';
import { outputMode } from '../output/mode.js';
import { printDetails, printTable } from '../output/table.js';
import { formatAge, formatBytes } from '../output/units.js';
import { startBytesBar } from '../progress/bytes-bar.js';
import { countBytes } from '../progress/counting.js';
import { showProgress } from '../progress/tty.js';
import { UsageError } from '../usage-error.js';
import { followImageDownload } from '../wait/image-download.js';

const KINDS = ['iso', 'disk'] as const;
const STATUSES = ['pending', 'downloading', 'ready', 'error'] as const;

const IMAGE_HEAD = ['ID', 'NAME', 'KIND', 'FORMAT', 'STATUS', 'SIZE', 'PROGRESS', 'AGE'];
function progressOf(image: Image): string {
  if (image.status !== 'downloading') return '';
  const { bytes_done, bytes_total } = image.progress;
  return bytes_total ? `${Math.floor((bytes_done / bytes_total) * 100)}%` : formatBytes(bytes_done);
}
const imageRow = (i: Image) => [
  i.id,
  i.name,
  i.kind,
  i.format,
  i.status,
  formatBytes(i.size_bytes),
  progressOf(i),
  formatAge(i.created_at),
];

async function printImage(image: Image, json: boolean): Promise<void> {
  if (json) return printJson(image);
  await printDetails([
    ['id', image.id],
    ['name', image.name],
    ['kind', image.kind],
    ['format', image.format],
    ['status', image.status],
    ['size', formatBytes(image.size_bytes)],
    ['progress', `${formatBytes(image.progress.bytes_done)} of ${formatBytes(image.progress.bytes_total)}`],
    ['source', image.source_url],
    ['sha256', image.sha256],
    ['error', image.error],
    ['created', image.created_at],
  ]);
}

export function registerImage(program: Command): void {
  const image = program.command('image').description('ISO and disk images in the server’s image store');

  image
    .command('ls')
    .description('list images')
    .addOption(new Option('--status <status>', 'only images in this status').choices(STATUSES))
    .addOption(new Option('--kind <kind>', 'only iso or disk images').choices(KINDS))
    .action(async (_flags, self: Command) => {
      const opts = optionsOf<{ status?: Image['status']; kind?: Image['kind'] }>(self);
      const client = await connect(opts);
      const images = await client.listImages({ status: opts.status, kind: opts.kind });
      if (outputMode(opts) === 'json') return printJson(images);
      await printTable(IMAGE_HEAD, images.map(imageRow));
    });

  image
    .command('get')
    .description("show an image's details")
    .argument('<id>', 'the image id')
    .action(async (id: string, _flags, self: Command) => {
      const opts = optionsOf(self);
      const client = await connect(opts);
      await printImage(await client.getImage(id), outputMode(opts) === 'json');
    });

  const add = image
    .command('add')
    .description('register an image for the server to download from an http(s) URL')
    .argument('<url>', 'where the server downloads it from')
    .option('--name <name>', 'its name (default: the last part of the URL)')
    .addOption(new Option('--kind <kind>', 'iso or disk (default: iso for a name ending in .iso)').choices(KINDS))
    .option('--sha256 <digest>', 'the download must have this checksum');
  addWaitOptions(add).action(async (url: string, _flags, self: Command) => {
    const opts = optionsOf<WaitFlags & { name?: string; kind?: 'iso' | 'disk'; sha256?: string }>(self);
    const client = await connect(opts);
    let registered = await client.registerImage({ url, name: opts.name, kind: opts.kind, sha256: opts.sha256 });
    if (opts.wait) registered = await followImageDownload(client, registered, waitSettings(opts));
    await printImage(registered, outputMode(opts) === 'json');
  });

  image
    .command('wait')
    .description("wait until an image's download has ended (exit 6 if it failed)")
    .argument('<id>', 'the image id')
    .option('--wait-timeout <seconds>', 'give up waiting after this long (exit 7)', positiveInt, 600)
    .action(async (id: string, _flags, self: Command) => {
      const opts = optionsOf<WaitFlags>(self);
      const client = await connect(opts);
      const ready = await followImageDownload(client, await client.getImage(id), waitSettings(opts));
      await printImage(ready, outputMode(opts) === 'json');
    });

  image
    .command('upload')
    .description('upload an ISO or disk image from a file (or stdin: "-") into the image store')
    .argument('<file>', 'the file ("-": stdin, then --name is needed)')
    .option('--name <name>', 'its name (default: the file name)')
    .addOption(new Option('--kind <kind>', 'iso or disk (default: iso for a name ending in .iso, else disk)').choices(KINDS))
    .action(async (file: string, _flags, self: Command) => {
      const opts = optionsOf<{ name?: string; kind?: 'iso' | 'disk' }>(self);
      const name = opts.name ?? (file === '-' ? undefined : basename(file));
      if (!name) throw new UsageError('--name is needed when uploading from stdin');
      const client = await connect(opts);
      const progress = showProgress(opts);
      const size = file === '-' ? null : (await stat(file)).size;
      const bar = await startBytesBar(`upload ${name}`, size, progress);
      try {
        // By path the SDK may send it again after a refusal that did no work; a counted stream is read once.
        const source =
          file === '-' ? countBytes(process.stdin, bar.update) : progress ? countBytes(createReadStream(file), bar.update) : file;
        const kind = opts.kind ?? (/\.iso$/i.test(name) ? 'iso' : 'disk');
        const uploaded = await interruptible((signal) => client.uploadImage(source, { name, kind, signal }));
        bar.stop();
        await printImage(uploaded, outputMode(opts) === 'json');
      } catch (err) {
        bar.stop();
        if (err instanceof Interrupted) throw new Interrupted('Upload cancelled; no image was stored.', null);
        throw err;
      }
    });

  image
    .command('rm')
    .description('delete an image (refused while a VM uses it: exit 5)')
    .argument('<id>', 'the image id')
    .action(async (id: string, _flags, self: Command) => {
      const opts = optionsOf(self);
      const client = await connect(opts);
      const deleted = await client.deleteImage(id);
      if (outputMode(opts) === 'json') return printJson(deleted);
      process.stdout.write(`deleted image ${deleted.name} (${deleted.id})\n`);
    });
}
