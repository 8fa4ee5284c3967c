import { useEffect, useState } from 'preact/hooks';
import { forgetSession, restoreSession, type Session } from './api.js';
import { Nav } from './components/nav.js';
import { Hosts } from './pages/hosts.js';
import { Images } from './pages/images.js';
import { NotFound } from './pages/not-found.js';
import { SignIn } from './pages/sign-in.js';
import { VmCreate } from './pages/vm-create.js';
import { VmList } from './pages/vm-list.js';
import { VmPage } from './pages/vm-page.js';
import { navigate, usePath } from './router.js';

function Route(props: { path: string; session: Session }) {
  const { client, principal } = props.session;
  const { path } = props;
  if (path === '/' || path === '/vms') return <VmList client={client} principal={principal} />;
  if (path === '/vms/new') return <VmCreate client={client} />;
  const vm = /^\/vms\/([^/]+)\/?$/.exec(path);
  if (vm) {
    // A malformed %-escape is a page that does not exist, not a blank app.
    let id: string;
    try {
      id = decodeURIComponent(vm[1]!);
    } catch {
      return <NotFound />;
    }
    return <VmPage key={vm[1]} client={client} principal={principal} id={id} />;
  }
  if (path === '/images') return <Images client={client} />;
  if (path === '/hosts') return <Hosts client={client} principal={principal} />;
  return <NotFound />;
}

export function App() {
  const path = usePath();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  useEffect(() => {
    restoreSession().then(setSession);
  }, []);

  useEffect(() => {
    document.title = session ? 'Hangar' : 'Sign in · Hangar';
  }, [session]);

  if (session === undefined) return <p class="boot">Loading Hangar…</p>;
  if (!session)
    return (
      <SignIn
        onSignedIn={(s) => {
          setSession(s);
          if (path === '/sign-in') navigate('/');
        }}
      />
    );
  return (
    <>
      <Nav
        path={path}
        principal={session.principal}
        onSignOut={() => {
          forgetSession();
          setSession(null);
        }}
      />
      <Route path={path} session={session} />
    </>
  );
}
