/** A finished span, as `onSpanEnd` receives it. Times are epoch milliseconds (fractional). */
export interface SpanData {
  traceId: string;
  spanId: string;
  /** The request method (`GET`, …), per the HTTP semantic conventions. */
  name: string;
  kind: 'client';
  startTime: number;
  endTime: number;
  durationMs: number;
  status: 'unset' | 'error';
  endReason: 'completed' | 'cancelled' | 'aborted' | 'error' | 'abandoned' | 'no-body';
  /**
   * `http.request.method`, `url.full`, `server.address`, `server.port`, `http.response.status_code`, `error.type`,
   * `fetchspan.response.decoded_size` (exact, when known), `fetchspan.response.chunks`,
   * `fetchspan.response.size_source` (`stream`, `value`, `content-length`, `resource-timing` or `unknown`),
   * `fetchspan.end_reason`.
   */
  attributes: Record<string, string | number | boolean>;
  /** `response.headers` and `response.first_byte`. */
  events: { name: string; time: number; attributes: Record<string, string | number | boolean> }[];
}

export interface Options {
  /** Called with every finished span. A hook that throws is counted in `passthroughFailures`. */
  onSpanEnd?: (span: SpanData) => void;
  /** A body with no activity for this long ends as `abandoned`. Default 300000 (5 minutes). */
  idleTimeoutMs?: number;
  /** Requests to leave alone: URL prefixes or RegExps tested on the absolute URL. */
  ignoreUrls?: (string | RegExp)[];
  /** OTLP/HTTP base URL; spans are POSTed as JSON to `{endpoint}/v1/traces`. No endpoint, no export. */
  endpoint?: string;
  /** Static headers for export requests (an API key, …). */
  headers?: Record<string, string>;
  /** `service.name`. Default `unknown_service`. */
  serviceName?: string;
  /** Extra resource attributes. */
  resource?: Record<string, string | number | boolean>;
  /** Spans waiting for export at most; more are dropped and counted. Default 2048. */
  maxQueueSize?: number;
  /** Spans per export request at most. Default 512. */
  maxExportBatchSize?: number;
  /** Delay between scheduled exports. Default 1000. */
  scheduledDelayMs?: number;
  /** Deadline of one export request. Default 10000. */
  exportTimeoutMs?: number;
  /** Send what is queued with `keepalive` when the page is hidden or unloaded. Default true. */
  unloadFlush?: boolean;
}

export interface Stats {
  started: number;
  ended: number;
  open: number;
  passthroughFailures: number;
  [counter: string]: number;
}

export interface FlushResult {
  exported: number;
  dropped: number;
  timedOut: boolean;
}

export interface Tracer {
  stats(): Stats;
  /** Exports what is queued; resolves by `timeoutMs` at the latest, leaving nothing pending. */
  forceFlush(timeoutMs?: number): Promise<FlushResult>;
  /** Flushes (by `timeoutMs`), restores `fetch` and `Response.prototype`, and releases every listener and timer. */
  uninstall(timeoutMs?: number): Promise<void>;
}

export function install(options?: Options): Promise<Tracer>;
