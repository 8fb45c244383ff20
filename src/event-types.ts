// The event types a webhook can carry, and which an endpoint gets when it lists none.

export const JOB_EVENTS = ['job.succeeded', 'job.failed', 'job.cancelled'] as const;
/** Sent only to endpoints that list them. */
export const OPT_IN_EVENTS = [
  'job.progress',
  'endpoint.test',
  'message.dead_lettered',
  'endpoint.disabled',
] as const;
/** Events about hookrelay itself, for operators' alerting. */
export const OPERATIONAL_EVENTS = ['message.dead_lettered', 'endpoint.disabled'] as const;
export const EVENT_TYPES = [...JOB_EVENTS, ...OPT_IN_EVENTS] as const;
