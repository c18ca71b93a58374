export { createExecutionHandler, defaultTuning, type ExecutionHandler, type HandlerDeps, type HandlerInputs } from './execution-handler';
export { type Logger, type StreamTuning } from './deps';
export { type Position, type ProtectiveOrder } from './positions';
export { createOrderMonitor, type OrderMonitor, QUERY_BATCH_SIZE } from './order-monitor';
