import { Link } from '../components/link.js';

/** Also what another project's VM looks like: the API does not say it exists. */
export function NotFound(props: { what?: string }) {
  return (
    <main id="main" class="page">
      <h1>Not found</h1>
      <p data-testid="not-found">
        {props.what ? `No such ${props.what} in this project.` : 'There is no page here.'} <Link href="/">Back to the VMs</Link>
      </p>
    </main>
  );
}
