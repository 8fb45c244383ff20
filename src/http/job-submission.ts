// The job a client submits, as POST /v1/jobs takes it and as a schedule's job template holds it. Intake
// (src/jobs/intake.ts) checks what a schema cannot: its type, input and URLs.
import { z } from 'zod';
import { idOf } from '../ids.ts';

const MAX_METADATA_BYTES = 16 * 1024;

/** 1–128 printable ASCII characters, as the contract says (inner spaces allowed). */
export const orderingKey = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/, 'printable ASCII, not starting or ending with a space')
  .describe(
    'jobs of the tenant with the same key run one at a time in submission order, and their messages reach each receiver one at a time in that order',
  );

/** The OpenAPI document names the types this service runs (`types`), built-in and task modules alike. */
const jobFields = (types: string[]) =>
  z.object({
    type: z
      .string()
      .min(1)
      .max(100)
      .describe(
        `One of the job types this service runs: ${types.join(', ')} (GET /v1/job-types has each one's input).`,
      ),
    input: z.unknown().refine((value) => value !== undefined, 'Required'),
    callbackUrl: z
      .url({ protocol: /^https?$/, error: 'must be an http or https URL' })
      .max(2048)
      .optional(),
    endpointId: idOf('ep').optional(),
    timeoutSeconds: z.number().int().min(1).max(21_600).optional(),
    maxAttempts: z.number().int().min(1).max(25).optional(),
    priority: z.number().int().min(-100).max(100).optional(),
    orderingKey: orderingKey.optional(),
    runAt: z.iso.datetime({ offset: true }).optional(),
    metadata: z
      .record(z.string().max(100), z.unknown())
      .refine((value) => Object.keys(value).length <= 50, 'at most 50 keys')
      .refine((value) => Buffer.byteLength(JSON.stringify(value)) <= MAX_METADATA_BYTES, 'at most 16 KiB')
      .optional(),
  });

const oneDestination = {
  check: (body: { callbackUrl?: string; endpointId?: string }) =>
    body.callbackUrl === undefined || body.endpointId === undefined,
  params: { message: 'give callbackUrl or endpointId, not both', path: ['endpointId'] },
};

/** POST /v1/jobs's body. */
export const submissionBody = (types: string[]) =>
  jobFields(types).strict().refine(oneDestination.check, oneDestination.params);

/** A schedule's job: a submission without runAt (each occurrence is its time). */
export const jobTemplate = (types: string[]) =>
  jobFields(types)
    .omit({ runAt: true })
    .strict()
    .refine(oneDestination.check, oneDestination.params)
    .describe('the job each occurrence submits, as POST /v1/jobs takes it (without runAt)');
