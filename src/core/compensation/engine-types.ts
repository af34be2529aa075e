/**
 * What the compensation engine reads and what it returns: customers, their sessions and
 * charges, the incident and the run's context; the lines, exclusions and review items of one
 * customer. `Target` is the engine's own unit: what a rule is evaluated on.
 */
import type { Policy } from "./policy.ts";
import type { Interval } from "./time.ts";

export interface CompCustomer {
  id: string;
  homeRegion: string | null;
  plan: string | null;
  monthlyFee: number | null;
  currency: string | null;
}

export interface CompSession {
  id: string;
  customerId: string;
  kind: string;
  componentId: string | null;
  region: string | null;
  start: number;
  /** null while the session is still running */
  end: number | null;
  charge: number;
  currency: string;
  /** refunded outside Amends (e.g. by support) */
  refunded: number;
}

export interface CompCharge {
  id: string;
  customerId: string;
  usageRef: string | null;
  amount: number;
  currency: string;
  status: string;
  createdAt: number;
  /** refunded outside Amends */
  amountRefunded: number;
}

export interface IncidentContext {
  id: string;
  window: Interval;
  /** when the fault was detected or reported: the base of refund deadlines */
  detectedAt: number;
  /** components the incident affected; the policy's default scope */
  components: string[];
}

export interface EngineContext {
  policy: Policy;
  incident: IncidentContext;
  /** parent of each known component, to match subtrees */
  parents: ReadonlyMap<string, string | null>;
  /** the run's time: the base of credit validity */
  asOf: number;
  /** what Amends already applied per action key (money in minor units, or units) */
  applied: ReadonlyMap<string, number>;
  /** money each customer already got, per currency, this month (the incident's) for other incidents */
  paidThisMonth?: ReadonlyMap<string, Readonly<Record<string, number>>>;
  /**
   * what Amends refunded of each session or charge (`refundTarget`) for other incidents: a
   * refund never takes what was captured beyond what they and refunds elsewhere left
   */
  refundedForOtherIncidents?: ReadonlyMap<string, number>;
}

export type LineKind = "refund" | "credit" | "unit_credit";

export interface ActionLine {
  key: string;
  customerId: string;
  kind: LineKind;
  /** what to pay now: target − already applied − refunded elsewhere */
  amount: number;
  currency: string | null;
  unit: string | null;
  target: number;
  alreadyApplied: number;
  refundedElsewhere: number;
  group: string;
  rule: string;
  breakdown: { rule: string; amount: number }[];
  session: string | null;
  charge: string | null;
  reason: string | null;
  dueBy: string | null;
  scope: string | null;
  expiresAt: string | null;
  visibleBy: string | null;
}

export interface Exclusion {
  customerId: string;
  reference: string;
  reason: ExclusionReason;
}

export type ExclusionReason =
  | "kind_mismatch"
  | "component_mismatch"
  | "region_mismatch"
  | "plan_mismatch"
  | "no_overlap"
  | "below_min_overlap"
  | "no_rule_matched"
  | "no_amount_for_currency"
  | "already_refunded"
  | "already_compensated"
  | "cap_reached";

export interface ReviewItem {
  customerId: string;
  reference: string;
  reason: "weak_key_duplicate" | "outside_fault_window" | "negative_delta";
  detail: string;
  key: string | null;
}

export interface CustomerResult {
  customerId: string;
  /** hurt by the incident (and so told about it, even when nothing is due) */
  affected: boolean;
  lines: ActionLine[];
  excluded: Exclusion[];
  review: ReviewItem[];
}

export interface Target {
  /** session id, charge id, or customer id */
  id: string;
  level: "session" | "charge" | "customer";
  session: CompSession | null;
  charge: CompCharge | null;
  currency: string | null;
  /** overlap with the window, or the customer's downtime */
  overlap: number;
  /** the stretches of downtime, sorted and merged, for per-day and SLA rules */
  downtime: Interval[];
  /**
   * refunds only: the most that refunds of this incident plus refunds made elsewhere may add
   * up to: what was captured less what Amends refunded of it for other incidents (and, for a
   * duplicate charge, no more than the customer paid beyond the original)
   */
  headroom: number;
}
