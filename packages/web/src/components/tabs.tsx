import type { ComponentChildren } from 'preact';

/**
 * Tabs as the ARIA pattern has them: buttons in a tablist, arrow keys move between them, the
 * chosen one's panel below.
 */
export function Tabs<T extends string>(props: {
  label: string;
  tabs: { id: T; label: string }[];
  current: T;
  onChange: (id: T) => void;
  children: ComponentChildren;
}) {
  const onKey = (e: KeyboardEvent) => {
    const i = props.tabs.findIndex((t) => t.id === props.current);
    const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (!step) return;
    e.preventDefault();
    const next = props.tabs[(i + step + props.tabs.length) % props.tabs.length]!;
    props.onChange(next.id);
    document.getElementById(`tab-${next.id}`)?.focus();
  };
  return (
    <div class="tabs">
      <div class="tablist" role="tablist" aria-label={props.label} onKeyDown={onKey}>
        {props.tabs.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={t.id === props.current}
            aria-controls={`panel-${t.id}`}
            tabIndex={t.id === props.current ? 0 : -1}
            class="tab"
            onClick={() => props.onChange(t.id)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div class="tabpanel" role="tabpanel" id={`panel-${props.current}`} aria-labelledby={`tab-${props.current}`}>
        {props.children}
      </div>
    </div>
  );
}
