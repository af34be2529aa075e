/** `amends notifications`: who hears about incidents; estimates, events, confirmation, progress. */
import { Presets, SingleBar } from "cli-progress";
import { formatMoney } from "../../core/money.ts";
import { api, CliError, print } from "../context.ts";

export async function estimate(o: { component?: string[] }) {
  const e = await api("POST", "/api/v1/notification-estimate", { components: o.component ?? [] });
  print(e, () =>
    [
      `${e.total} recipient(s): ${
        Object.entries(e.recipients)
          .map(([c, n]) => `${n} ${c}`)
          .join(", ") || "nobody"
      }`,
      `SMS: ${e.sms.messages} message(s), ${e.sms.segments} segment(s), ${e.sms.cost.map((m: { amount: number; currency: string }) => formatMoney(m)).join(" + ") || "no cost"}${e.sms.unpriced ? ` (${e.sms.unpriced} unpriced)` : ""}`,
      e.needsConfirmation
        ? "Above the threshold: the SMS will wait for `amends notifications confirm EVENT`; the free channels go at once."
        : "",
    ]
      .filter(Boolean)
      .join("\n"),
  );
}

export async function events() {
  const res = await api("GET", "/api/v1/notification-events");
  print(
    res,
    () =>
      res.events
        .map(
          (e: {
            id: string;
            event: string;
            status: string;
            incident_id: string | null;
            estimate: { total?: number } | null;
          }) =>
            `${e.id}  ${e.event.padEnd(22)} ${e.status.padEnd(22)} ${e.incident_id ?? ""}  ${e.estimate?.total ?? "?"} recipients`,
        )
        .join("\n") || "No events.",
  );
}

export async function confirm(id: string) {
  const e = await api("POST", `/api/v1/notification-events/${encodeURIComponent(id)}/confirm`);
  print(e, () => `${e.id} confirmed: sending.`);
}

export async function watch(id: string) {
  const path = `/api/v1/notification-events/${encodeURIComponent(id)}`;
  const bar = process.stderr.isTTY
    ? new SingleBar(
        { format: "{bar} {value}/{total} sent · {failed} failed · {held} held", hideCursor: true },
        Presets.shades_classic,
      )
    : undefined;
  for (let started = false; ; ) {
    const e = await api("GET", path);
    const count = (...statuses: string[]) =>
      e.progress
        .filter((p: { status: string }) => statuses.includes(p.status))
        .reduce((a: number, p: { n: number }) => a + p.n, 0);
    const total =
      e.estimate?.total ?? count("queued", "sent", "delivered", "failed", "bounced", "suppressed", "held");
    const [sent, failed, held] = [
      count("sent", "delivered"),
      count("failed", "bounced", "suppressed"),
      count("held"),
    ];
    if (bar && !started) bar.start(total, 0, { failed: 0, held: 0 });
    started = true;
    bar?.update(sent, { failed, held });
    if (e.status === "done" && sent + failed + held >= total) {
      bar?.stop();
      print(e, () => `${sent} sent, ${failed} failed, ${held} held of ${total}.`);
      return;
    }
    if (e.status === "awaiting_confirmation") {
      bar?.stop();
      throw new CliError(
        `error: ${e.waiting?.message ?? `${id} waits for confirmation: amends notifications confirm ${id}`}`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
