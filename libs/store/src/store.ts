import type {
  Agent,
  AgentCommand,
  ApiToken,
  Assignment,
  AuditEvent,
  Instance,
  InstanceKind,
  InstanceState,
  Job,
  JobKind,
  JobLogLine,
  JobState,
  JoinToken,
  JsonObject,
  JsonValue,
  LogLevel,
  ProvisionerKind,
  Schedule,
  Snapshot,
  SnapshotStatus,
  TimeInput,
  User,
  UserRole,
} from "./model.ts";

/**
 * The control plane's persistence. Every method either does what it says or throws a
 * StoreError (errors.ts); `get*` throws `not-found`, `find*` returns undefined.
 */
export interface Store {
  readonly dialect: StoreDialect;
  readonly users: UsersRepo;
  readonly tokens: ApiTokensRepo;
  readonly snapshots: SnapshotsRepo;
  readonly instances: InstancesRepo;
  readonly agents: AgentsRepo;
  readonly joinTokens: JoinTokensRepo;
  readonly commands: CommandsRepo;
  readonly assignments: AssignmentsRepo;
  readonly jobs: JobsRepo;
  readonly jobLogs: JobLogsRepo;
  readonly schedules: SchedulesRepo;
  readonly audit: AuditRepo;
  readonly notifications: NotificationsRepo;
  /**
   * Runs `work` in one database transaction: the repositories of the store it receives
   * commit together or not at all. `tx.transaction` joins it; calling the outer store
   * inside the callback fails with `internal` (SQLite would wait forever).
   */
  transaction<T>(work: (store: Store) => Promise<T>): Promise<T>;
  /** Closes the pool or the SQLite file. The store is unusable afterwards. */
  close(): Promise<void>;
}

export type StoreDialect = "sqlite" | "postgres";

export interface Page {
  /** At most this many items (default 100, capped at 1000). */
  limit?: number;
}

/** A page that continues after an item: keyset paging, stable while rows are added (see everyPage). */
export interface AfterPage extends Page {
  /** The id of the last item of the previous page. */
  after?: string;
}

// ---- users and people's tokens -------------------------------------------------------

export interface CreateUserInput {
  name: string;
  role: UserRole;
  slackUserId?: string | null;
}

export interface UsersRepo {
  /** `conflict` when the name or Slack user id is taken. */
  create(input: CreateUserInput): Promise<User>;
  get(id: string): Promise<User>;
  find(id: string): Promise<User | undefined>;
  findByName(name: string): Promise<User | undefined>;
  findBySlackUserId(slackUserId: string): Promise<User | undefined>;
  list(): Promise<User[]>;
  update(id: string, patch: { role?: UserRole; slackUserId?: string | null }): Promise<User>;
  count(): Promise<number>;
}

export interface CreatedToken {
  token: ApiToken;
  /** The secret itself: shown once, never stored (only its sha256 is). */
  plaintext: string;
}

export interface ApiTokensRepo {
  create(input: { userId: string; name: string; expiresAt?: TimeInput | null }): Promise<CreatedToken>;
  /**
   * The user a bearer token belongs to, or null when the token is unknown, revoked or
   * expired. Records the use (lastUsedAt).
   */
  authenticate(plaintext: string): Promise<User | null>;
  revoke(id: string): Promise<ApiToken>;
  get(id: string): Promise<ApiToken>;
  list(userId: string): Promise<ApiToken[]>;
  /**
   * First run: when there are no users yet, creates an admin and a token for it and
   * returns both; otherwise (or when another replica won the race) returns null.
   */
  bootstrapAdmin(input?: { name?: string }): Promise<(CreatedToken & { user: User }) | null>;
}

// ---- snapshots ----------------------------------------------------------------------

export interface CreateSnapshotInput {
  /** Defaults to a new random id; pass the id libs/snapshot gave the manifest. */
  id?: string;
  location: string;
  sourceDescription: string;
  rulesDigest?: string | null;
  /** Default `building`; a snapshot registered after the fact can start `ready`. */
  status?: "building" | "ready";
  sizeBytes?: number;
  rows?: number;
  tablesCount?: number;
}

export interface SnapshotsRepo {
  create(input: CreateSnapshotInput): Promise<Snapshot>;
  get(id: string): Promise<Snapshot>;
  find(id: string): Promise<Snapshot | undefined>;
  /** Newest first; `deleted` ones only when asked for by status. */
  list(filter?: { status?: SnapshotStatus[]; pinned?: boolean } & Page): Promise<Snapshot[]>;
  /** building -> ready with its figures; `invalid-transition` from any other status. */
  markReady(id: string, figures: { sizeBytes: number; rows: number; tablesCount: number; location?: string }): Promise<Snapshot>;
  /** building -> failed. */
  markFailed(id: string): Promise<Snapshot>;
  setPinned(id: string, pinned: boolean): Promise<Snapshot>;
  /**
   * Marks the snapshot deleted (the blobs are the caller's business). `conflict` while a
   * live instance is assigned to it or holds it, or while it is pinned.
   */
  delete(id: string): Promise<Snapshot>;
  /** Live instances that target or hold this snapshot. */
  instancesUsing(id: string): Promise<Instance[]>;
}

// ---- instances -----------------------------------------------------------------------

export interface CreateInstanceInput {
  ownerId: string;
  kind: InstanceKind;
  provisioner: ProvisionerKind;
  ttlExpiresAt?: TimeInput | null;
  hostAddress?: string | null;
  hostPort?: number | null;
  providerId?: string | null;
}

/** Fields that change without a state change. `undefined` leaves a field as it is. */
export interface InstancePatch {
  ttlExpiresAt?: TimeInput | null;
  hostAddress?: string | null;
  hostPort?: number | null;
  providerId?: string | null;
  lastActivityAt?: TimeInput | null;
}

export interface TransitionInput {
  to: InstanceState;
  /**
   * The state the caller believes the instance is in. When given and different,
   * `conflict`; either way the update is compare-and-set on the state read, so two
   * replicas moving the same instance cannot both succeed.
   */
  from?: InstanceState;
  detail?: string | null;
  patch?: InstancePatch;
}

export interface InstancesRepo {
  /** A new instance in state `requested`; `not-found` for an unknown owner. */
  create(input: CreateInstanceInput): Promise<Instance>;
  get(id: string): Promise<Instance>;
  find(id: string): Promise<Instance | undefined>;
  findByProviderId(providerId: string): Promise<Instance | undefined>;
  /** Oldest first. Terminated instances only when asked for by state. */
  list(filter?: { ownerId?: string; kind?: InstanceKind; states?: InstanceState[] } & AfterPage): Promise<Instance[]>;
  /** How many instances are in each state (every state present, 0 when none). */
  countByState(filter?: { kind?: InstanceKind }): Promise<Record<InstanceState, number>>;
  /** `invalid-transition` for a move instance-lifecycle.ts does not allow; `conflict` when raced. */
  transition(id: string, input: TransitionInput): Promise<Instance>;
  update(id: string, patch: InstancePatch): Promise<Instance>;
  /** Sets lastActivityAt to now (the reaper's idle clock). */
  touch(id: string): Promise<void>;
  /** Live personal instances whose TTL ended at or before `at` (default now). */
  listExpired(at?: TimeInput): Promise<Instance[]>;
}

// ---- agents, join tokens, commands -------------------------------------------------

export interface RegisterAgentInput {
  identity: JsonObject;
  version: string;
  state?: string;
  /**
   * Called with the instance the agent registers for, inside the registration's
   * transaction: throw (e.g. a StoreError `unauthorized` when the agent's identity is not
   * the instance's provider id) to refuse it. A refused registration changes nothing, so
   * the join token stays unused.
   */
  verify?: (instance: Instance) => void | Promise<void>;
}

export interface RegisteredAgent {
  agent: Agent;
  /** The agent's credential: sent once in `welcome`, stored only as its sha256. */
  credential: string;
}

export interface AgentsRepo {
  /** Registers an agent for an instance the caller already trusts (e.g. a static host). */
  register(instanceId: string, input: RegisterAgentInput): Promise<RegisteredAgent>;
  /**
   * Consumes the join token and registers the agent in one transaction: a token works
   * once. Errors as JoinTokensRepo.consume.
   */
  registerWithJoinToken(joinToken: string, input: RegisterAgentInput): Promise<RegisteredAgent>;
  /** The agent a credential belongs to, or null when unknown or revoked. */
  authenticate(credential: string): Promise<Agent | null>;
  get(id: string): Promise<Agent>;
  find(id: string): Promise<Agent | undefined>;
  list(filter?: { instanceId?: string; includeRevoked?: boolean } & AfterPage): Promise<Agent[]>;
  /** How many agents (credential not revoked) last reported each state. */
  countByState(): Promise<Record<string, number>>;
  /** Sets lastHeartbeatAt to now, and state/health when given. */
  recordHeartbeat(id: string, report?: { state?: string; health?: JsonObject }): Promise<Agent>;
  setState(id: string, state: string): Promise<Agent>;
  /** Its credential stops working at once; pending commands stay for the record. */
  revoke(id: string): Promise<Agent>;
}

export interface IssuedJoinToken {
  joinToken: JoinToken;
  plaintext: string;
}

export interface JoinTokensRepo {
  /**
   * A single-use token for the instance, valid for `ttlMs` (default 15 minutes). With
   * `plaintext` (a static host's standing token), that value is armed for this instance:
   * the same token armed earlier for another instance stops working for it.
   */
  issue(instanceId: string, options?: { ttlMs?: number; plaintext?: string }): Promise<IssuedJoinToken>;
  /**
   * Marks the token used, atomically. `unauthorized` when unknown or already used,
   * `expired` when past its expiry. Returns the token (with usedAt set).
   */
  consume(plaintext: string): Promise<JoinToken>;
  list(instanceId: string): Promise<JoinToken[]>;
}

export interface EnqueueCommandInput {
  agentId: string;
  type: string;
  payload: JsonValue;
  /** Unique per agent: enqueueing the same key again returns the first command. */
  idempotencyKey: string;
}

export interface CommandsRepo {
  /** `created` is false when the key was already used for this agent. */
  enqueue(input: EnqueueCommandInput): Promise<{ command: AgentCommand; created: boolean }>;
  get(id: string): Promise<AgentCommand>;
  /** Not yet acknowledged (delivered or not), in the order they were enqueued. */
  pending(agentId: string): Promise<AgentCommand[]>;
  /** Records a delivery (the first one's time is kept: delivery is at-least-once). */
  markDelivered(id: string): Promise<AgentCommand>;
  /** Records the acknowledgement; a repeated ack keeps the first. */
  markAcked(id: string, result?: JsonValue): Promise<AgentCommand>;
}

// ---- assignments ---------------------------------------------------------------------

export interface AssignmentsRepo {
  /**
   * Assigns a `ready` snapshot to a live instance: creates a pending assignment and sets
   * the instance's snapshotId, in one transaction. `conflict` when the snapshot is not
   * ready, `invalid-transition` when the instance is terminated.
   */
  create(input: { instanceId: string; snapshotId: string }): Promise<Assignment>;
  get(id: string): Promise<Assignment>;
  listForInstance(instanceId: string, page?: Page): Promise<Assignment[]>;
  latestForInstance(instanceId: string): Promise<Assignment | undefined>;
  /** Progress and state updates from the agent; terminal states cannot change again (`invalid-transition`). */
  update(id: string, patch: { state?: "pending" | "sent" | "running"; progress?: JsonObject; error?: string | null }): Promise<Assignment>;
  /** -> succeeded, and the instance now holds the snapshot (currentSnapshotId). */
  succeed(id: string): Promise<Assignment>;
  /** -> failed with the error; the instance keeps its previous snapshot. */
  fail(id: string, error: string): Promise<Assignment>;
}

// ---- jobs ----------------------------------------------------------------------------

export interface EnqueueJobInput {
  kind: JobKind;
  payload: JsonValue;
  /** Default 3. */
  maxAttempts?: number;
  parentId?: string | null;
  /** Not leasable before this time (default now). */
  runAfter?: TimeInput;
}

export interface LeaseRequest {
  /** Who runs it: e.g. "<hostname>:<pid>:<runner>". */
  owner: string;
  kinds: readonly JobKind[];
  leaseMs: number;
}

export interface JobsRepo {
  enqueue(input: EnqueueJobInput): Promise<Job>;
  /** Several at once, in one transaction (a shrink's tasks). */
  enqueueMany(inputs: EnqueueJobInput[]): Promise<Job[]>;
  /**
   * Takes the oldest leasable job of these kinds, atomically: queued and due, or running
   * with an expired lease (its runner died) and attempts left. Increments attempts.
   * Null when there is nothing to do. Running jobs whose lease expired with no attempts
   * left are failed on the way.
   */
  lease(request: LeaseRequest): Promise<Job | null>;
  /** Extends the lease; `conflict` when the job is no longer this owner's (expired and re-leased, or cancelled). */
  renewLease(id: string, owner: string, leaseMs: number): Promise<Job>;
  /** running -> succeeded; `conflict` when not this owner's running job. */
  complete(id: string, owner: string, result?: JsonValue): Promise<Job>;
  /**
   * A failed attempt: back to queued (after `retryAfterMs`, default 0) while attempts are
   * left, else failed. `conflict` when not this owner's running job.
   */
  fail(id: string, owner: string, error: string, options?: { retryAfterMs?: number }): Promise<Job>;
  /** queued|running -> cancelled, with its unfinished children. Finished jobs: `invalid-transition`. */
  cancel(id: string): Promise<Job>;
  get(id: string): Promise<Job>;
  find(id: string): Promise<Job | undefined>;
  /** Newest first. */
  list(filter?: { states?: JobState[]; kinds?: JobKind[]; parentId?: string } & Page): Promise<Job[]>;
  /** How many children of a job are in each state (a parent waits for its tasks). */
  childCounts(parentId: string): Promise<Record<JobState, number>>;
  /** How many jobs of each kind are in each of these states. */
  countByKindAndState(states: JobState[]): Promise<{ kind: JobKind; state: JobState; count: number }[]>;
}

export interface JobLogsRepo {
  append(jobId: string, level: LogLevel, line: string): Promise<JobLogLine>;
  appendMany(jobId: string, lines: { level: LogLevel; line: string }[]): Promise<void>;
  /** The last `lines` lines (default 100), oldest first. */
  tail(jobId: string, lines?: number): Promise<JobLogLine[]>;
  /** Lines after `seq`, oldest first: follow a log by passing the last seq seen. */
  after(jobId: string, seq: number, page?: Page): Promise<JobLogLine[]>;
}

// ---- schedules and audit ------------------------------------------------------------

export interface UpsertScheduleInput {
  name: string;
  cron: string;
  timezone: string;
  kind: JobKind;
  payload: JsonValue;
  enabled?: boolean;
  nextRunAt: TimeInput | null;
}

export interface SchedulesRepo {
  /** Creates or replaces the schedule of that name (lastRunAt is kept). */
  upsert(input: UpsertScheduleInput): Promise<Schedule>;
  get(id: string): Promise<Schedule>;
  findByName(name: string): Promise<Schedule | undefined>;
  list(): Promise<Schedule[]>;
  setEnabled(id: string, enabled: boolean): Promise<Schedule>;
  /** Enabled schedules with nextRunAt at or before `at` (default now). */
  due(at?: TimeInput): Promise<Schedule[]>;
  /**
   * Compare-and-set for firing a run: when nextRunAt still equals `expectedNextRunAt`,
   * sets lastRunAt to now and nextRunAt to `nextRunAt` and returns true; false when
   * another replica fired it first.
   */
  claimRun(id: string, expectedNextRunAt: TimeInput, nextRunAt: TimeInput | null): Promise<boolean>;
  delete(id: string): Promise<void>;
}

export interface AuditRepo {
  record(event: { actor: string; action: string; subject: string; detail?: JsonObject | null }): Promise<AuditEvent>;
  /** Newest first; `beforeSeq` pages further back. */
  list(filter?: { actor?: string; subject?: string; action?: string; beforeSeq?: number } & Page): Promise<AuditEvent[]>;
}

// ---- notifications between replicas ---------------------------------------------------

/**
 * Wake-up calls between control-plane replicas ("agent X has a new command"): PostgreSQL
 * LISTEN/NOTIFY, or an in-process bus on SQLite (one process). Hints, not a queue: a
 * notification sent while a listener is reconnecting is lost, so receivers re-read the
 * durable rows (the outbox) they point at, also on reconnect.
 */
export interface NotificationsRepo {
  /**
   * Sends `payload` (at most 7999 bytes; send ids, not documents) to every subscriber of
   * `channel` (lowercase letters, digits, _). Inside a transaction it is sent on commit,
   * and not at all on rollback.
   */
  publish(channel: string, payload: string): Promise<void>;
  /** Calls `listener` with each payload sent on `channel` until the returned function is called. */
  subscribe(channel: string, listener: (payload: string) => void, options?: SubscribeOptions): Promise<() => Promise<void>>;
}

export interface SubscribeOptions {
  /**
   * Called when this subscription may have missed payloads: the listening connection
   * dropped and is listening again. Re-read the durable rows then. Never called on
   * SQLite, whose notifications stay in the process and cannot be missed.
   */
  onResync?: () => void;
}
