export * from './emotions';
export * from './fusion';
export * from './fusion-settings';
export * from './rules';
export * from './metrics';
export * from './search';
