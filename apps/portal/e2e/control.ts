/**
 * What serve.ts shares with the specs (other processes): where to stop and
 * start the run's Azurite, how to reach it, and the run's throwaway KEK.
 */
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type ServeControl = { controlUrl: string; azureConnectionString: string; kek: string };

export const controlFile = (port: string | number) => join(tmpdir(), `tidemark-e2e-${port}.json`);

export function serveControl(baseURL: string): ServeControl {
  return JSON.parse(readFileSync(controlFile(new URL(baseURL).port), "utf8")) as ServeControl;
}

async function post(baseURL: string, path: string) {
  const res = await fetch(serveControl(baseURL).controlUrl + path, { method: "POST" });
  if (!res.ok) throw new Error(`serve control ${path}: ${res.status} ${await res.text()}`);
}

export const stopAzurite = (baseURL: string) => post(baseURL, "/azurite/stop");
export const startAzurite = (baseURL: string) => post(baseURL, "/azurite/start");
