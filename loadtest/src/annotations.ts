// When faults were on during a run: one annotation per fault change a scenario or the web UI's
// Faults panel made, timed in seconds since the run started (the clock of the time series), so
// the charts can shade the interval and the reports can list it.

import { type FaultSettings, type ServiceName, summarizeFaults } from './faults.ts'

export interface FaultAnnotation {
  /** 1, 2, 3...: the number the charts print on the band. */
  id: number
  service: ServiceName
  source: 'scenario' | 'panel'
  /** The faults this change turned on, as a line ("error 100% 503 on /catalog/:id"). */
  label: string
  faults: FaultSettings
  /** The scenario step's note: what to look at. */
  note?: string
  start_s: number
  /** Absent while the fault is still on. */
  end_s?: number
  /** The service refused the change (or did not answer): the fault was never on. */
  error?: string
}

export interface AnnotationStart {
  service: ServiceName
  source: FaultAnnotation['source']
  faults: FaultSettings
  note?: string
  /** The line to print instead of the faults' summary. */
  label?: string
}

export type AnnotationLog = ReturnType<typeof createAnnotationLog>

export function createAnnotationLog(elapsedSeconds: () => number) {
  const entries: FaultAnnotation[] = []
  const at = () => Math.round(elapsedSeconds() * 1000) / 1000

  return {
    begin(start: AnnotationStart): FaultAnnotation {
      const annotation: FaultAnnotation = {
        id: entries.length + 1,
        service: start.service,
        source: start.source,
        label: start.label ?? summarizeFaults(start.faults),
        faults: structuredClone(start.faults),
        ...(start.note ? { note: start.note } : {}),
        start_s: at(),
      }
      entries.push(annotation)
      return annotation
    },

    end(annotation: FaultAnnotation): void {
      annotation.end_s ??= at()
    },

    fail(annotation: FaultAnnotation, message: string): void {
      annotation.error = message
      annotation.end_s ??= annotation.start_s
    },

    /** The annotations still open (fault on). */
    open(): FaultAnnotation[] {
      return entries.filter((a) => a.end_s === undefined)
    },

    /** A copy: reports taken during the run must not change under the caller. */
    list(): FaultAnnotation[] {
      return entries.map((a) => ({ ...a }))
    },
  }
}
