// A consumer of the published types (tests/package.sh runs `tsc --strict` on it against the installed tarball).
// Uses every option (and readonly lists), every stats() counter, forceFlush's result and the span object; the @ts-expect-error lines
// pin what the types must refuse.
import { install } from 'fetchspan';
import type { EndReason, FlushResult, Options, ScriptTagApi, SpanData, Stats, Tracer } from 'fetchspan';

const reasons: EndReason[] = [];

const options: Options = {
  onSpanEnd: (span: SpanData) => {
    const reason: EndReason = span.endReason;
    reasons.push(reason);
    const size: number | undefined = span.attributes['fetchspan.response.decoded_size'];
    const source: 'stream' | 'value' | 'content-length' | 'resource-timing' | 'unknown' | undefined =
      span.attributes['fetchspan.response.size_source'];
    const url: string | undefined = span.attributes['url.full'];
    const status: number | undefined = span.attributes['http.response.status_code'];
    const serverDb: number | undefined = span.attributes['fetchspan.server_timing.db.duration_us'];
    // @ts-expect-error a Server-Timing duration is a number
    const serverDbText: string | undefined = span.attributes['fetchspan.server_timing.db.duration_us'];
    const firstByte = span.events.find((event) => event.name === 'fetchspan.response.first_byte');
    const ids: string = span.traceId + span.spanId;
    const times: number = span.startTime + span.endTime + span.durationMs + (firstByte?.time ?? 0);
    const kind: 'client' = span.kind;
    const statusCode: 'unset' | 'error' = span.status;
    console.log(span.name, size, source, url, status, serverDb, serverDbText, ids, times, kind, statusCode);
  },
  idleTimeoutMs: 300_000,
  ignoreUrls: ['https://analytics.example.com', /\/health$/],
  endpoint: 'https://collector.example.com:4318',
  headers: { 'x-api-key': 'secret' },
  serviceName: 'shop-frontend',
  resource: { 'deployment.environment': 'prod', 'service.instance.number': 3, canary: false },
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
  scheduledDelayMs: 1000,
  exportTimeoutMs: 10_000,
  unloadFlush: true,
  stallThresholdMs: 2000,
  sse: true,
  propagateTo: ['https://api.example.com', /\.example\.org\//],
  sampleRate: 0.5,
  tracestate: 'vendor=value',
  redactQueryParams: ['token', 'sig'],
  captureHeaders: { request: ['x-request-id'], response: ['x-cache'] },
  captureSensitiveHeaders: false,
  requestAttributes: (request) => ({ 'app.route': new URL(request.url).pathname, 'app.get': request.method === 'GET' }),
  responseAttributes: (response) => (response.redirected ? { 'app.redirected': true, 'app.status': response.status } : undefined),
  maxAttributeLength: 1024,
};

// Lists kept as constants (`as const`, `ReadonlyArray`) are taken as they are.
const ignored = ['https://analytics.example.com', /\/health$/] as const;
const names: ReadonlyArray<string> = ['x-request-id'];
const readonlyLists: Options = { ignoreUrls: ignored, propagateTo: ignored, redactQueryParams: names,
  captureHeaders: { request: names } };

export async function main(): Promise<void> {
  const tracer: Tracer = await install(options);
  await install();
  await install(readonlyLists);
  const stats: Stats = tracer.stats();
  const counters: number[] = [stats.started, stats.ended, stats.open, stats.passthroughFailures, stats.hookFailures, stats.exported,
    stats.dropped, stats.rejected, stats.exportFailures, stats.retries, stats.queued, stats.exportInFlight,
    stats.keepaliveInFlight];
  const flushed: FlushResult = await tracer.forceFlush();
  const byDeadline: FlushResult = await tracer.forceFlush(2000);
  const timedOut: boolean = flushed.timedOut || byDeadline.timedOut;
  console.log(counters, flushed.exported + flushed.dropped, timedOut);
  await tracer.uninstall();
  await tracer.uninstall(500);

  // The script-tag global.
  window.fetchspanConfig = { onSpanEnd: (span) => console.log(span.endReason), sampleRate: 0.5 };
  // @ts-expect-error: fetchspanConfig takes the options, not a string
  window.fetchspanConfig = 'x';
  const published: ScriptTagApi | undefined = window.fetchspan;
  if (!published) return;
  const tag = published;
  const early: number = tag.earlyFetches + tag.stats().earlyFetches;
  const ready: Tracer = await tag.ready;
  const failure: Error | null = tag.error;
  console.log(early, ready.stats().open, failure?.message, tag.tracer?.stats().ended);
  await tag.forceFlush(1000);
  await tag.uninstall();

  // @ts-expect-error: idleTimeoutMs is a number of milliseconds
  await install({ idleTimeoutMs: 'soon' });
  // @ts-expect-error: unknown options are refused (install rejects them too)
  await install({ sampleRatio: 0.5 });
  // @ts-expect-error: ignoreUrls holds strings and RegExps
  await install({ ignoreUrls: [42] });
  // @ts-expect-error: resource attributes are strings, numbers or booleans
  await install({ resource: { nested: { no: true } } });
  // @ts-expect-error: stats() has no such counter
  console.log(tracer.stats().spansStarted);
  // @ts-expect-error: endReason is a closed set
  const wrong: EndReason = 'finished';
  console.log(wrong);
}
