/** A VM's (or image's, or host's) status as a coloured word; the word itself says it, not the colour. */
export function StatusBadge(props: { status: string }) {
  return (
    <span class={`status status-${props.status}`} data-status={props.status}>
      {props.status}
    </span>
  );
}
