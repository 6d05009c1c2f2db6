/** jest globalTeardown of the integration project: stops the containers global-setup.ts started. */
export default async function globalTeardown(): Promise<void> {
  const infra = globalThis.__POSTBOX_INFRA__;
  if (!infra) return;
  await Promise.all(infra.containers.map((container) => container.stop()));
  globalThis.__POSTBOX_INFRA__ = undefined;
}
