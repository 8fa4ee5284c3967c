import type { VmEvent } from '@hangar/sdk';
import { when } from '../format.js';

/** The VM's history, newest first. */
export function EventsTable(props: { events: VmEvent[] }) {
  if (props.events.length === 0) return <p class="muted">No events yet.</p>;
  return (
    <table class="table">
      <colgroup>
        <col style="width: 12rem" />
        <col style="width: 12rem" />
        <col style="width: 12rem" />
        <col />
      </colgroup>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Type</th>
          <th scope="col">Status</th>
          <th scope="col">Message</th>
        </tr>
      </thead>
      <tbody>
        {props.events
          .slice()
          .reverse()
          .map((e) => (
            <tr key={e.id}>
              <td>{when(e.created_at)}</td>
              <td>{e.type}</td>
              <td>{e.from_status || e.to_status ? `${e.from_status ?? '—'} → ${e.to_status ?? '—'}` : ''}</td>
              <td class="wrap">{e.message}</td>
            </tr>
          ))}
      </tbody>
    </table>
  );
}
