import type { AppRouter } from '@hangar/server';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';

export type { AppRouter };
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

export type Vm = RouterOutputs['vms']['get'];
export type VmStatus = Vm['status'];
export type Operation = RouterOutputs['operations']['get'];
export type VmEvent = RouterOutputs['vms']['events'][number];
export type VmPage = RouterOutputs['vms']['list'];
export type OperationPage = RouterOutputs['operations']['list'];
export type Principal = RouterOutputs['auth']['whoami'];
export type ApiKey = RouterOutputs['api_keys']['list'][number];
export type CreatedApiKey = RouterOutputs['api_keys']['create'];
export type User = RouterOutputs['users']['list'][number];
export type Project = RouterOutputs['projects']['list'][number];
export type ProjectQuotas = RouterOutputs['projects']['get_quotas'];
export type QuotaLimits = Omit<RouterInputs['projects']['set_quotas'], 'id'>;
/** What every VM action answers: the VM and the operation carrying the action out (null when nothing was needed). */
export type VmActionResult = RouterOutputs['vms']['start'];

type RequestOptions = 'id' | 'idempotency_key' | 'expected_version' | 'wait' | 'wait_timeout_ms';
export type CreateVmSpec = Omit<RouterInputs['vms']['create'], RequestOptions>;
export type UpdateVmPatch = Omit<RouterInputs['vms']['update'], RequestOptions>;
export type ListVmsQuery = NonNullable<RouterInputs['vms']['list']>;
export type ListOperationsQuery = NonNullable<RouterInputs['operations']['list']>;
export type ListEventsQuery = Omit<RouterInputs['vms']['events'], 'id'>;
export type CreateApiKeyInput = RouterInputs['api_keys']['create'];
export type CreateUserInput = RouterInputs['users']['create'];
export type Image = RouterOutputs['images']['get'];
export type Host = RouterOutputs['hosts']['get'];
export type Gpu = RouterOutputs['gpus']['list'][number];
export type ListGpusQuery = NonNullable<RouterInputs['gpus']['list']>;
export type UnmanagedDomain = RouterOutputs['hosts']['unmanaged_domains'][number];
export type VmConfig = RouterOutputs['vms']['get_config'];
export type VmConsoleLog = RouterOutputs['vms']['console_log'];
export type ConsoleTicket = RouterOutputs['vms']['console_ticket'];
export type RegisterImageInput = RouterInputs['images']['create'];
export type ListImagesQuery = NonNullable<RouterInputs['images']['list']>;
