export * from './data-source';
export * from './pglite-pool';
export * from './dialect';
export * from './column-types';
export * from './sql-database';
