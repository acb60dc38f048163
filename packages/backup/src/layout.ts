/**
 * Object names of the engine's repository layout that the agent routes need.
 * Kept here rather than imported so the agent routes' module graph does not
 * pull in the whole engine (Turbopack cannot yet bundle the engine's `.js`
 * relative imports); test/layout.test.ts pins them to the engine's own.
 */
export const packObjectName = (packId: string) => `data/${packId.slice(0, 2)}/${packId}`;
export const snapshotObjectName = (snapshotId: string) => `snapshots/${snapshotId}`;
