/**
 * The shell: who is signed in, the navigation, the language, and which view the path shows.
 * Views see only what the session's permissions allow; the server checks again.
 */
import { useEffect, useMemo, useState } from "react";
import { del, get, type Session, setCsrfToken } from "./api.ts";
import {
  I18nContext,
  initialLocale,
  LOCALE_NAMES,
  LOCALES,
  type Locale,
  makeI18n,
  rememberLocale,
  useI18n,
} from "./i18n.tsx";
import type { Key } from "./messages.ts";
import { Link, navigate, useLocation } from "./router.tsx";
import { Loading } from "./ui.tsx";
import { AccountView } from "./views/account.tsx";
import { AuditView } from "./views/audit.tsx";
import { CompensationView, RunView } from "./views/compensation.tsx";
import { ComponentsView } from "./views/components.tsx";
import { IncidentView } from "./views/incident.tsx";
import { LoginView, SetupView } from "./views/login.tsx";
import { MaintenanceView } from "./views/maintenance.tsx";
import { MonitorsView } from "./views/monitors.tsx";
import { NotificationsView } from "./views/notifications.tsx";
import { OverviewView } from "./views/overview.tsx";
import { StatusPageView } from "./views/status-page.tsx";
import { TokensView } from "./views/tokens.tsx";
import { UsersView } from "./views/users.tsx";

export const can = (session: Session, scope: string) =>
  session.permissions.includes("*") || session.permissions.includes(scope);

const NAV: { to: string; label: Key; scope?: string }[] = [
  { to: "/", label: "nav.overview" },
  { to: "/components", label: "nav.components" },
  { to: "/maintenance", label: "nav.maintenance" },
  { to: "/status-page", label: "nav.statusPage" },
  { to: "/notifications", label: "nav.notifications" },
  { to: "/compensation", label: "nav.compensation" },
  { to: "/monitors", label: "nav.monitors" },
  { to: "/audit", label: "nav.audit", scope: "audit:read" },
  { to: "/users", label: "nav.users", scope: "users:write" },
  { to: "/tokens", label: "nav.tokens", scope: "tokens:write" },
  { to: "/account", label: "nav.account" },
];

/** Whether the window is as narrow as a phone's, kept up to date as it turns or resizes. */
function useNarrow(query = "(max-width: 640px)") {
  const [narrow, setNarrow] = useState(() => matchMedia(query).matches);
  useEffect(() => {
    const media = matchMedia(query);
    const changed = () => setNarrow(media.matches);
    media.addEventListener("change", changed);
    return () => media.removeEventListener("change", changed);
  }, [query]);
  return narrow;
}

export function App() {
  const { path, query } = useLocation();
  const narrow = useNarrow();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [locale, setLocale] = useState<Locale>(() => initialLocale());
  const i18n = useMemo(() => makeI18n(locale), [locale]);
  const { t } = i18n;

  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);

  const signedIn = (s: Session | null) => {
    setCsrfToken(s?.csrfToken ?? "");
    setSession(s);
    if (s && !localStorage.getItem("amends.locale")) setLocale(initialLocale(s.user.locale));
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: once, on load
  useEffect(() => {
    // Not signed in (401) or the server unreachable: both show the sign-in form.
    get<Session>("/session").then(signedIn, () => signedIn(null));
  }, []);

  const chooseLocale = (l: Locale) => {
    rememberLocale(l);
    setLocale(l);
  };
  const signOut = async () => {
    await del("/session").catch(() => {});
    signedIn(null);
    navigate("/");
  };

  const languagePicker = (
    <label className="language">
      <span>{t("language")}</span>
      <select value={locale} onChange={(e) => chooseLocale(e.target.value as Locale)}>
        {LOCALES.map((l) => (
          <option key={l} value={l} lang={l}>
            {LOCALE_NAMES[l]}
          </option>
        ))}
      </select>
    </label>
  );

  let main: React.ReactNode;
  if (session === undefined) main = <Loading />;
  else if (path === "/setup" || path === "/invite")
    main = <SetupView token={query.get("token") ?? ""} invite={path === "/invite"} onDone={signedIn} />;
  else if (!session) main = <LoginView onSignedIn={signedIn} />;
  else main = <Routed path={path} session={session} onSession={signedIn} />;

  const sections = session ? NAV.filter((n) => !n.scope || can(session, n.scope)) : [];
  const isCurrent = (to: string) => (to === "/" ? path === "/" : path === to || path.startsWith(`${to}/`));
  const current = sections.find((n) => isCurrent(n.to));
  const links = (
    <ul>
      {sections.map((n) => (
        <li key={n.to}>
          <Link to={n.to} current={isCurrent(n.to)}>
            {t(n.label)}
          </Link>
        </li>
      ))}
    </ul>
  );
  return (
    <I18nContext.Provider value={i18n}>
      <a className="skip" href="#main">
        {t("skipToContent")}
      </a>
      <header className="top">
        <div className="brand">
          <strong>Amends</strong>
          {session && <span className="workspace">{session.workspace.name}</span>}
        </div>
        {languagePicker}
        {session && (
          <div className="who">
            <span>
              {session.user.name} · {t(`role.${session.user.role}` as Key)}
            </span>
            <button type="button" onClick={signOut}>
              {t("signOut")}
            </button>
          </div>
        )}
      </header>
      {session && (
        <nav aria-label={t("nav.label")} className="nav">
          {narrow ? (
            // One line on a phone: the section you are in, the others a tap away.
            <details key={path}>
              <summary>
                {t("nav.menu")}
                {current && ` · ${t(current.label)}`}
              </summary>
              {links}
            </details>
          ) : (
            links
          )}
        </nav>
      )}
      <main id="main" tabIndex={-1}>
        {main}
      </main>
    </I18nContext.Provider>
  );
}

function Routed({
  path,
  session,
  onSession,
}: {
  path: string;
  session: Session;
  onSession: (s: Session) => void;
}) {
  const [, section, id] = path.split("/");
  switch (section) {
    case "":
    case undefined:
      return <OverviewView session={session} />;
    case "incidents":
      return id ? (
        <IncidentView id={decodeURIComponent(id)} session={session} />
      ) : (
        <OverviewView session={session} />
      );
    case "components":
      return <ComponentsView session={session} />;
    case "maintenance":
      return <MaintenanceView session={session} />;
    case "status-page":
      return <StatusPageView session={session} />;
    case "notifications":
      return <NotificationsView session={session} />;
    case "compensation":
      return id ? (
        <RunView id={decodeURIComponent(id)} session={session} />
      ) : (
        <CompensationView session={session} />
      );
    case "monitors":
      return <MonitorsView session={session} />;
    case "audit":
      return <AuditView />;
    case "users":
      return <UsersView session={session} />;
    case "tokens":
      return <TokensView session={session} />;
    case "account":
      return <AccountView session={session} onSession={onSession} />;
    default:
      return <NotFound />;
  }
}

function NotFound() {
  const { t } = useI18n();
  return <p>{t("notFound")}</p>;
}
