import type { Client, VmConfig as Config } from '@hangar/sdk';
import { useEffect, useState } from 'preact/hooks';
import { messageOf } from '../api.js';
import { ErrorNote } from './error-note.js';

/** The VM's hardware as the API reports it (on libvirt hosts with the domain XML). */
export function VmConfig(props: { client: Client; vmId: string; version: number }) {
  const [config, setConfig] = useState<Config | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    props.client.getVmConfig(props.vmId).then(
      (c) => {
        setConfig(c);
        setError(null);
      },
      (err) => setError(messageOf(err)),
    );
  }, [props.client, props.vmId, props.version]);
  if (error) return <ErrorNote error={error} />;
  if (!config) return <p class="muted">Loading…</p>;
  const { xml_config, ...rest } = config as Config & { xml_config?: string | null };
  return (
    <section aria-label="Configuration">
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region is reached and scrolled with the keyboard */}
      <pre class="log" tabIndex={0}>
        {JSON.stringify(rest, null, 2)}
      </pre>
      {xml_config && (
        <>
          <h3>Domain XML</h3>
          {/* biome-ignore lint/a11y/noNoninteractiveTabindex: as above */}
          <pre class="log" tabIndex={0}>
            {xml_config}
          </pre>
        </>
      )}
    </section>
  );
}
