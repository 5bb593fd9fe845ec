/** The signing secrets receivers verify deliveries with, in the Standard Webhooks form. */
export interface WebhookSecretView {
  /** The current secret, `whsec_…`. */
  readonly key: string;
  /** Secrets still signing during a rotation (`WEBHOOK_PREVIOUS_SECRETS`), `whsec_…`. */
  readonly previousKeys: readonly string[];
}
