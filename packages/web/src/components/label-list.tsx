export function LabelList(props: { labels: Record<string, string> }) {
  const entries = Object.entries(props.labels);
  if (entries.length === 0) return <span class="muted">—</span>;
  return (
    <ul class="labels">
      {entries.map(([k, v]) => (
        <li key={k} class="label">
          {v ? `${k}=${v}` : k}
        </li>
      ))}
    </ul>
  );
}
