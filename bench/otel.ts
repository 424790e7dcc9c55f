// `--otel`: the backlog again with an OpenTelemetry SDK registered in the runtime's process, its
// spans batched to an exporter that drops them. What the spans cost is the difference with the
// plain backlog of the same run (bench/README.md).
import { trace } from '@opentelemetry/api'
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base'

export interface OtelSdk {
  /** spans the exporter was handed */
  exported: () => number
  stop: () => Promise<void>
}

/** Registers the SDK globally until `stop`. */
export function registerOtelSdk (): OtelSdk {
  let exported = 0
  const exporter: SpanExporter = {
    export (spans: ReadableSpan[], done) {
      exported += spans.length
      done({ code: 0 }) // ExportResultCode.SUCCESS
    },
    shutdown: async () => {}
  }
  // a queue large enough that no span is dropped at the backlog's rate (two spans per delivery)
  const provider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 65_536, maxExportBatchSize: 4096, scheduledDelayMillis: 500 })]
  })
  trace.setGlobalTracerProvider(provider)
  return {
    exported: () => exported,
    stop: async () => {
      await provider.forceFlush()
      trace.disable()
      await provider.shutdown()
    }
  }
}
