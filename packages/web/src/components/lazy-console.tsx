import type { Client } from '@hangar/sdk';
import type { FunctionComponent } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { messageOf } from '../api.js';
import { ErrorNote } from './error-note.js';

type Screen = FunctionComponent<{ client: Client; vmId: string; viewOnly: boolean }>;
let loaded: Promise<Screen> | null = null;

/** The Console tab: noVNC is a chunk of its own, fetched the first time a console opens. */
export function LazyConsole(props: { client: Client; vmId: string; viewOnly: boolean }) {
  const [Screen, setScreen] = useState<Screen | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    loaded ??= import('./vnc-screen.js').then((m) => m.default);
    loaded.then(
      (s) => setScreen(() => s),
      (err) => {
        loaded = null;
        setError(messageOf(err));
      },
    );
  }, []);
  if (error) return <ErrorNote error={`The console viewer did not load: ${error}`} />;
  if (!Screen) return <p class="muted">Loading the console viewer…</p>;
  return <Screen {...props} />;
}
