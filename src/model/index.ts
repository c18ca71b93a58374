export * from './signal';
export * from './report';
export * from './order';
export * from './pair';
export * from './errors';
export * from './budget';
export * from './port';
export * from './config';
