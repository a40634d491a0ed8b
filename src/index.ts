/** The method of Ryumina et al. (CVPRW 2024) in plain TypeScript: classes, fusion, rules, metrics, weight search. */
export * from './core';
