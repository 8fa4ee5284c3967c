/** The flags node runs `hangar serve` with (node-flags.mjs says why). */
export declare const SERVE_NODE_FLAGS: string[];
