/** Where the native REST routes live. */
export const API_BASE = '/api/v1';
