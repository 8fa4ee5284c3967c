import { errors, Vm, VmName } from '@hangar/core';
import { z } from 'zod';
import { API_BASE } from '../../http/api-base.js';
import { requestHeader } from '../../http/request-header.js';
import type { DialectRoute } from '../dialect.js';
import { resolveLiveVm } from '../vm-ref.js';
import { FlaskError, forwardedError, mustBeStopped } from './errors.js';

/**
 * Export and import: the native stream routes, reached by forwarding the request with its
 * body as a stream (an archive is never held in memory here), their answers told in the
 * earlier API's words.
 */

const noFilePart = () => errors.validation('No file part', [{ path: 'file', message: 'missing' }]);

const exportRoute = (path: string, gzip: boolean): DialectRoute => {
  const kind = gzip ? 'tar.gz' : 'tar';
  return {
    method: 'GET',
    path: `/vms/{vm_name}/${path}`,
    streams: true,
    summary: `Download a stopped VM as a ${kind} archive`,
    description: `The archive (\`manifest.json\` and the disk images) streams as it is made; Hangar's import takes it back. The VM may be named by name, id or number.`,
    responses: {
      200: {
        description: 'VM exported',
        schema: z.string().meta({ format: 'binary' }),
        content_type: gzip ? 'application/gzip' : 'application/x-tar',
      },
      400: { description: 'VM must be stopped before export', schema: FlaskError },
      401: { description: 'No or bad credentials', schema: FlaskError },
      404: { description: 'VM not found', schema: FlaskError },
    },
    handle: async ({ params, native }) => {
      const vm = await resolveLiveVm(native, params.vm_name!);
      const res = await native.forward(`${API_BASE}/vms/${vm.id}/export?compress=${gzip ? 'gzip' : 'none'}`, { method: 'GET' });
      if (!res.ok) await forwardedError(res).then(mustBeStopped('export'));
      return res;
    },
  };
};

const ImportForm = z.object({
  file: z.string().meta({ format: 'binary', description: 'The archive an export made (tar or tar.gz: either is taken)' }),
});

const Imported = z.object({
  message: z.literal('VM imported successfully'),
  name: Vm.shape.name,
  id: Vm.shape.number,
  uuid: Vm.shape.id,
});

const importRoute = (path: string, kind: string): DialectRoute => ({
  method: 'POST',
  path: `/vms/${path}`,
  summary: `Import a VM from a ${kind} archive`,
  description:
    'The archive is the `file` field of a multipart form; it streams to the host as it arrives. The VM keeps the name it was exported with, unless `name` is given; a live VM of that name makes it 409. It is imported stopped.',
  query: z.object({ name: VmName.optional().meta({ description: 'Import under this name (a Hangar addition)' }) }),
  body: ImportForm,
  body_type: 'multipart/form-data',
  responses: {
    200: { description: 'VM imported successfully', schema: Imported },
    400: { description: 'No file part, or invalid archive contents', schema: FlaskError },
    401: { description: 'No or bad credentials', schema: FlaskError },
    409: { description: 'A VM has its name', schema: FlaskError },
    413: { description: 'The archive is too large', schema: FlaskError },
  },
  handle: async ({ c, native }) => {
    // Who asks comes before what is wrong with the upload.
    await native.call('auth.whoami');
    const type = requestHeader(c, 'content-type') ?? '';
    if (!type.toLowerCase().startsWith('multipart/form-data')) throw noFilePart();
    const name = c.req.query('name');
    const res = await native.forward(`${API_BASE}/vms/import${name === undefined ? '' : `?name=${encodeURIComponent(name)}`}`, {
      method: 'POST',
      body: c.req.raw.body,
      headers: { 'content-type': type },
    });
    if (!res.ok) {
      const err = await forwardedError(res);
      const fields = (err.details.fields as { path: string }[] | undefined) ?? [];
      throw err.code === 'VALIDATION' && fields.some((f) => f.path === 'file') ? noFilePart() : err;
    }
    const vm = (await res.json()) as Vm;
    return c.json({ message: 'VM imported successfully', name: vm.name, id: vm.number, uuid: vm.id }, 200);
  },
});

export const archiveRoutes: DialectRoute[] = [
  exportRoute('export', false),
  exportRoute('exportCompressed', true),
  importRoute('import', 'tar'),
  importRoute('importCompressed', 'tar.gz'),
];
