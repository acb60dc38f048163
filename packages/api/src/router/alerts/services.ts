/**
 * What the alert procedures need beyond the database: the KEK (webhook secrets)
 * and the senders for "send test". Built from the API's Services so the portal
 * needs no extra wiring: the KEK comes from the same lazy repository access the
 * file procedures use.
 */
import { type DeliveryDeps, type SecretBox, smsConfigFromEnv } from "@tidemark/alerts";
import { kekSecretBox } from "@tidemark/alerts/kek";
import type { Services } from "../../context";

export async function secretBox(services: Services): Promise<SecretBox | null> {
  if (!services.repositories) return null;
  return kekSecretBox((await services.repositories()).kek);
}

export async function deliveryDeps(services: Services): Promise<DeliveryDeps> {
  const secrets = await secretBox(services);
  return {
    db: services.database.db,
    mailer: services.mailer,
    publicUrl: services.publicUrl,
    // Without the KEK no webhook secret opens; the attempt then fails with this message.
    secrets: secrets ?? {
      wrap: () => {
        throw new Error("The service key (TIDEMARK_KEK) is not available on this server");
      },
      unwrap: () => {
        throw new Error("The service key (TIDEMARK_KEK) is not available on this server");
      },
    },
    sms: smsConfigFromEnv(),
    timeoutMs: 10_000,
  };
}
