/** A failure, in the API's words, announced to screen readers. */
export function ErrorNote(props: { error: string | null | undefined; id?: string }) {
  if (!props.error) return null;
  return (
    <p class="error-note" role="alert" id={props.id}>
      {props.error}
    </p>
  );
}
