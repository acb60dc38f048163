export async function register() {
  // The Edge runtime cannot host PGlite, Azurite or pg-boss; Next sets NEXT_RUNTIME
  // at build time, so this branch is also what keeps those imports out of Edge bundles.
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { bootPortal } = await import("./server/boot");
    await bootPortal();
  }
}
