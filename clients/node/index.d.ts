// Types of rapport-client's helpers. Messages exchanged with the server are plain objects in
// @grpc/proto-loader's shape (snake_case fields, enums as strings, 64-bit integers as numbers);
// their fields are documented in proto/rapport/v1/*.proto.
import * as grpc from '@grpc/grpc-js';

export { grpc };
export const DEFAULT_ADDRESS: string;

export type Proto = Record<string, any>;
export type TimeLike = Date | number | string | { seconds: number; nanos?: number };
/** A rapport.v1.Message, or its text alone. `channel`, `role`, `format` also take 'chat', 'customer', 'rfc822'. */
export type MessageLike =
  | string
  | ({ id?: string; text?: string; channel?: string; role?: string; timestamp?: TimeLike; subject?: string } & Proto);
export type EventLike = { id: string; kind: string; timestamp: TimeLike } & Proto;

export interface ClientOptions {
  credentials?: grpc.ChannelCredentials;
  /** Sent as `authorization: Bearer <token>`. */
  token?: string;
  /** Default deadline of each unary call (30 000); null: none. */
  timeoutMs?: number | null;
  protoDir?: string;
}
export interface CallOptions {
  timeoutMs?: number | null;
}
export interface AnalyzeOptions extends CallOptions {
  skipEvidence?: boolean;
}

export interface ScoreResult {
  sequence: number;
  id: string;
  ok: boolean;
  /** A rapport.v1.MessageAnalysis; null when `error` is set. */
  analysis: Proto | null;
  error: string;
  /** 'INVALID_ARGUMENT', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED'; null when ok. */
  code: string | null;
}

export class Profiles {
  ingestMessages(customerId: string, messages: MessageLike[], opts?: CallOptions & { agent?: boolean }): Promise<Proto>;
  ingestEvents(customerId: string, events: EventLike[], opts?: CallOptions): Promise<Proto>;
  /** null for a customer the store does not know. */
  get(customerId: string, opts?: CallOptions): Promise<Proto | null>;
  export(customerId: string, opts?: CallOptions): Promise<{ profile: Proto; data: any }>;
  erase(customerId: string, opts?: CallOptions): Promise<{ erased: boolean; rows: Record<string, number> }>;
  setConsent(customerId: string, granted: boolean, opts?: CallOptions): Promise<number>;
  segments(opts?: CallOptions): Promise<Proto[]>;
  lifecycle(opts?: CallOptions): Promise<Proto[]>;
}

export class Conversation {
  opened: Proto | null;
  closed: Proto | null;
  open(): Promise<Proto>;
  turn(role: string, text: string, opts?: { turnId?: string; timestamp?: TimeLike } & Proto): Promise<Proto>;
  end(reason?: string): Promise<Proto>;
  cancel(): void;
}

export class RapportClient {
  constructor(address?: string, opts?: ClientOptions);
  readonly address: string;
  readonly profiles: Profiles;
  readonly stubs: Record<'analyzer' | 'scoring' | 'info' | 'profiles' | 'live' | 'health', grpc.Client & Proto>;
  waitForReady(timeoutMs?: number): Promise<void>;
  close(): void;
  health(service?: string, opts?: CallOptions): Promise<string>;
  info(opts?: CallOptions): Promise<Proto>;
  analyze(messages: MessageLike | MessageLike[], opts?: AnalyzeOptions): Promise<Proto[]>;
  analyzeConversation(turns: MessageLike[], opts?: AnalyzeOptions & { conversationId?: string }): Promise<Proto>;
  score(messages: Iterable<MessageLike> | AsyncIterable<MessageLike>, opts?: AnalyzeOptions): AsyncGenerator<ScoreResult>;
  conversation(
    conversationId: string,
    opts?: { customerId?: string; channel?: string; languages?: string[]; updateProfile?: boolean },
  ): Conversation;
}

export function createClient(address?: string, opts?: ClientOptions): RapportClient;
export function loadProtos(dir?: string): grpc.GrpcObject;
export function protoDir(): string;
export function message(value: MessageLike, defaultId?: string): Proto;
export function event(value: EventLike): Proto;
export function timestamp(value: TimeLike | undefined | null): { seconds: number; nanos: number } | undefined;
