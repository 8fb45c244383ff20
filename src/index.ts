// hookrelay as a library: what a task module imports (`import { defineTask, z } from 'hookrelay'`).

// The zod the service validates with: a task's schema made with it converts to JSON Schema the same way.
export { z } from 'zod';
export { defineTask, type Task, type TaskDefinition } from './jobs/define-task.ts';
export { type JobContext as TaskContext, PermanentJobError, RetryLaterError } from './jobs/handler.ts';
