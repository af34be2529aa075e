import { describe, expect, it } from "vitest";
import { parsePolicyYaml } from "../../src/compensation/policy-yaml.ts";
import { policyJsonSchema } from "../../src/core/compensation/policy.ts";
import { parseDuration } from "../../src/core/compensation/time.ts";
import { AmendsError } from "../../src/core/errors.ts";

const errorsOf = (text: string) => {
  try {
    parsePolicyYaml(text);
  } catch (e) {
    expect(e).toBeInstanceOf(AmendsError);
    return (e as AmendsError).fields;
  }
  throw new Error("expected the policy to be refused");
};

describe("policy YAML", () => {
  it("names the path, line and column of a schema error", () => {
    const fields = errorsOf(
      [
        "policy: p",
        "match: {min_overlap: 30 minutes}",
        "rules:",
        "  - id: a",
        "    action: {refund: everything}",
      ].join("\n"),
    );
    expect(fields).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: "match.min_overlap", line: 2, column: 22 }),
        expect.objectContaining({
          field: "rules.0.action.refund",
          line: 5,
          column: 22,
          message: expect.stringMatching(/prorata_overlap/),
        }),
      ]),
    );
  });

  it("says what is wrong inside a credit, for the kind of credit meant", () => {
    const fields = errorsOf(
      [
        "policy: p",
        "rules:",
        "  - {id: a, per: customer, action: {credit: {unit: minutes, amount: 30, valid_for: 90 days}}}",
        "  - {id: b, per: customer, action: {credit: {amount: {EUR: 1.5}}}}",
      ].join("\n"),
    );
    expect(fields).toEqual([
      expect.objectContaining({
        field: "rules.0.action.credit",
        message: expect.stringMatching(
          /valid_for: expected an ISO 8601 duration.*\(a credit is \{unit, amount/,
        ),
      }),
      expect.objectContaining({
        field: "rules.1.action.credit",
        message: expect.stringMatching(/amount: expected.*\(a credit is \{amount, valid_for\?\}\)/),
      }),
    ]);
  });

  it("reports YAML syntax errors with their position", () => {
    const [f] = errorsOf("policy: p\nrules: [\n");
    expect(f!.line).toBeGreaterThan(0);
    expect(f!.message).toMatch(/line \d+, column \d+/);
  });

  it("refuses duplicate rule ids, two actions in one rule, bad zones and calendars", () => {
    expect(
      errorsOf("policy: p\nrules:\n  - {id: a, action: {fixed: 1}}\n  - {id: a, action: {fixed: 2}}").map(
        (f) => f.field,
      ),
    ).toContain("rules.1.id");
    expect(
      errorsOf("policy: p\nrules:\n  - {id: a, action: {fixed: 1, percent_of_monthly_fee: '5'}}")[0]!.field,
    ).toBe("rules.0.action");
    expect(
      errorsOf("policy: p\ntime_zone: Mars/Olympus\nrules: [{id: a, action: {fixed: 1}}]")[0]!.field,
    ).toBe("time_zone");
    expect(errorsOf("policy: p\nholidays: XX-YY\nrules: [{id: a, action: {fixed: 1}}]")[0]!.field).toBe(
      "holidays",
    );
    expect(errorsOf("policy: p\nrules: [{id: a, action: {refund: duplicates}}]")[0]!.field).toBe(
      "rules.0.action",
    );
    expect(
      errorsOf(
        "policy: p\nmatch: {window: '[2024-01-02T00:00Z,2024-01-01T00:00Z)'}\nrules: [{id: a, action: {fixed: 1}}]",
      )[0]!.field,
    ).toBe("match.window");
    expect(errorsOf("policy: p\nrules: [{id: a, action: {fixed: 1.5}}]")[0]!.field).toMatch(
      /^rules\.0\.action\.fixed/,
    );
  });

  it("refuses rate tables out of date order and durations past 100 years", () => {
    const rates = (table: string) =>
      errorsOf(`policy: p\nrules: [{id: a, action: {per_day: {rate_table: ${table}}}}]`);
    const [unordered] = rates("[{from: 2024-04-01, amount: 976}, {from: 2023-04-01, amount: 933}]");
    expect(unordered).toMatchObject({ field: "rules.0.action.per_day.rate_table", message: /oldest first/ });
    expect(rates("[{from: 2024-04-01, amount: 976}, {from: 2024-04-01, amount: 933}]")[0]!.field).toBe(
      "rules.0.action.per_day.rate_table",
    );

    const [long] = errorsOf("policy: p\nrules: [{id: a, action: {fixed: 100, due_within: P999999999D}}]");
    expect(long).toMatchObject({ field: "rules.0.action.due_within", message: /100 years/ });
    expect(() =>
      parsePolicyYaml("policy: p\nrules: [{id: a, when: {overlap_gt: P36600D}, action: {fixed: 1}}]"),
    ).not.toThrow();
  });

  it("reads durations as Temporal.Duration does, in lengths of time only", () => {
    expect(parseDuration("PT30M")).toBe(30 * 60_000);
    expect(parseDuration("P1W1DT1.5H")).toBe(8 * 86_400_000 + 90 * 60_000);
    expect(parseDuration("PT1.2345S")).toBe(1235);
    // months and years have no one length; a negative duration is no length at all
    for (const text of ["P1M", "P1Y", "-PT1H", "P", "PT", "30 minutes"])
      expect(() => parseDuration(text), text).toThrow(/not an ISO 8601 duration/);
  });

  it("publishes a JSON Schema editors can use", () => {
    const schema = policyJsonSchema() as any;
    expect(schema.$schema).toMatch(/json-schema/);
    expect(schema.properties.rules).toBeDefined();
    expect(schema.required).toEqual(["policy"]);
  });
});
