import type { Principal } from '@hangar/sdk';
import { Link } from './link.js';

const LINKS = [
  { href: '/', label: 'VMs', active: (p: string) => p === '/' || p.startsWith('/vms') },
  { href: '/images', label: 'Images', active: (p: string) => p === '/images' },
  { href: '/hosts', label: 'Hosts', active: (p: string) => p === '/hosts' },
];

export function Nav(props: { path: string; principal: Principal; onSignOut: () => void }) {
  const p = props.principal;
  return (
    <header class="top">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <span class="brand">Hangar</span>
      <nav aria-label="Main">
        <ul>
          {LINKS.map((l) => (
            <li key={l.href}>
              <Link href={l.href} aria-current={l.active(props.path) ? 'page' : undefined}>
                {l.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <span class="whoami" data-role={p.role}>
        {p.username} · {p.global_admin ? 'global admin' : p.role}
      </span>
      <button type="button" class="button" onClick={props.onSignOut}>
        Sign out
      </button>
    </header>
  );
}
