export * from './emotions';
export * from './fusion';
export * from './rules';
export * from './metrics';
export * from './search';
