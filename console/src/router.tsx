/** A small History-API router for paths under /admin: links are real <a href>s. */
import { type MouseEvent, type ReactNode, useEffect, useState } from "react";

export const BASE = "/admin";

export function navigate(to: string) {
  history.pushState(null, "", `${BASE}${to}`);
  dispatchEvent(new PopStateEvent("popstate"));
}

const read = () => ({
  path: location.pathname.slice(BASE.length).replace(/\/+$/, "") || "/",
  query: new URLSearchParams(location.search),
});

/** The path below /admin ("/" for the overview) and its query. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const [loc, setLoc] = useState(read);
  useEffect(() => {
    const on = () => setLoc(read());
    addEventListener("popstate", on);
    return () => removeEventListener("popstate", on);
  }, []);
  return loc;
}

export function Link(props: { to: string; children: ReactNode; className?: string; current?: boolean }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    navigate(props.to);
  };
  return (
    <a
      href={`${BASE}${props.to}`}
      onClick={onClick}
      className={props.className}
      aria-current={props.current ? "page" : undefined}
    >
      {props.children}
    </a>
  );
}
