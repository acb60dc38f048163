/**
 * Azurite in its own process for the benchmark: in-process, its request
 * handling shares the event loop (and a core) with the scrub being measured,
 * which Azure never does. Prints one JSON line with the endpoint, then serves
 * until its parent closes stdin.
 */
import { startAzurite } from "@tidemark/storage/testing";

const location = process.argv[2];
const azurite = await startAzurite(location ? { location } : { inMemory: true });
process.stdout.write(`${JSON.stringify({ blobEndpoint: azurite.blobEndpoint })}\n`);
process.stdin.resume();
process.stdin.on("end", () => void azurite.stop().then(() => process.exit(0)));
