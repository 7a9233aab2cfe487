// playwright-core's internal bundle, which test/support/browsers.ts reaches into for one
// transport (see answerMissingMediaOverride there); only what it uses is declared.
declare module 'playwright-core/lib/coreBundle' {
  export const server: { WebSocketTransport?: { prototype: unknown } } | undefined;
}
