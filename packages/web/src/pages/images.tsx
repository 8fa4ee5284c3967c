import type { Client, Image } from '@hangar/sdk';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { messageOf } from '../api.js';
import { ErrorNote } from '../components/error-note.js';
import { StatusBadge } from '../components/status-badge.js';
import { bytes, when } from '../format.js';
import { useWatch } from '../live.js';

function progress(i: Image): string {
  if (i.status !== 'downloading') return i.size_bytes !== null ? bytes(i.size_bytes) : '—';
  const { bytes_done, bytes_total } = i.progress;
  return bytes_total ? `${Math.floor((bytes_done / bytes_total) * 100)}% of ${bytes(bytes_total)}` : bytes(bytes_done);
}

/** The project's ISO and disk images, kept current from the watch stream. */
export function Images(props: { client: Client }) {
  const [images, setImages] = useState<Image[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      setImages(await props.client.listImages());
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    }
  }, [props.client]);
  useEffect(() => {
    load();
  }, [load]);
  useWatch(props.client, { type: 'image' }, load, load);

  return (
    <main id="main" class="page">
      <h1>Images</h1>
      <ErrorNote error={error} />
      {images === null && !error && <p class="muted">Loading…</p>}
      {images?.length === 0 && <p class="muted">No images yet. Register one with the SDK, the CLI or the API.</p>}
      {images && images.length > 0 && (
        <table class="table">
          <colgroup>
            <col style="width: 16rem" />
            <col style="width: 5rem" />
            <col style="width: 9rem" />
            <col style="width: 11rem" />
            <col />
            <col style="width: 12rem" />
          </colgroup>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Status</th>
              <th scope="col">Size</th>
              <th scope="col">Source</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {images.map((i) => (
              <tr key={i.id}>
                <td class="wrap">{i.name}</td>
                <td>{i.kind}</td>
                <td>
                  <StatusBadge status={i.status} />
                </td>
                <td>{progress(i)}</td>
                <td class="wrap">{i.error ? <span class="field-error">{i.error}</span> : (i.source_url ?? 'uploaded')}</td>
                <td>{when(i.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
