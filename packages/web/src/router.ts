import type { TargetedMouseEvent } from 'preact';
import { useEffect, useState } from 'preact/hooks';

/** The app's pages are paths the server answers with its index.html: routing happens here. */
export function navigate(path: string): void {
  if (path === location.pathname + location.search) return;
  history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

/** The current path, re-rendered on navigation (links here, back and forward buttons). */
export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  return path;
}

/** A real link (it opens in a new tab on a middle click) that navigates in place on a plain click. */
export function onLinkClick(e: TargetedMouseEvent<HTMLAnchorElement>): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(e.currentTarget.getAttribute('href')!);
}
