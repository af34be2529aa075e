/**
 * Reading a policy from YAML: syntax errors and schema errors both come back with the path,
 * line and column, e.g. `rules.0.action.refund (line 7, column 35): Invalid option…`.
 */
import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode } from "yaml";
import { type Policy, PolicySchema } from "../core/compensation/policy.ts";
import { AmendsError, type FieldError } from "../core/errors.ts";

const MAX_POLICY_BYTES = 256 * 1024;

function nodeAt(doc: ReturnType<typeof parseDocument>, path: PropertyKey[]): YamlNode | undefined {
  // Walk down as far as the path exists, so a missing key points at its parent.
  let node: unknown = doc.contents;
  for (const key of path) {
    if (isMap(node)) {
      const next = node.get(key as string, true);
      if (next === undefined) break;
      node = next;
    } else if (isSeq(node)) {
      const next = node.get(Number(key), true);
      if (next === undefined) break;
      node = next;
    } else break;
  }
  return node as YamlNode | undefined;
}

export function parsePolicyYaml(text: string): Policy {
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) {
    throw new AmendsError("PAYLOAD_TOO_LARGE", `a policy may be at most ${MAX_POLICY_BYTES / 1024} KiB`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const fields: FieldError[] = doc.errors.map((e) => {
      const at = lines.linePos(e.pos[0]);
      return {
        field: "policy",
        message: `line ${at.line}, column ${at.col}: ${e.message.split("\n")[0]}`,
        line: at.line,
        column: at.col,
      };
    });
    throw new AmendsError("VALIDATION_FAILED", `policy is not valid YAML: ${fields[0]!.message}`, fields);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // An alias bomb (aliases expanding to millions of nodes) is refused here, by the yaml library.
    throw new AmendsError("VALIDATION_FAILED", `policy: ${(err as Error).message}`, [
      { field: "policy", message: (err as Error).message },
    ]);
  }
  const parsed = PolicySchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const fields: FieldError[] = parsed.error.issues.map((issue) => {
    const node = nodeAt(doc, issue.path);
    const at = node?.range ? lines.linePos(node.range[0]) : undefined;
    const field = issue.path.length ? issue.path.join(".") : "policy";
    return {
      field,
      message: at ? `line ${at.line}, column ${at.col}: ${issue.message}` : issue.message,
      ...(at && { line: at.line, column: at.col }),
    };
  });
  throw new AmendsError(
    "VALIDATION_FAILED",
    fields.map((f) => `${f.field}: ${f.message}`).join("; "),
    fields,
  );
}
