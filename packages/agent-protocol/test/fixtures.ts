export const hex = (n: number) => n.toString(16).padStart(64, "0");
export const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;

export const goodEnroll = { token: "tok_abc", name: "srv1", hostname: "srv1", os: { platform: "linux", release: "6.1", arch: "x64" }, agentVersion: "0.1.0" };
export const goodEnrollResponse = {
  machineId: uuid(1),
  machineSecret: "s".repeat(43),
  customerId: uuid(2),
  dataKey: Buffer.alloc(32, 7).toString("base64"),
  repository: { container: "cust-1", blobEndpoint: "http://127.0.0.1:10000/devstoreaccount1", config: { id: "r1", chunker: { min: 1, avg: 2, max: 4 }, packSize: 65536, zstdLevel: 3, blockSize: 4096 } },
  policy: {},
};
export const goodPack = { packId: hex(3), size: 1000, salt: Buffer.alloc(32).toString("base64"), entries: [{ id: hex(4), type: 0, offset: 40, length: 100, rawLength: 90 }] };
export const goodPoint = {
  clientPointId: uuid(3),
  manifest: {
    time: "2026-11-26T22:00:00.000Z",
    host: "srv1",
    sources: ["/data"],
    rootTree: hex(7),
    volumes: [],
    consistency: "crash",
    stats: { files: 1, dirs: 1, bytes: 1, readBytes: 1, newChunks: 1, newBytes: 1, storedBytes: 1, durationMs: 1 },
    errors: [{ path: "/data/x", error: "EACCES" }],
    snapshotId: hex(8),
  },
  chunkIds: [hex(4)],
};
