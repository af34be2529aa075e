/**
 * What a confirmed failure or a believed recovery does, for anything that watches components:
 * a monitor's checks, or the alerts an integration receives. Open an incident (or start a
 * protocol) and resolve it, alert the team, or set the components' status. The caller runs
 * these inside the transaction that records its own step, so a crash repeats neither half alone.
 */
import { listComponents, updateComponent } from "../components/store.ts";
import type { ComponentStatus } from "../core/components.ts";
import type { DampingOptions, OnFailure } from "../core/monitors.ts";
import { componentPath, listText } from "../core/wording.ts";
import { addIncidentUpdate, createIncident, getIncident } from "../incidents/store.ts";
import { newId } from "../lib/ids.ts";
import { OUTBOX_CHANNEL } from "../notifications/notifier.ts";
import { inEveryLanguage } from "../notifications/templates.ts";
import { startProtocol } from "../protocols/store.ts";
import { announcePageChange } from "../status-page/changes.ts";
import type { Database } from "../storage/database.ts";
import { outboxMessages } from "../storage/schema.ts";

export interface AutomationOptions {
  now: () => Date;
  damping: DampingOptions;
  /** configured social channels, for a protocol's estimate */
  social: string[];
}

/** A watcher as the automatic steps see it. */
export interface Watcher {
  workspaceId: string;
  /** `monitor:<id>` or `integration:<id>`: the author of its incident updates */
  by: string;
  /** the team's name for it, in team notes and alerts */
  name: string;
  onFailure: OnFailure;
  protocol: string | null;
  /** the components that fail, each with its status while failing */
  components: { componentId: string; status: ComponentStatus }[];
  /** the incident it opened and will resolve */
  incidentId: string | null;
  /** remembers the incident it opened (null: forgets it) */
  setIncident(database: Database, incidentId: string | null): Promise<void>;
}

export const startsProtocol = (w: Pick<Watcher, "onFailure" | "protocol">) =>
  w.onFailure === "open_incident" && Boolean(w.protocol);

/** The components as customers know them ("App › Milan and App › Rome"), per language; none: undefined. */
export async function componentNames(database: Database, ws: string, ids: readonly string[]) {
  if (ids.length === 0) return undefined;
  const all = await listComponents(database.db, ws);
  const paths = ids.map((id) => componentPath(all, id));
  return (locale: string) => listText(paths, locale);
}

async function alertTeam(
  database: Database,
  w: Watcher,
  what: "down" | "recovered",
  title: string,
  now: Date,
) {
  const [kind, id] = w.by.split(":") as [string, string];
  await database.db
    .insert(outboxMessages)
    .values({
      workspaceId: w.workspaceId,
      id: newId("msg"),
      idempotencyKey: `${w.by}:${what}:${now.getTime()}`,
      event: `${kind}.${what}`,
      channel: "team",
      locale: "en",
      template: `${kind}.${what}`,
      payload: { [`${kind}_id`]: id, title, components: w.components.map((c) => c.componentId) },
      status: "pending",
      createdAt: now,
    })
    .onConflictDoNothing();
}

/** Starts the watcher's protocol: after the commit, since it works out its SMS estimate on its own connection. */
export async function startWatcherProtocol(database: Database, w: Watcher, o: AutomationOptions) {
  const started = await startProtocol(database, w.workspaceId, w.protocol!, {
    by: w.by,
    now: o.now(),
    social: o.social,
  });
  if (started.incident) await w.setIncident(database, started.incident.id);
}

/** A confirmed failure: `detail` says what was seen, for the team only; `teamNote` frames it for the timeline. */
export async function onDown(
  database: Database,
  w: Watcher,
  o: AutomationOptions,
  detail: string,
  teamNote = detail,
) {
  const now = o.now();
  if (w.onFailure === "alert_team") {
    await alertTeam(database, w, "down", `${w.name} is down: ${detail}`, now);
  } else if (w.onFailure === "status_only") {
    for (const c of w.components)
      await updateComponent(database.db, w.workspaceId, c.componentId, { status: c.status }, now).catch(
        () => {},
      );
  } else {
    // The public reads what fails in its own words; the watcher's name and findings are the team's.
    const ids = w.components.map((c) => c.componentId);
    const names = await componentNames(database, w.workspaceId, ids);
    const title = inEveryLanguage(names ? "auto.problemTitle" : "auto.problemTitleAny", (l) => ({
      components: names?.(l) ?? "",
    }));
    const body = inEveryLanguage(names ? "auto.problemBody" : "auto.problemBodyAny", (l) => ({
      components: names?.(l) ?? "",
    }));
    const incident = await createIncident(
      database.db,
      w.workspaceId,
      {
        title: title.text,
        titleTranslations: title.translations,
        update: {
          body: body.text,
          bodyTranslations: body.translations,
          teamNote,
          components: w.components,
          createdBy: w.by,
        },
      },
      now,
    );
    await w.setIncident(database, incident.id);
  }
}

/**
 * While down, more components fail (another alert fires): the open incident names them all,
 * or their status is set. Alerting the team again would only repeat the first alert.
 */
export async function onSpread(
  database: Database,
  w: Watcher,
  added: Watcher["components"],
  o: AutomationOptions,
  teamNote: string,
) {
  if (added.length === 0) return;
  const now = o.now();
  if (w.onFailure === "status_only") {
    for (const c of added)
      await updateComponent(database.db, w.workspaceId, c.componentId, { status: c.status }, now).catch(
        () => {},
      );
    return;
  }
  if (w.onFailure !== "open_incident" || !w.incidentId) return;
  const incident = await getIncident(database.db, w.workspaceId, w.incidentId).catch(() => undefined);
  if (!incident || incident.status === "resolved") return;
  const names = await componentNames(
    database,
    w.workspaceId,
    w.components.map((c) => c.componentId),
  );
  const body = inEveryLanguage("auto.problemBody", (l) => ({ components: names?.(l) ?? "" }));
  await addIncidentUpdate(
    database.db,
    w.workspaceId,
    incident.id,
    { body: body.text, bodyTranslations: body.translations, teamNote, components: added, createdBy: w.by },
    now,
  );
}

/** A believed recovery: the incident resolved (its components back), the team told, or the status set back. */
export async function onRecovered(database: Database, w: Watcher, o: AutomationOptions, teamNote: string) {
  const now = o.now();
  if (w.onFailure === "alert_team") {
    await alertTeam(database, w, "recovered", `${w.name} has recovered`, now);
  } else if (w.onFailure === "status_only") {
    for (const c of w.components)
      await updateComponent(database.db, w.workspaceId, c.componentId, { status: "operational" }, now).catch(
        () => {},
      );
  } else if (w.incidentId) {
    const incident = await getIncident(database.db, w.workspaceId, w.incidentId).catch(() => undefined);
    if (incident && incident.status !== "resolved") {
      const names = await componentNames(
        database,
        w.workspaceId,
        w.components.map((c) => c.componentId),
      );
      const body = inEveryLanguage(names ? "auto.recoveredBody" : "auto.recoveredBodyAny", (l) => ({
        components: names?.(l) ?? "",
      }));
      await addIncidentUpdate(
        database.db,
        w.workspaceId,
        incident.id,
        {
          status: "resolved",
          body: body.text,
          bodyTranslations: body.translations,
          teamNote,
          createdBy: w.by,
        },
        now,
      );
    }
    await w.setIncident(database, null);
  }
}

/** After the commit: the outbox and every server's page hear of the change. */
export async function announced(database: Database, ws: string) {
  await database.query("select pg_notify($1, $2)", [OUTBOX_CHANNEL, ws]).catch(() => {});
  await announcePageChange(database, ws).catch(() => {});
}
