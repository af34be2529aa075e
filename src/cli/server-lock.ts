/**
 * An embedded (PGlite) database can be open in one process only. The server that holds it
 * writes `<dataDir>/server.json` (mode 0600) with its URL and a local secret; other `amends`
 * commands read it and go through that server's API instead of opening the files.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";

export interface ServerLock {
  pid: number;
  url: string;
  secret: string;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** The lock of a live server, or undefined (a stale file from a crash is ignored). */
export function readServerLock(path: string): ServerLock | undefined {
  try {
    const lock = JSON.parse(readFileSync(path, "utf8")) as ServerLock;
    return lock.pid !== process.pid && alive(lock.pid) ? lock : undefined;
  } catch {
    return undefined;
  }
}

export function writeServerLock(path: string, lock: ServerLock): () => void {
  writeFileSync(path, JSON.stringify(lock), { mode: 0o600 });
  return () => rmSync(path, { force: true });
}
