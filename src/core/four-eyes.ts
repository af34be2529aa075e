/**
 * Four eyes on money: a compensation run whose total, in any currency, is above the workspace's
 * threshold for that currency may only be approved by a person with the finance role (or the
 * owner) who is not the one who previewed it. Pure: the caller loads the run and the settings.
 */
export interface FourEyesInput {
  /** the run's money totals, minor units per ISO 4217 code */
  totals: Record<string, number>;
  /** approval needed above these, per currency; a currency not named needs no second person */
  threshold: Record<string, number>;
  /** who previewed the run, as `kind:id` */
  previewedBy: string | null;
  approver: { kind: string; id: string; role?: string };
}

/** Why the approval is refused, or undefined when it may go ahead. */
export function fourEyesRefusal(input: FourEyesInput): string | undefined {
  const over = Object.entries(input.totals).filter(
    ([currency, amount]) => input.threshold[currency] !== undefined && amount > input.threshold[currency]!,
  );
  if (over.length === 0) return undefined;
  const what = over
    .map(([c, amount]) => `${amount} ${c} (threshold ${input.threshold[c]} ${c}, minor units)`)
    .join(", ");
  if (input.approver.kind !== "user")
    return `the run totals ${what}: a signed-in finance user must approve it, not an API token`;
  if (input.approver.role !== "finance" && input.approver.role !== "owner")
    return `the run totals ${what}: only a finance user or the owner may approve it`;
  if (input.previewedBy === `user:${input.approver.id}`)
    return `the run totals ${what}: you previewed it, so someone else must approve it`;
  return undefined;
}
