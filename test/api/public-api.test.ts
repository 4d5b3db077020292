/**
 * The public API, as a user imports it: the three entry points by package name, every public type named
 * in a type position (tsc fails here when one stops being exported, and `bun run typecheck` is part of
 * CI), the public signatures checked to speak those types, and the value exports pinned exactly, so an
 * export added or lost shows up in review.
 */
import { describe, expect, expectTypeOf, test } from "bun:test";
import type {
  ActorDeadLetter,
  ActorDefinition,
  ActorEventName,
  ActorEventSource,
  ActorEvents,
  ActorRef,
  ActorStats,
  ActorStatus,
  ActorSystem,
  AskOptions,
  BackoffOptions,
  Checkpoint,
  CheckpointStats,
  Clock,
  CompactionOptions,
  ControlOptions,
  CrashReason,
  DurableStats,
  DurableTable,
  EscalationAction,
  HandlerErrorPolicy,
  HealthStatus,
  InitContext,
  InstanceState,
  InstanceStats,
  MessageContext,
  QueryFn,
  RecordCodec,
  RestartType,
  RestoredState,
  RouteKey,
  SerializedError,
  SpawnOptions,
  StateOptions,
  StateScope,
  StateStore,
  StopResult,
  SupervisorOptions,
  SupervisorStrategy,
  SystemHealth,
  SystemOptions,
  TableCodec,
  Tables,
  TimerHandle,
  TroupeError,
  TroupeErrorCode,
  TroupeErrorOptions,
  UnhandledRejectionPolicy,
  ValueWriter,
} from "troupe";
import * as troupe from "troupe";
import type {
  ActorTotals,
  ActorView,
  BackendHealth,
  ControlApi,
  ControlApiErrorCode,
  ControlApiOptions,
  Counters,
  DeadLetterStore,
  DeadLetterView,
  DetectionCounts,
  DetectionFilter,
  DetectionPage,
  DetectionRecord,
  DetectionsSource,
  DetectionsSourceOptions,
  DetectionView,
  ErrorBody,
  HealthReason,
  HealthReasonCode,
  HistoryPoint,
  Page,
  PageRequest,
  PendingEntryInfo,
  Readiness,
  ReadinessStatus,
  ServedControlApi,
  ServeOptions,
  StreamAlert,
  StreamGroupInfo,
  StreamsSource,
  StreamsSourceOptions,
  WatchedPump,
  Watermark,
  WatermarkState,
} from "troupe/http";
import * as http from "troupe/http";
import type {
  AppendResult,
  ClaimOptions,
  ClaimResult,
  CommitItem,
  CommitOutcome,
  ConsumerInfo,
  DeadLetterFilter,
  DeadLetterPage,
  DeadLetterReason,
  DeadLetters,
  EntryCodec,
  EntryFields,
  EntrySource,
  GroupInfo,
  LossReport,
  MemoryBackendOptions,
  MemoryStreamBackend,
  Output,
  Outputs,
  OutputsOf,
  OutputWrite,
  PendingInfo,
  PendingQuery,
  PendingReadOptions,
  Pressure,
  PressureLevel,
  Producer,
  ProducerEvents,
  ProducerOptions,
  Pump,
  PumpEntry,
  PumpEvents,
  PumpOptions,
  PumpStats,
  PumpTarget,
  RangeOptions,
  ReadOptions,
  RedeliveredEntry,
  RedisAddress,
  RedisBackendOptions,
  RedisStreamBackend,
  ResolvedPumpOptions,
  Retention,
  RetentionEvents,
  RetentionOptions,
  SendOptions,
  StreamBackend,
  StreamDeadLetter,
  StreamEntry,
  TrimResult,
  UniqueAppendResult,
  WriteFields,
} from "troupe/streams";
import * as streams from "troupe/streams";

describe("troupe: the runtime", () => {
  test("exports exactly these values", () => {
    expect(Object.keys(troupe).sort()).toEqual([
      "ActorRef",
      "ActorSystem",
      "DurableTable",
      "InvalidOptionError",
      "MemoryStateStore",
      "MessageRejectedError",
      "RecordKind",
      "SegmentCompaction",
      "SegmentReplay",
      "ThreadPool",
      "TroupeError",
      "ValueReader",
      "createSystem",
      "defineActor",
      "memoryTables",
      "readSegment",
      "recordCodec",
      "segmentOf",
      "segmentRecords",
      "systemClock",
      "valueCodec",
    ]);
  });

  test("public signatures speak exported types", () => {
    expectTypeOf<Parameters<typeof troupe.createSystem>[0]>().toEqualTypeOf<SystemOptions | undefined>();
    expectTypeOf<ReturnType<typeof troupe.createSystem>>().toEqualTypeOf<ActorSystem>();
    expectTypeOf<SystemOptions["supervisor"]>().toEqualTypeOf<SupervisorOptions | undefined>();
    expectTypeOf<SupervisorOptions["strategy"]>().toEqualTypeOf<SupervisorStrategy | undefined>();
    expectTypeOf<SupervisorOptions["backoff"]>().toEqualTypeOf<BackoffOptions | undefined>();
    expectTypeOf<SupervisorOptions["onEscalation"]>().toEqualTypeOf<EscalationAction | undefined>();
    expectTypeOf<SystemOptions["clock"]>().toEqualTypeOf<Clock | undefined>();
    expectTypeOf<ReturnType<Clock["setTimeout"]>>().toEqualTypeOf<TimerHandle>();
    expectTypeOf<
      Parameters<NonNullable<SystemOptions["onDeadLetter"]>>[0]
    >().toEqualTypeOf<ActorDeadLetter>();
    expectTypeOf<ActorDeadLetter["error"]>().toEqualTypeOf<SerializedError>();

    expectTypeOf<ActorSystem["events"]>().toEqualTypeOf<ActorEventSource>();
    expectTypeOf<Parameters<ActorEventSource["on"]>[0]>().toEqualTypeOf<ActorEventName>();
    expectTypeOf<ActorEventName>().toEqualTypeOf<keyof ActorEvents>();
    expectTypeOf<Parameters<ActorEvents["crashed"]>[0]["reason"]>().toEqualTypeOf<CrashReason>();
    expectTypeOf<ReturnType<ActorSystem["health"]>>().toEqualTypeOf<SystemHealth>();
    expectTypeOf<SystemHealth["status"]>().toEqualTypeOf<HealthStatus>();
    expectTypeOf<Awaited<ReturnType<ActorSystem["stop"]>>>().toEqualTypeOf<StopResult>();
    expectTypeOf<ReturnType<ActorSystem["stats"]>>().toEqualTypeOf<ActorStats[]>();

    expectTypeOf<Parameters<ActorSystem["spawn"]>[1]>().toEqualTypeOf<SpawnOptions<unknown> | undefined>();
    expectTypeOf<SpawnOptions["restart"]>().toEqualTypeOf<RestartType | undefined>();
    expectTypeOf<SpawnOptions["threads"]>().toEqualTypeOf<troupe.ThreadPool | undefined>();
    expectTypeOf<SpawnOptions<string>["route"]>().toEqualTypeOf<
      "round-robin" | ((message: string) => RouteKey) | undefined
    >();
    expectTypeOf<SpawnOptions["onHandlerError"]>().toEqualTypeOf<HandlerErrorPolicy | undefined>();
    expectTypeOf<SpawnOptions["unhandledRejection"]>().toEqualTypeOf<UnhandledRejectionPolicy | undefined>();

    expectTypeOf<ReturnType<typeof troupe.defineActor<number, string, boolean>>>().toEqualTypeOf<
      ActorDefinition<number, string, boolean>
    >();
    expectTypeOf<Parameters<ActorDefinition<number>["initialState"]>[0]>().toEqualTypeOf<InitContext>();
    expectTypeOf<Parameters<ActorDefinition<number>["handle"]>[2]>().toEqualTypeOf<MessageContext>();
    expectTypeOf<ActorDefinition<number>["queries"]>().toEqualTypeOf<
      Record<string, QueryFn<number>> | undefined
    >();

    expectTypeOf<Parameters<ActorRef["ask"]>[1]>().toEqualTypeOf<AskOptions | undefined>();
    expectTypeOf<Parameters<ActorRef["snapshot"]>[0]>().toEqualTypeOf<ControlOptions | undefined>();
    expectTypeOf<ActorRef["status"]>().toEqualTypeOf<ActorStatus>();
    expectTypeOf<ActorStats["paused"]>().toEqualTypeOf<boolean>();
    expectTypeOf<ActorStats["instances"]>().toEqualTypeOf<InstanceStats[]>();
    expectTypeOf<InstanceStats["state"]>().toEqualTypeOf<InstanceState>();

    expectTypeOf<SpawnOptions["state"]>().toEqualTypeOf<StateOptions | undefined>();
    expectTypeOf<StateOptions["store"]>().toEqualTypeOf<StateStore>();
    expectTypeOf<Parameters<StateStore["restore"]>[0]>().toEqualTypeOf<StateScope>();
    expectTypeOf<Awaited<ReturnType<StateStore["restore"]>>>().toEqualTypeOf<RestoredState>();
    expectTypeOf<Parameters<StateStore["commit"]>[0]>().toEqualTypeOf<Checkpoint>();
    expectTypeOf<Checkpoint["segments"]>().toEqualTypeOf<readonly Uint8Array[]>();
    expectTypeOf<RestoredState["chunks"]>().toEqualTypeOf<AsyncIterable<Uint8Array>>();
    expectTypeOf<CompactionOptions["compactRatio"]>().toEqualTypeOf<number | undefined>();
    expectTypeOf<typeof troupe.segmentOf>().returns.toEqualTypeOf<Uint8Array | null>();
    expectTypeOf<ReturnType<typeof troupe.recordCodec<{ a: number }>>>().toEqualTypeOf<
      RecordCodec<{ a: number }>
    >();
    expectTypeOf<Parameters<RecordCodec<{ a: number }>["encodeInto"]>[1]>().toEqualTypeOf<ValueWriter>();
    expectTypeOf<InstanceType<typeof troupe.SegmentReplay>["tables"]>().toEqualTypeOf<
      Map<string, Map<string, Uint8Array>>
    >();
    expectTypeOf<InitContext["tables"]>().toEqualTypeOf<Tables>();
    expectTypeOf<ReturnType<Tables["table"]>>().toEqualTypeOf<DurableTable<unknown>>();
    expectTypeOf<Parameters<Tables["table"]>[1]>().toEqualTypeOf<TableCodec<unknown> | undefined>();
    expectTypeOf<ReturnType<typeof troupe.memoryTables>>().toEqualTypeOf<Tables>();
    expectTypeOf<InstanceStats["durable"]>().toEqualTypeOf<DurableStats | null>();
    expectTypeOf<DurableStats["lastCheckpoint"]>().toEqualTypeOf<CheckpointStats | null>();

    expectTypeOf<TroupeError["code"]>().toEqualTypeOf<TroupeErrorCode>();
    expectTypeOf<ConstructorParameters<typeof troupe.TroupeError>[2]>().toEqualTypeOf<
      TroupeErrorOptions | undefined
    >();
  });

  test("the engine behind a ref and the scanner's error codes are not part of it", () => {
    expectTypeOf<ActorRef>().not.toHaveProperty("engine");
    expectTypeOf<"ERR_CONFIG">().not.toExtend<TroupeErrorCode>();
    expectTypeOf<"ERR_INVALID_EVENT">().not.toExtend<TroupeErrorCode>();
  });
});

describe("troupe/streams: backends, pumps, producer, retention, dead letters, codecs", () => {
  test("exports exactly these values", () => {
    expect(Object.keys(streams).sort()).toEqual([
      "DEAD_LETTER_REASONS",
      "DeadLetters",
      "MemoryStreamBackend",
      "PartitionOwnership",
      "PartitionedConsumer",
      "PartitionedProducer",
      "PartitionedStream",
      "Producer",
      "Pump",
      "RedisStreamBackend",
      "Retention",
      "defaultCodec",
      "entryFields",
      "jsonCodec",
      "partitionKey",
      "partitionOf",
      "rawJsonCodec",
      "rawPayloadCodec",
    ]);
  });

  test("public signatures speak exported types", () => {
    expectTypeOf<ConstructorParameters<typeof MemoryStreamBackend>[0]>().toEqualTypeOf<
      MemoryBackendOptions | undefined
    >();
    expectTypeOf<ConstructorParameters<typeof RedisStreamBackend>[1]>().toEqualTypeOf<
      RedisBackendOptions | undefined
    >();
    expectTypeOf<ConstructorParameters<typeof RedisStreamBackend>[0]>().toEqualTypeOf<RedisAddress>();
    expectTypeOf<MemoryStreamBackend>().toExtend<StreamBackend>();
    expectTypeOf<RedisStreamBackend>().toExtend<StreamBackend>();
    expectTypeOf<Parameters<StreamBackend["append"]>[1]>().toEqualTypeOf<WriteFields>();
    expectTypeOf<Awaited<ReturnType<StreamBackend["appendBatch"]>>>().toEqualTypeOf<AppendResult[]>();
    expectTypeOf<Awaited<ReturnType<StreamBackend["appendUnique"]>>>().toEqualTypeOf<UniqueAppendResult>();
    expectTypeOf<Parameters<StreamBackend["readNew"]>[3]>().toEqualTypeOf<ReadOptions>();
    expectTypeOf<Awaited<ReturnType<StreamBackend["readNew"]>>>().toEqualTypeOf<StreamEntry[]>();
    expectTypeOf<Parameters<StreamBackend["readPending"]>[3]>().toEqualTypeOf<PendingReadOptions>();
    expectTypeOf<Awaited<ReturnType<StreamBackend["readPending"]>>>().toEqualTypeOf<RedeliveredEntry[]>();
    expectTypeOf<Parameters<StreamBackend["pending"]>[2]>().toEqualTypeOf<PendingQuery>();
    expectTypeOf<Awaited<ReturnType<StreamBackend["pending"]>>>().toEqualTypeOf<PendingInfo[]>();
    expectTypeOf<Parameters<StreamBackend["claimIdle"]>[3]>().toEqualTypeOf<ClaimOptions>();
    expectTypeOf<Awaited<ReturnType<StreamBackend["claimIdle"]>>>().toEqualTypeOf<ClaimResult>();
    expectTypeOf<Awaited<ReturnType<StreamBackend["groups"]>>>().toEqualTypeOf<GroupInfo[]>();
    expectTypeOf<Awaited<ReturnType<StreamBackend["consumers"]>>>().toEqualTypeOf<ConsumerInfo[]>();
    expectTypeOf<Parameters<StreamBackend["range"]>[1]>().toEqualTypeOf<RangeOptions>();
    expectTypeOf<Parameters<StreamBackend["commit"]>[2]>().toEqualTypeOf<readonly CommitItem[]>();
    expectTypeOf<Awaited<ReturnType<StreamBackend["commit"]>>>().toEqualTypeOf<CommitOutcome[]>();
    expectTypeOf<CommitItem["outputs"]>().toEqualTypeOf<readonly OutputWrite[]>();
    expectTypeOf<StreamEntry["fields"]>().toEqualTypeOf<EntryFields | null>();

    expectTypeOf<ConstructorParameters<typeof Pump>>().toEqualTypeOf<
      [StreamBackend, PumpTarget, PumpOptions]
    >();
    expectTypeOf<ActorRef<string, number>>().toExtend<PumpTarget<string, number>>();
    expectTypeOf<Pump["options"]>().toEqualTypeOf<ResolvedPumpOptions<unknown, unknown>>();
    expectTypeOf<Pump["stats"]>().toEqualTypeOf<PumpStats>();
    expectTypeOf<Parameters<Pump["on"]>[0]>().toEqualTypeOf<keyof PumpEvents>();
    expectTypeOf<Parameters<PumpEvents["read"]>[0]["source"]>().toEqualTypeOf<EntrySource>();
    expectTypeOf<Parameters<PumpEvents["groupRecreated"]>[0]>().toExtend<LossReport>();
    expectTypeOf<PumpOptions["codec"]>().toEqualTypeOf<EntryCodec | undefined>();
    expectTypeOf<Parameters<NonNullable<PumpOptions["toMessage"]>>[0]>().toEqualTypeOf<PumpEntry>();
    expectTypeOf<PumpOptions<string, number>["outputsOf"]>().toEqualTypeOf<OutputsOf<number> | undefined>();
    expectTypeOf<ReturnType<OutputsOf<number>>>().toEqualTypeOf<Outputs>();
    expectTypeOf<Outputs>().toEqualTypeOf<readonly Output[]>();

    expectTypeOf<Pump["deadLetters"]>().toEqualTypeOf<DeadLetters>();
    expectTypeOf<Parameters<DeadLetters["list"]>[0]>().toEqualTypeOf<DeadLetterFilter | undefined>();
    expectTypeOf<Awaited<ReturnType<DeadLetters["list"]>>>().toEqualTypeOf<DeadLetterPage>();
    expectTypeOf<DeadLetterPage["letters"]>().toEqualTypeOf<StreamDeadLetter[]>();
    expectTypeOf<StreamDeadLetter["reason"]>().toEqualTypeOf<DeadLetterReason>();
    expectTypeOf<(typeof streams.DEAD_LETTER_REASONS)[number]>().toEqualTypeOf<DeadLetterReason>();

    expectTypeOf<ConstructorParameters<typeof Producer>[1]>().toEqualTypeOf<ProducerOptions>();
    expectTypeOf<Producer["pressure"]>().toEqualTypeOf<Pressure>();
    expectTypeOf<Parameters<Producer["sendBatch"]>[1]>().toEqualTypeOf<SendOptions | undefined>();
    expectTypeOf<Pressure["level"]>().toEqualTypeOf<PressureLevel>();
    expectTypeOf<Parameters<Producer["on"]>[0]>().toEqualTypeOf<keyof ProducerEvents>();

    expectTypeOf<ConstructorParameters<typeof Retention>[2]>().toEqualTypeOf<RetentionOptions | undefined>();
    expectTypeOf<Awaited<ReturnType<Retention["runOnce"]>>>().toEqualTypeOf<TrimResult[]>();
    expectTypeOf<Parameters<Retention["on"]>[0]>().toEqualTypeOf<keyof RetentionEvents>();
  });
});

describe("troupe/http: the control API", () => {
  test("exports exactly these values", () => {
    expect(Object.keys(http).sort()).toEqual([
      "CONTROL_API_DEFAULTS",
      "ControlApiError",
      "DETECTIONS_SOURCE_DEFAULTS",
      "SERVE_DEFAULTS",
      "STREAMS_SOURCE_DEFAULTS",
      "createControlApi",
      "createDetectionsSource",
      "createStreamsSource",
      "isLoopback",
      "serveControlApi",
    ]);
  });

  test("public signatures speak exported types", () => {
    expectTypeOf<Parameters<typeof http.createControlApi>[0]>().toEqualTypeOf<ControlApiOptions>();
    expectTypeOf<ReturnType<typeof http.createControlApi>>().toEqualTypeOf<ControlApi>();
    expectTypeOf<Parameters<typeof http.serveControlApi>[0]>().toEqualTypeOf<
      ControlApiOptions & ServeOptions
    >();
    expectTypeOf<ReturnType<typeof http.serveControlApi>>().toEqualTypeOf<ServedControlApi>();
    expectTypeOf<ControlApiOptions["system"]>().toEqualTypeOf<ActorSystem>();
    expectTypeOf<ControlApiOptions["streams"]>().toEqualTypeOf<StreamsSource | null | undefined>();
    expectTypeOf<InstanceType<typeof http.ControlApiError>["code"]>().toEqualTypeOf<ControlApiErrorCode>();
    expectTypeOf<ErrorBody["error"]["code"]>().toEqualTypeOf<string>();

    expectTypeOf<Parameters<typeof http.createStreamsSource>[0]>().toEqualTypeOf<StreamsSourceOptions>();
    expectTypeOf<ReturnType<typeof http.createStreamsSource>>().toEqualTypeOf<StreamsSource>();
    expectTypeOf<StreamsSourceOptions["backend"]>().toEqualTypeOf<StreamBackend>();
    expectTypeOf<StreamsSourceOptions["pumps"]>().toEqualTypeOf<readonly WatchedPump[] | undefined>();
    expectTypeOf<Pump>().toExtend<WatchedPump>();
    expectTypeOf<StreamsSourceOptions["lag"]>().toEqualTypeOf<Watermark | undefined>();
    expectTypeOf<Awaited<ReturnType<StreamsSource["overview"]>>>().toEqualTypeOf<StreamGroupInfo[]>();
    expectTypeOf<StreamGroupInfo["watermark"]>().toEqualTypeOf<WatermarkState>();
    expectTypeOf<Parameters<StreamsSource["pending"]>[2]>().toEqualTypeOf<PageRequest>();
    expectTypeOf<Awaited<ReturnType<StreamsSource["pending"]>>>().toEqualTypeOf<Page<PendingEntryInfo>>();
    expectTypeOf<Awaited<ReturnType<StreamsSource["backendHealth"]>>>().toEqualTypeOf<BackendHealth>();
    expectTypeOf<Parameters<Parameters<StreamsSource["subscribe"]>[0]>[0]>().toEqualTypeOf<StreamAlert>();
    expectTypeOf<StreamsSource["deadLetters"]>().toEqualTypeOf<DeadLetterStore>();
    expectTypeOf<Parameters<DeadLetterStore["list"]>[0]>().toEqualTypeOf<DeadLetterFilter>();
    expectTypeOf<Awaited<ReturnType<DeadLetterStore["list"]>>>().toEqualTypeOf<Page<DeadLetterView>>();

    expectTypeOf<Readiness["status"]>().toEqualTypeOf<ReadinessStatus>();
    expectTypeOf<Readiness["reasons"]>().toEqualTypeOf<HealthReason[]>();
    expectTypeOf<HealthReason["code"]>().toEqualTypeOf<HealthReasonCode>();
    expectTypeOf<ActorView["totals"]>().toEqualTypeOf<ActorTotals>();
    expectTypeOf<ActorView["status"]>().toEqualTypeOf<ActorStatus>();
    expectTypeOf<Counters["throughput"]>().toEqualTypeOf<number>();

    expectTypeOf<ControlApiOptions["detections"]>().toEqualTypeOf<DetectionsSource | null | undefined>();
    expectTypeOf<
      Parameters<typeof http.createDetectionsSource>[0]
    >().toEqualTypeOf<DetectionsSourceOptions>();
    expectTypeOf<ReturnType<typeof http.createDetectionsSource>>().toEqualTypeOf<DetectionsSource>();
    expectTypeOf<Parameters<DetectionsSource["list"]>[0]>().toEqualTypeOf<DetectionFilter>();
    expectTypeOf<Awaited<ReturnType<DetectionsSource["list"]>>>().toEqualTypeOf<DetectionPage>();
    expectTypeOf<DetectionPage["alerts"]>().toEqualTypeOf<DetectionView[]>();
    expectTypeOf<DetectionView>().toExtend<DetectionRecord>();
    expectTypeOf<ReturnType<DetectionsSource["counts"]>>().toEqualTypeOf<DetectionCounts>();
    expectTypeOf<HistoryPoint["detections"]>().toEqualTypeOf<Readonly<Record<string, number>> | null>();
  });

  test("the HTTP dead letter is the stream one with a unique id and a preview for its fields", () => {
    expectTypeOf<Omit<DeadLetterView, "id" | "preview">>().toEqualTypeOf<
      Omit<StreamDeadLetter, "id" | "fields">
    >();
    expectTypeOf<DeadLetterView>().not.toHaveProperty("fields");
  });
});
