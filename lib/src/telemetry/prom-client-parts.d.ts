// Types for the four prom-client modules metrics.ts loads one by one (metrics.ts says why): each
// module's export is the class the package index re-exports, with that class's types.

declare module 'prom-client/lib/registry' {
  import { Registry } from 'prom-client'
  export = Registry
}
declare module 'prom-client/lib/counter' {
  import { Counter } from 'prom-client'
  export = Counter
}
declare module 'prom-client/lib/gauge' {
  import { Gauge } from 'prom-client'
  export = Gauge
}
declare module 'prom-client/lib/histogram' {
  import { Histogram } from 'prom-client'
  export = Histogram
}
