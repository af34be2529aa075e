/** `amends import`: the company's customers, sessions and charges, streamed to the API. */
import { createReadStream, statSync } from "node:fs";
import { Transform } from "node:stream";
import { Presets, SingleBar } from "cli-progress";
import { CliError, connect, globals, print } from "../context.ts";
import { formatProblem } from "../format.ts";

/** Streams a file to an import-style endpoint, with a progress bar on a terminal. */
async function upload(path: string, file: string): Promise<any> {
  const type = /\.(ndjson|jsonl)$/i.test(file)
    ? "application/x-ndjson"
    : /\.json$/i.test(file)
      ? "application/json"
      : "text/csv";
  const size = statSync(file).size;
  const bar =
    process.stderr.isTTY && !globals().json
      ? new SingleBar(
          {
            format: " {bar} {percentage}% | {sentMb}/{totalMb} MB | {eta_formatted} left",
            stream: process.stderr,
          },
          Presets.shades_classic,
        )
      : undefined;
  // Counted in bytes, shown in MB: a file under a megabyte still moves the bar.
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  bar?.start(Math.max(1, size), 0, { sentMb: mb(0), totalMb: mb(size) });
  let sent = 0;
  const counted = createReadStream(file).pipe(
    new Transform({
      transform(chunk: Buffer, _enc, done) {
        sent += chunk.length;
        bar?.update(sent, { sentMb: mb(sent) });
        done(null, chunk);
      },
    }),
  );
  const client = await connect();
  try {
    const res = await client.upload(path, counted, type);
    bar?.stop();
    if (res.status >= 400) throw new CliError(formatProblem(res.body));
    return res.body;
  } finally {
    bar?.stop();
    await client.close();
  }
}

export async function importFile(kind: string, file: string) {
  if (!["customers", "sessions", "charges"].includes(kind))
    throw new CliError("error: kind must be customers, sessions or charges");
  const res = await upload(`/api/v1/import/${kind}`, file);
  print(res, () => `Imported ${res.rows} ${kind}.`);
}
