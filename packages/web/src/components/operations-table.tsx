import type { Operation } from '@hangar/sdk';
import { when } from '../format.js';
import { StatusBadge } from './status-badge.js';

export function OperationsTable(props: { operations: Operation[] }) {
  if (props.operations.length === 0) return <p class="muted">No operations yet.</p>;
  return (
    <table class="table">
      <colgroup>
        <col style="width: 9rem" />
        <col style="width: 8rem" />
        <col style="width: 12rem" />
        <col style="width: 12rem" />
        <col />
      </colgroup>
      <thead>
        <tr>
          <th scope="col">Action</th>
          <th scope="col">Status</th>
          <th scope="col">Asked</th>
          <th scope="col">Finished</th>
          <th scope="col">Error</th>
        </tr>
      </thead>
      <tbody>
        {props.operations.map((o) => (
          <tr key={o.id} data-operation-id={o.id}>
            <td>{o.action}</td>
            <td>
              <StatusBadge status={o.status} />
            </td>
            <td>{when(o.created_at)}</td>
            <td>{when(o.finished_at)}</td>
            <td class="wrap">{o.error ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
