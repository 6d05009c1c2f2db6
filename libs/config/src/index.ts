export * from './load';
export * from './gateway';
