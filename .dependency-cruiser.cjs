/**
 * The house's layers, checked by `npm run lint` (and so by `npm test`). Each rule says why.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'service-through-its-public-module',
      comment:
        "A service never imports another service's source. The one place that composes several (the embedded launcher) " +
        "goes through each service's public module, services/<name>/src/index.ts.",
      severity: 'error',
      from: { path: '^services/([^/]+)/' },
      to: { path: '^services/([^/]+)/', pathNot: ['^services/$1/', '^services/[^/]+/src/index\\.ts$'] },
    },
    {
      name: 'contracts-depend-on-nothing-of-ours',
      comment: 'libs/contracts is the shared language of the services: data and schemas, depending on no other code of ours.',
      severity: 'error',
      from: { path: '^libs/contracts/' },
      to: { path: '^(libs/(?!contracts/)|services/|test/|bench/|scripts/)' },
    },
    {
      name: 'libs-do-not-know-services',
      comment: 'Libraries serve the services; a library that imports a service would turn the layers upside down.',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^services/' },
    },
    {
      name: 'amqplib-inside-its-adapter',
      comment: 'RabbitMQ client types stay in libs/messaging/src/rabbitmq; handlers see the transport seam only.',
      severity: 'error',
      from: { path: '^(libs|services)/', pathNot: '^libs/messaging/src/rabbitmq/' },
      to: { path: '^node_modules/(amqplib|@types/amqplib)/' },
    },
    {
      name: 'kafkajs-inside-its-adapter',
      comment: 'Kafka client types stay in libs/messaging/src/kafka; everything else sees the EventStream seam.',
      severity: 'error',
      from: { path: '^(libs|services)/', pathNot: '^libs/messaging/src/kafka/' },
      to: { path: '^node_modules/kafkajs/' },
    },
    {
      name: 'blob-client-inside-the-archive-adapter',
      comment: 'The Azure Blob client stays in the archive adapter; the archiver sees the ArchiveStore seam.',
      severity: 'error',
      from: { path: '^(libs|services)/', pathNot: '^services/analytics/src/archive/azure-blob\\.archive-store\\.ts$' },
      to: { path: '^node_modules/@azure/storage-blob/' },
    },
    {
      name: 'libraries-through-their-aliases',
      comment: 'Code outside a library imports it as @app/<name>, never by a relative path into its folder.',
      severity: 'error',
      from: { path: '^(services|test|bench|scripts)/' },
      to: { path: '^libs/', dependencyTypesNot: ['aliased-tsconfig'] },
    },
    {
      name: 'one-library-through-the-alias-of-another',
      comment: 'A library reaches another library through its alias too, so its public index is the only way in.',
      severity: 'error',
      from: { path: '^libs/([^/]+)/' },
      to: { path: '^libs/', pathNot: '^libs/$1/', dependencyTypesNot: ['aliased-tsconfig'] },
    },
    {
      name: 'no-circular',
      comment: 'A cycle makes load order matter and hides which module owns what.',
      severity: 'error',
      from: { path: '^(libs|services)/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|coverage|\\.run)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
