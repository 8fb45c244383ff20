// `hookrelay/worker`: a typed client for remote job types. It claims jobs over HTTP, keeps their leases with
// heartbeats while a handler runs, and reports each outcome with its task token; it needs nothing of the server.
export { PermanentJobError, RetryLaterError } from '../jobs/handler.ts';
export { WorkerRefusedError } from './claim-loop.ts';
export { TaskEndedError } from './lease.ts';
export { TaskAbortedError } from './outcome.ts';
export { runWorker } from './run-worker.ts';
export type { Handler, Log, LogLevel, StopOptions, Task, Worker, WorkerOptions } from './types.ts';
