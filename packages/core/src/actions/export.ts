import { DriverError } from '../drivers/driver.js';
import type { ActionDefinition } from './action.js';

/**
 * An export streams to its HTTP client from the server that began it (`archive/service.ts`);
 * a worker only ever meets one whose server died, and ends it.
 */
export const exportAction: ActionDefinition = {
  verb: 'export',
  async perform() {
    throw new DriverError('failed', 'the export ended with the server that was streaming it');
  },
};
