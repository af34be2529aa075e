/**
 * A tagged template that escapes every interpolated value unless it is already HTML.
 * Server-rendered pages are built from it, so text from operators can never become markup.
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

type Value = Html | string | number | boolean | null | undefined | readonly Value[];

const render = (v: Value): string => {
  if (v === null || v === undefined || v === false) return "";
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join("");
  return escapeHtml(String(v));
};

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new Html(out);
}

/** Marks a trusted string (our own CSS, say) as HTML. Never pass user text. */
export const trusted = (s: string) => new Html(s);

// Web, mail and phone links only: any other scheme (javascript:, data:) stays plain text.
const LINK = /\b(?:https?:\/\/|mailto:|tel:)[^\s<>"']+/gi;

/**
 * Plain text with its http(s), mailto and tel links made into <a href>, everything escaped: for
 * the operator's text on the page and in e-mails (a protocol's support channel, say). Trailing
 * punctuation ends a sentence, not the link.
 */
export function linkify(text: string): Html {
  let out = "";
  let last = 0;
  for (const m of text.matchAll(LINK)) {
    let url = m[0];
    const trail = /[.,;:!?)\]]+$/.exec(url)?.[0] ?? "";
    url = url.slice(0, url.length - trail.length);
    if (url.endsWith("//") || url.endsWith(":")) continue;
    out += escapeHtml(text.slice(last, m.index)) + `<a href="${escapeHtml(url)}">${escapeHtml(url)}</a>`;
    last = m.index + url.length;
  }
  return new Html(out + escapeHtml(text.slice(last)));
}
