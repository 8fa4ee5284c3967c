import type { ComponentChildren } from 'preact';

/**
 * A labelled input with the API's message for it. The input takes `fieldProps(id, error, hint)`,
 * which tie the message to it (aria-describedby) and mark it invalid, so a screen reader says both.
 */
export function Field(props: { id: string; label: string; error?: string; hint?: string; children: ComponentChildren }) {
  return (
    <div class={`field${props.error ? ' field-invalid' : ''}`} data-field={props.id}>
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      )}
      {props.error && (
        <p class="field-error" id={`${props.id}-error`}>
          {props.error}
        </p>
      )}
    </div>
  );
}

export function fieldProps(id: string, error?: string, hint?: string) {
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return { id, name: id, 'aria-invalid': error ? ('true' as const) : undefined, 'aria-describedby': described || undefined };
}
