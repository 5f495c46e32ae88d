/** The Redis (BullMQ) driver of @convlab/jobs: queue, worker, sharded kinds. See ../../SCALE-OUT.md. */
export { createRedisQueue, namesFor, shardJobId, describeQueue, type RedisQueueOptions, type RedisJobQueue } from './queue.js';
export { createRedisWorker, type RedisWorker, type RedisWorkerOptions } from './worker.js';
export { isShardedKind, runShardsInline, type ShardSpec, type ShardedJobKind } from './sharded.js';
export { checkServer, redisUrlFrom, safeUrl } from './connection.js';
export { defaultKindsModules, defaultRunsDir } from './defaults.js';
export { followRun, type FollowOptions } from './follow.js';
export { keysFor } from './store.js';
