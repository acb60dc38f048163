/**
 * The SecretBox hosts build from the service KEK: the same AES-256-GCM wrap as
 * customer data keys (@tidemark/backup), not a second implementation. Its own
 * entry because @tidemark/backup loads the engine, which the core of this
 * package must not pull into every importer.
 */
import { type Kek, unwrapDataKey, wrapDataKey } from "@tidemark/backup";
import type { SecretBox } from "./secrets";

export function kekSecretBox(kek: Kek): SecretBox {
  return {
    wrap: (aad, key) => wrapDataKey(kek, aad, key),
    unwrap: (aad, wrapped) => unwrapDataKey(kek, aad, wrapped),
  };
}
