/**
 * Numbers of libvirt's remote protocol (`src/remote/remote_protocol.x` and
 * `src/rpc/virnetprotocol.x` in libvirt's sources): the program, the packet header's fields,
 * and the procedures and constants this driver uses. They are part of libvirt's stable wire
 * protocol and never change meaning.
 */
export const REMOTE_PROGRAM = 0x20008086;
export const REMOTE_PROTOCOL_VERSION = 1;

/** A packet is its length (4 bytes, counting itself), a 24-byte header, then the payload. */
export const HEADER_BYTES = 28;
/** libvirt's limit for one packet (VIR_NET_MESSAGE_MAX). */
export const MAX_PACKET_BYTES = 32 * 2 ** 20;
/** The data one stream packet carries, as libvirt's own client sends it (VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX). */
export const STREAM_CHUNK_BYTES = 256 * 1024;

export const MessageType = { CALL: 0, REPLY: 1, MESSAGE: 2, STREAM: 3 } as const;
export const MessageStatus = { OK: 0, ERROR: 1, CONTINUE: 2 } as const;

export const Proc = {
  CONNECT_OPEN: 1,
  CONNECT_CLOSE: 2,
  NODE_GET_INFO: 6,
  CONNECT_GET_CAPABILITIES: 7,
  DOMAIN_CREATE: 9,
  DOMAIN_DEFINE_XML: 11,
  DOMAIN_DESTROY: 12,
  DOMAIN_GET_XML_DESC: 14,
  DOMAIN_LOOKUP_BY_UUID: 24,
  DOMAIN_REBOOT: 27,
  DOMAIN_RESUME: 28,
  DOMAIN_SHUTDOWN: 33,
  DOMAIN_SUSPEND: 34,
  AUTH_LIST: 66,
  AUTH_POLKIT: 70,
  NODE_DEVICE_GET_XML_DESC: 114,
  CONNECT_GET_LIB_VERSION: 157,
  STORAGE_POOL_DEFINE_XML: 77,
  STORAGE_POOL_CREATE: 78,
  STORAGE_POOL_BUILD: 79,
  STORAGE_POOL_REFRESH: 83,
  STORAGE_POOL_LOOKUP_BY_NAME: 84,
  STORAGE_POOL_GET_INFO: 87,
  STORAGE_POOL_GET_XML_DESC: 88,
  STORAGE_POOL_SET_AUTOSTART: 90,
  STORAGE_VOL_CREATE_XML: 93,
  STORAGE_VOL_DELETE: 94,
  STORAGE_VOL_LOOKUP_BY_NAME: 95,
  STORAGE_VOL_GET_INFO: 98,
  STORAGE_VOL_GET_XML_DESC: 99,
  STORAGE_VOL_GET_PATH: 100,
  STORAGE_VOL_UPLOAD: 208,
  STORAGE_VOL_DOWNLOAD: 209,
  STORAGE_VOL_RESIZE: 260,
  DOMAIN_GET_STATE: 212,
  DOMAIN_UNDEFINE_FLAGS: 231,
  DOMAIN_RESET: 245,
  DOMAIN_GET_METADATA: 265,
  CONNECT_LIST_ALL_DOMAINS: 273,
  CONNECT_LIST_ALL_NODE_DEVICES: 285,
  CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY: 316,
  CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY: 317,
  DOMAIN_EVENT_CALLBACK_LIFECYCLE: 318,
} as const;

/** virDomainState */
export const DomainStateCode = {
  NOSTATE: 0,
  RUNNING: 1,
  BLOCKED: 2,
  PAUSED: 3,
  SHUTDOWN: 4,
  SHUTOFF: 5,
  CRASHED: 6,
  PMSUSPENDED: 7,
} as const;

/** virDomainEventType, and the detail of a `STOPPED` event (virDomainEventStoppedDetailType). */
export const LifecycleEvent = {
  DEFINED: 0,
  UNDEFINED: 1,
  STARTED: 2,
  SUSPENDED: 3,
  RESUMED: 4,
  STOPPED: 5,
  SHUTDOWN: 6,
  PMSUSPENDED: 7,
  CRASHED: 8,
} as const;
export const StoppedDetail = ['shutdown', 'destroyed', 'crashed', 'migrated', 'saved', 'failed', 'from_snapshot'] as const;

/** remote_auth_type */
export const AuthType = { NONE: 0, SASL: 1, POLKIT: 2 } as const;

export const VIR_DOMAIN_EVENT_ID_LIFECYCLE = 0;
export const VIR_DOMAIN_XML_INACTIVE = 1 << 1;
export const VIR_DOMAIN_METADATA_ELEMENT = 2;
export const VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN = 1 << 0;
export const VIR_DOMAIN_UNDEFINE_MANAGED_SAVE = 1 << 0;
export const VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA = 1 << 1;
export const VIR_DOMAIN_UNDEFINE_NVRAM = 1 << 2;
export const VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV = 1 << 1;

/** virErrorNumber values the driver tells apart. */
export const ErrorCode = {
  OPERATION_INVALID: 55,
  NO_DOMAIN: 42,
  NO_DOMAIN_METADATA: 80,
  NO_NODE_DEVICE: 53,
  NO_STORAGE_POOL: 49,
  NO_STORAGE_VOL: 50,
  STORAGE_POOL_BUILT: 76,
  AUTH_FAILED: 45,
  XML_ERROR: 27,
  INVALID_ARG: 8,
} as const;
