/** `amends export-static`: the public page as static files, to a directory or an S3 bucket. */
import { S3Publisher, s3TargetFromEnv } from "../../status-page/s3-publish.ts";
import { CliError, connect, print } from "../context.ts";
import { exportStatic } from "../export-static.ts";

export async function exportStaticCommand(dir: string | undefined, opts: { s3?: string }) {
  if (!dir && !opts.s3) throw new CliError("give a directory, --s3 <url>, or both");
  const client = await connect();
  try {
    if (dir) {
      const files = await exportStatic(client, dir);
      print({ files }, () => `Wrote ${files.length} files to ${dir}.`);
    }
    if (opts.s3) {
      const target = s3TargetFromEnv({ ...process.env, AMENDS_S3_URL: opts.s3 })!;
      const result = await new S3Publisher(target, (path) => client.raw(path)).publish();
      print(result, () => `Uploaded ${result.uploaded} files to ${opts.s3}.`);
    }
  } finally {
    await client.close();
  }
}
