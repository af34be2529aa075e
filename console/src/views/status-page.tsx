/**
 * The status page's look: the name it goes by, its accent colour, logo and favicon, and a
 * preview of the top of the page drawn from what is chosen here, saved or not. Name and colour
 * are saved together (PATCH /brand); an image is uploaded as soon as it is chosen (PUT
 * /brand/{logo,favicon}, the file itself as the body).
 */
import { type FormEvent, useId, useLayoutEffect, useRef, useState } from "react";
import { ApiError, type Brand, del, get, patch, putFile, type Session } from "../api.ts";
import { can } from "../app.tsx";
import { useI18n } from "../i18n.tsx";
import type { Key } from "../messages.ts";
import { ErrorBox, Field, Loading, useAction, useLoad } from "../ui.tsx";

/** The page's own accent when none is set (--accent in src/status-page/render-html.ts). */
const DEFAULT_ACCENT = "#0550ae";
const HEX = /^#[0-9a-f]{6}$/;

/** WCAG 2 relative luminance of #rrggbb (as src/core/brand.ts, which the page uses). */
function luminance(hex: string): number {
  const channel = (i: number) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}
/** White or black on the accent, whichever contrasts more: what the page itself does. */
export const textOnAccent = (accent: string) => {
  const l = luminance(accent);
  return 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? "#ffffff" : "#000000";
};

/** The API's message for a field, when it named that field (or, with `any`, whatever went wrong). */
function messageFor(error: unknown, field: string, any = false): string | undefined {
  if (!error) return undefined;
  if (error instanceof ApiError) return error.field(field) ?? (any ? error.message : undefined);
  return any ? (error instanceof Error ? error.message : String(error)) : undefined;
}

export function StatusPageView({ session }: { session: Session }) {
  const { t } = useI18n();
  const brand = useLoad(() => get<Brand>("/brand"), []);
  if (!brand.data) return <Loading error={brand.error} />;
  const writable = can(session, "components:write");
  return (
    <>
      <h1>{t("nav.statusPage")}</h1>
      <p>
        {t("brandIntro")} <a href="/">{t("openStatusPage")}</a>
      </p>
      {!writable && <p className="warn">{t("brandReadOnly")}</p>}
      <BrandEditor
        brand={brand.data}
        onChange={brand.setData}
        workspaceName={session.workspace.name}
        writable={writable}
      />
    </>
  );
}

function BrandEditor(props: {
  brand: Brand;
  onChange: (b: Brand) => void;
  workspaceName: string;
  writable: boolean;
}) {
  const { t } = useI18n();
  const { brand, writable } = props;
  const [name, setName] = useState(brand.name ?? "");
  // The hex text is what the colour is: empty is the default, anything else is sent as typed.
  const [hex, setHex] = useState(brand.accent_color ?? "");
  const [saved, setSaved] = useState(false);
  const action = useAction();
  const accentHintId = useId();

  const typed = hex.trim().toLowerCase();
  const accent = HEX.test(typed)
    ? typed
    : typed === ""
      ? DEFAULT_ACCENT
      : (brand.accent_color ?? DEFAULT_ACCENT);
  const shownName = name.trim() || props.workspaceName;

  const edit = (change: () => void) => {
    setSaved(false);
    action.setError(undefined);
    change();
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    action.run(async () => {
      const b = await patch<Brand>("/brand", { name: name.trim() || null, accent_color: typed || null });
      props.onChange(b);
      setName(b.name ?? "");
      setHex(b.accent_color ?? "");
      setSaved(true);
    });
  };
  const nameError = messageFor(action.error, "name");
  const accentError = messageFor(action.error, "accent_color");
  const otherError = action.error && !nameError && !accentError ? action.error : undefined;

  return (
    <section aria-labelledby="brand-heading">
      <h2 id="brand-heading">{t("brandTitle")}</h2>
      <div className="brand-layout">
        <div className="stack">
          <form onSubmit={submit} className="panel">
            <fieldset disabled={!writable} className="inline-group stack">
              <Field label={t("pageName")} hint={t("pageNameHint")} error={nameError}>
                {(id, describedBy) => (
                  <input
                    id={id}
                    value={name}
                    placeholder={props.workspaceName}
                    maxLength={100}
                    autoComplete="organization"
                    aria-invalid={nameError ? true : undefined}
                    aria-describedby={describedBy}
                    onChange={(e) => edit(() => setName(e.target.value))}
                  />
                )}
              </Field>
              <fieldset className="accent">
                <legend>{t("accentColor")}</legend>
                <div className="row">
                  <Field label={t("accentPick")}>
                    {(id) => (
                      <input
                        id={id}
                        type="color"
                        value={accent}
                        onChange={(e) => edit(() => setHex(e.target.value))}
                      />
                    )}
                  </Field>
                  <Field label={t("accentHex")} error={accentError} className="accent-hex">
                    {(id, describedBy) => (
                      <input
                        id={id}
                        value={hex}
                        placeholder={DEFAULT_ACCENT}
                        size={9}
                        spellCheck={false}
                        autoComplete="off"
                        aria-invalid={accentError ? true : undefined}
                        aria-describedby={[describedBy, accentHintId].filter(Boolean).join(" ")}
                        onChange={(e) => edit(() => setHex(e.target.value))}
                      />
                    )}
                  </Field>
                  <button type="button" onClick={() => edit(() => setHex(""))} disabled={typed === ""}>
                    {t("accentDefault")}
                  </button>
                </div>
                <small id={accentHintId}>
                  {typed === "" ? t("accentIsDefault", { hex: DEFAULT_ACCENT }) : t("accentHint")}
                </small>
              </fieldset>
              <div className="row">
                <button type="submit" className="primary" disabled={action.busy}>
                  {t("save")}
                </button>
                <p role="status" className="ok">
                  {saved ? t("saved") : ""}
                </p>
              </div>
              <ErrorBox error={otherError} />
            </fieldset>
          </form>
          <div className="side-by-side">
            <ImageField kind="logo" url={brand.logo_url} writable={writable} onChange={props.onChange} />
            <ImageField
              kind="favicon"
              url={brand.favicon_url}
              writable={writable}
              onChange={props.onChange}
            />
          </div>
        </div>
        <BrandPreview name={shownName} accent={accent} logo={brand.logo_url} favicon={brand.favicon_url} />
      </div>
    </section>
  );
}

// What the file input offers; the server decides by the bytes (an .ico may come as any of its types).
const ACCEPT = {
  logo: "image/png,image/jpeg,image/webp,image/svg+xml,.png,.jpg,.jpeg,.webp,.svg",
  favicon: "image/png,image/x-icon,image/vnd.microsoft.icon,image/svg+xml,.png,.ico,.svg",
};
/** The server's limits (src/core/brand.ts), checked first so a large file is not sent for nothing. */
const MAX_BYTES = { logo: 256 * 1024, favicon: 64 * 1024 };
const SENT_AS = ["image/png", "image/jpeg", "image/webp", "image/x-icon", "image/svg+xml"];

const IMAGE_WORDS: Record<
  "logo" | "favicon",
  { legend: Key; upload: Key; hint: Key; current: Key; none: Key; remove: Key }
> = {
  logo: {
    legend: "logo",
    upload: "uploadLogo",
    hint: "logoHint",
    current: "currentLogo",
    none: "noLogo",
    remove: "removeLogo",
  },
  favicon: {
    legend: "favicon",
    upload: "uploadFavicon",
    hint: "faviconHint",
    current: "currentFavicon",
    none: "noFavicon",
    remove: "removeFavicon",
  },
};

function ImageField(props: {
  kind: "logo" | "favicon";
  url: string | null;
  writable: boolean;
  onChange: (b: Brand) => void;
}) {
  const { t } = useI18n();
  const { kind, url } = props;
  const words = IMAGE_WORDS[kind];
  const input = useRef<HTMLInputElement>(null);
  const [done, setDone] = useState(false);
  const action = useAction();

  const upload = async (file: File | undefined) => {
    if (!file) return;
    setDone(false);
    if (file.size > MAX_BYTES[kind]) {
      if (input.current) input.current.value = "";
      const kb = (n: number) => Math.ceil(n / 1024);
      action.setError(new Error(t("imageTooLarge", { max: kb(MAX_BYTES[kind]), size: kb(file.size) })));
      return;
    }
    // An unusual type (a .ico as image/vnd.microsoft.icon) goes as bytes: the server looks at them.
    const type = SENT_AS.includes(file.type) ? file.type : "application/octet-stream";
    const b = await action.run(() => putFile<Brand>(`/brand/${kind}`, file, type));
    // Cleared, so that choosing the same file again (after fixing it, say) uploads it again.
    if (input.current) input.current.value = "";
    if (b) {
      props.onChange(b);
      setDone(true);
    }
  };
  const remove = async () => {
    setDone(false);
    const b = await action.run(() => del<Brand>(`/brand/${kind}`));
    if (b) {
      props.onChange(b);
      setDone(true);
      // The button is gone; the keyboard goes on from the file input.
      input.current?.focus();
    }
  };

  return (
    <fieldset className="brand-image" disabled={!props.writable}>
      <legend>{t(words.legend)}</legend>
      <div className={`brand-image-current brand-image-${kind}`}>
        {url ? <img src={url} alt={t(words.current)} /> : <p>{t(words.none)}</p>}
      </div>
      <Field label={t(words.upload)} hint={t(words.hint)} error={messageFor(action.error, kind, true)}>
        {(id, describedBy) => (
          <input
            id={id}
            ref={input}
            type="file"
            accept={ACCEPT[kind]}
            aria-describedby={describedBy}
            aria-invalid={action.error ? true : undefined}
            onChange={(e) => upload(e.target.files?.[0])}
          />
        )}
      </Field>
      <div className="row">
        {url && (
          <button type="button" onClick={remove} disabled={action.busy}>
            {t(words.remove)}
          </button>
        )}
        <p role="status" className="ok">
          {done ? t("saved") : ""}
        </p>
      </div>
    </fieldset>
  );
}

/**
 * The top of the public page as it will look: the tab (favicon and name), the bar in the accent,
 * the logo and name, a button in the accent. The colour is set as custom properties through the
 * CSSOM (element.style), which the console's CSP (style-src 'self') allows; a style attribute it
 * would not.
 */
function BrandPreview(props: { name: string; accent: string; logo: string | null; favicon: string | null }) {
  const { t } = useI18n();
  const box = useRef<HTMLDivElement>(null);
  // The page's heading and tab title, as it words them (src/i18n/catalog.ts, pageTitle).
  const title = t("brandPreviewTitle", { name: props.name });
  useLayoutEffect(() => {
    box.current?.style.setProperty("--preview-accent", props.accent);
    box.current?.style.setProperty("--preview-on-accent", textOnAccent(props.accent));
  }, [props.accent]);
  return (
    <section className="panel brand-preview-panel" aria-labelledby="brand-preview-heading">
      <h3 id="brand-preview-heading">{t("brandPreview")}</h3>
      <small>{t("brandPreviewHint")}</small>
      <div className="brand-preview" ref={box} data-testid="brand-preview" data-accent={props.accent}>
        <div className="brand-preview-tab">
          {props.favicon ? (
            <img src={props.favicon} alt="" width={16} height={16} />
          ) : (
            <span className="brand-preview-dot" />
          )}
          <span>{title}</span>
        </div>
        <div className="brand-preview-page">
          <div className="brand-preview-title">
            {props.logo && <img src={props.logo} alt="" className="brand-preview-logo" />}
            <span>{title}</span>
          </div>
          <span className="brand-preview-button">{t("brandPreviewButton")}</span>
        </div>
      </div>
    </section>
  );
}
