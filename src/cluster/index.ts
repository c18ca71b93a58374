export { type HoldLeaseOptions, type Lease, type LeaseGrant, type LeadershipEvent, type PgLeaseOptions, holdLease, openPgLease } from './lease';
export { type LeadOptions, type LeaderEvent, lead } from './leader';
export { untilDeposed } from './deposed-port';
