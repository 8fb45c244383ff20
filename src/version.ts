// The package version, read once: it appears in the user-agent of outgoing calls and in the OpenAPI document.
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
