import type { Client, Principal } from '@hangar/sdk';
import { useEffect, useState } from 'preact/hooks';

/** Host names by id, for global admins (only they may list hosts); others see ids. */
export function useHostNames(client: Client, principal: Principal): Record<string, string> {
  const [names, setNames] = useState<Record<string, string>>({});
  useEffect(() => {
    if (!principal.global_admin) return;
    client.listHosts().then(
      (hosts) => setNames(Object.fromEntries(hosts.map((h) => [h.id, h.name]))),
      () => {},
    );
  }, [client, principal]);
  return names;
}
