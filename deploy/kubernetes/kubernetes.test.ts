// The Kubernetes manifests, proved without a cluster: every overlay rendered by the real renderer
// (`kubectl kustomize`, Debian's kubernetes-client), every rendered object validated against the
// Kubernetes API schema (kubernetes-models), and each policy a platform engineer expects checked on
// every pod of every overlay. Rendering happens in a temporary copy of deploy/kubernetes and
// observability/, with an admin token file made for the test (a real one is never committed).

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2'
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1'
import { parse, parseAllDocuments } from 'yaml'
import type { ServiceName } from '../../contracts/src/services.ts'
import { hasPromtool, PROMTOOL_BIN } from '../../e2e/prometheus.ts'
import { loadConfig } from '../../lib/src/config.ts'
import { compose, memoryBytes, ROOT } from '../../observability/stack.ts'

const OVERLAYS = ['dev', 'scale', 'observability'] as const
type Overlay = (typeof OVERLAYS)[number]
const SHOP: ServiceName[] = ['gateway', 'catalog', 'cart']
/** The highest RSS a service reached under a saturating load, every span exported (bench/README.md). */
const MEASURED_PEAK_RSS_MB = 92
const KUBECTL = Bun.env.KUBECTL_BIN ?? Bun.which('kubectl')

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are untyped YAML, read field by field
type K8sObject = Record<string, any>

/** The schema of every kind the manifests use; a kind not listed here fails the validation test. */
// Each model takes its own kind's typed shape; the rendered YAML is handed over as it is (`never`).
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Secret': Secret,
  'v1/Service': Service,
}

function requireKubectl(): string {
  if (!KUBECTL) {
    throw new Error('kubectl is not installed (Debian: apt-get install kubernetes-client; .ci/run does)')
  }
  return KUBECTL
}

/** `kubectl kustomize dir`: the rendered objects, or the renderer's error as a thrown Error. */
function kustomize(dir: string): K8sObject[] {
  const run = Bun.spawnSync([requireKubectl(), 'kustomize', dir], { timeout: 30_000, stderr: 'pipe' })
  if (run.exitCode !== 0) throw new Error(`kubectl kustomize ${dir}: ${run.stderr.toString().trim()}`)
  return parseAllDocuments(run.stdout.toString())
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null)
}

/** A copy of what kustomize reads: deploy/kubernetes and observability/, at the same places. */
function copyTree(withToken: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'shopstack-k8s-'))
  cpSync(join(ROOT, 'deploy/kubernetes'), join(dir, 'deploy/kubernetes'), { recursive: true })
  cpSync(join(ROOT, 'observability'), join(dir, 'observability'), { recursive: true })
  const tokenFile = join(dir, 'deploy/kubernetes/base/admin-token.env')
  rmSync(tokenFile, { force: true })
  if (withToken) writeFileSync(tokenFile, 'ADMIN_TOKEN=test-token-not-a-secret\n')
  return dir
}

let tree = ''
const rendered = new Map<Overlay, K8sObject[]>()
beforeAll(() => {
  if (!KUBECTL) return
  tree = copyTree(true)
  for (const overlay of OVERLAYS) {
    try {
      rendered.set(overlay, kustomize(join(tree, 'deploy/kubernetes/overlays', overlay)))
    } catch {
      // Left unset: the overlay's render test reports the error.
    }
  }
})
afterAll(() => {
  if (tree) rmSync(tree, { recursive: true, force: true })
})

function objects(overlay: Overlay): K8sObject[] {
  requireKubectl()
  const list = rendered.get(overlay)
  if (!list) throw new Error(`overlay ${overlay} did not render (see its render test)`)
  return list
}

const ofKind = (list: K8sObject[], kind: string) => list.filter((o) => o.kind === kind)
const named = (list: K8sObject[], kind: string, name: string) =>
  list.find((o) => o.kind === kind && o.metadata.name === name)
const workloads = (list: K8sObject[]) =>
  list.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
const shopWorkloads = (list: K8sObject[]) => workloads(list).filter((o) => SHOP.includes(o.metadata.name))
const containersOf = (workload: K8sObject): K8sObject[] => [
  ...(workload.spec.template.spec.initContainers ?? []),
  ...workload.spec.template.spec.containers,
]
const envOf = (container: K8sObject, name: string): K8sObject | undefined =>
  (container.env ?? []).find((e: K8sObject) => e.name === name)
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> = {}) =>
  Object.entries(selector ?? {}).every(([key, value]) => labels[key] === value)

/** Whether an Ingress path routes `request` (Prefix matches whole path elements, as the API says). */
function ingressRoutes(pathType: string, path: string, request: string): boolean {
  if (pathType === 'Exact') return request === path
  const prefix = path.replace(/\/$/, '')
  return prefix === '' || request === prefix || request.startsWith(`${prefix}/`)
}

/** A Kubernetes quantity (100m, 96Mi, 1, 1Gi) as a number of cores or bytes. */
function quantity(value: string | number): number {
  const match = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|k|M|G)?$/.exec(String(value))
  if (!match) throw new Error(`not a quantity: ${value}`)
  const scale = { m: 1e-3, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1e3, M: 1e6, G: 1e9 }
  return Number(match[1]) * (match[2] ? scale[match[2] as keyof typeof scale] : 1)
}

describe.each(OVERLAYS)('overlay %s', (overlay) => {
  test('renders with kubectl kustomize, and every object validates against the Kubernetes API schema', () => {
    requireKubectl()
    const list = kustomize(join(tree, 'deploy/kubernetes/overlays', overlay))
    expect(list.length).toBeGreaterThan(0)
    for (const object of list) {
      const where = `${object.kind}/${object.metadata?.name}`
      const Model = MODELS[`${object.apiVersion}/${object.kind}`]
      expect(Model, `${where}: no schema known for ${object.apiVersion} ${object.kind}`).toBeDefined()
      // validate() throws with every schema violation and its path.
      expect(() => new (Model as NonNullable<typeof Model>)(object as never).validate(), where).not.toThrow()
      if (object.kind !== 'Namespace') expect(object.metadata.namespace, where).toBe('shopstack')
    }
  })

  test('every reference resolves: Secrets, ConfigMaps, claims, Service selectors and ports', () => {
    const list = objects(overlay)
    for (const workload of workloads(list)) {
      const spec = workload.spec.template.spec
      const where = `${workload.kind}/${workload.metadata.name}`
      expect(selects(workload.spec.selector.matchLabels, workload.spec.template.metadata.labels), where).toBe(
        true,
      )
      for (const volume of spec.volumes ?? []) {
        if (volume.configMap) expect(named(list, 'ConfigMap', volume.configMap.name), where).toBeDefined()
        if (volume.persistentVolumeClaim) {
          expect(
            named(list, 'PersistentVolumeClaim', volume.persistentVolumeClaim.claimName),
            where,
          ).toBeDefined()
        }
      }
      for (const container of containersOf(workload)) {
        for (const env of container.env ?? []) {
          const ref = env.valueFrom?.secretKeyRef
          if (!ref) continue
          const secret = named(list, 'Secret', ref.name)
          expect(secret, `${where}: Secret ${ref.name}`).toBeDefined()
          expect(Object.keys(secret?.data ?? {}), `${where}: Secret ${ref.name}`).toContain(ref.key)
        }
        const mounts = (container.volumeMounts ?? []).map((m: K8sObject) => m.name)
        const volumes = [
          ...(spec.volumes ?? []),
          ...(workload.spec.volumeClaimTemplates ?? []).map((t: K8sObject) => t.metadata),
        ]
        for (const mount of mounts)
          expect(
            volumes.map((v: K8sObject) => v.name),
            where,
          ).toContain(mount)
      }
    }
    for (const service of ofKind(list, 'Service')) {
      const pods = workloads(list).filter((w) =>
        selects(service.spec.selector, w.spec.template.metadata.labels),
      )
      expect(pods.length, `Service ${service.metadata.name} selects no pods`).toBeGreaterThan(0)
      const portNames = pods.flatMap((w) =>
        containersOf(w).flatMap((c) => (c.ports ?? []).map((p: K8sObject) => p.name)),
      )
      for (const port of service.spec.ports)
        expect(portNames, `Service ${service.metadata.name}`).toContain(port.targetPort)
    }
  })

  test('probes: liveness on /livez, readiness on /readyz, a startup probe, each on a declared port', () => {
    for (const workload of shopWorkloads(objects(overlay))) {
      const [container] = containersOf(workload) as [K8sObject]
      const ports = container.ports.map((p: K8sObject) => p.name)
      expect(container.livenessProbe?.httpGet?.path, workload.metadata.name).toBe('/livez')
      expect(container.readinessProbe?.httpGet?.path, workload.metadata.name).toBe('/readyz')
      expect(container.startupProbe?.httpGet?.path, workload.metadata.name).toBe('/livez')
      for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
        expect(ports, workload.metadata.name).toContain(probe.httpGet.port)
      }
    }
  })

  test('the termination grace covers the preStop pause, the drain grace and the whole drain', () => {
    for (const workload of shopWorkloads(objects(overlay))) {
      const name = workload.metadata.name as ServiceName
      const [container] = containersOf(workload) as [K8sObject]
      // The drain time the service itself would use, read by its own config parser from its env.
      const env = Object.fromEntries((container.env ?? []).map((e: K8sObject) => [e.name, e.value]))
      const { drainGraceMs, drainTimeoutMs } = loadConfig(name, env)
      const preStopMs = (container.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000
      expect(preStopMs, `${name}: a preStop pause lets endpoints and DNS drop the pod first`).toBeGreaterThan(
        0,
      )
      const graceMs = (workload.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000
      // SIGTERM comes after preStop; the service then serves for DRAIN_GRACE_MS before its drain.
      expect(graceMs, `${name}: preStop + DRAIN_GRACE_MS + DRAIN_TIMEOUT_MS`).toBeGreaterThan(
        preStopMs + drainGraceMs + drainTimeoutMs,
      )
    }
  })

  test('the gateway and the cart find every pod of their upstreams through the headless Services', () => {
    const list = objects(overlay)
    const callers: Array<[ServiceName, ServiceName[]]> = [
      ['gateway', ['catalog', 'cart']],
      ['cart', ['catalog']],
    ]
    for (const [caller, upstreams] of callers) {
      const workload = named(list, 'Deployment', caller) ?? named(list, 'StatefulSet', caller)
      const [container] = containersOf(workload as K8sObject) as [K8sObject]
      // Read by the service's own config parser, as in the pod.
      const env = Object.fromEntries((container.env ?? []).map((e: K8sObject) => [e.name, e.value]))
      const config = loadConfig(caller, env)
      for (const upstream of upstreams) {
        const where = `${caller} -> ${upstream}`
        const discovery = upstream === 'catalog' ? config.catalogDiscovery : config.cartDiscovery
        expect(discovery, `${where}: a dns+http:// URL naming the headless Service`).toBeDefined()
        const service = named(list, 'Service', discovery?.name ?? '')
        expect(service?.spec.clusterIP, `${where}: ${discovery?.name} is headless`).toBe('None')
        const target = workloads(list).find((w) => w.metadata.name === upstream) as K8sObject
        expect(selects(service?.spec.selector, target.spec.template.metadata.labels), where).toBe(true)
        // A headless Service does no port mapping: the pods' own port is the one dialled.
        const ports = containersOf(target).flatMap((c) =>
          (c.ports ?? []).map((p: K8sObject) => p.containerPort),
        )
        expect(ports, where).toContain(discovery?.port)
      }
    }
  })

  test('requests and limits on every container, from the measured figures', () => {
    const stack = compose()
    for (const workload of workloads(objects(overlay))) {
      for (const container of containersOf(workload)) {
        const where = `${workload.metadata.name}/${container.name}`
        const { requests = {}, limits = {} } = container.resources ?? {}
        for (const resource of ['cpu', 'memory']) {
          expect(requests[resource], `${where}: ${resource} request`).toBeDefined()
          expect(limits[resource], `${where}: ${resource} limit`).toBeDefined()
          expect(quantity(requests[resource]), where).toBeLessThanOrEqual(quantity(limits[resource]))
        }
        // The memory limit is the one the Compose stack runs the same container with.
        const composeLimit = stack.services[container.name]?.deploy?.resources?.limits?.memory
        expect(composeLimit, `${where}: no Compose service of that name`).toBeDefined()
        expect(quantity(limits.memory), where).toBe(memoryBytes(String(composeLimit)))
        if (SHOP.includes(container.name)) {
          expect(quantity(requests.memory), where).toBeGreaterThanOrEqual(MEASURED_PEAK_RSS_MB * 1e6)
        }
      }
    }
  })

  test('non-root, read-only root filesystem, no privilege escalation, every capability dropped', () => {
    // The namespace makes the API server refuse any pod that breaks the restricted standard.
    const namespace = named(objects(overlay), 'Namespace', 'shopstack')
    expect(namespace?.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted')
    for (const workload of workloads(objects(overlay))) {
      const pod = workload.spec.template.spec
      for (const container of containersOf(workload)) {
        const where = `${workload.metadata.name}/${container.name}`
        const security = { ...pod.securityContext, ...container.securityContext }
        expect(security.runAsNonRoot, where).toBe(true)
        expect(security.runAsUser, where).toBeGreaterThan(0)
        expect(security.seccompProfile?.type, where).toBe('RuntimeDefault')
        expect(container.securityContext?.readOnlyRootFilesystem, where).toBe(true)
        expect(container.securityContext?.allowPrivilegeEscalation, where).toBe(false)
        expect(container.securityContext?.privileged ?? false, where).toBe(false)
        expect(container.securityContext?.capabilities?.drop, where).toContain('ALL')
        expect(container.securityContext?.capabilities?.add ?? [], where).toEqual([])
      }
    }
  })

  test('images pinned by version, never latest, the same as the Compose stack runs', () => {
    const stack = compose()
    for (const workload of workloads(objects(overlay))) {
      for (const container of containersOf(workload)) {
        const where = `${workload.metadata.name}/${container.name}`
        const tag = /^[^@]+:([^:/@]+)$/.exec(container.image)?.[1]
        expect(tag, `${where}: ${container.image} has no tag`).toBeDefined()
        expect(tag, where).not.toBe('latest')
        expect(container.imagePullPolicy ?? 'IfNotPresent', where).not.toBe('Always')
        expect(container.image, where).toBe(stack.services[container.name]?.image)
      }
    }
  })

  test('ADMIN_TOKEN comes from a Secret, never a literal', () => {
    for (const workload of shopWorkloads(objects(overlay))) {
      const [container] = containersOf(workload) as [K8sObject]
      const token = envOf(container, 'ADMIN_TOKEN')
      expect(token, workload.metadata.name).toBeDefined()
      expect(token?.value, workload.metadata.name).toBeUndefined()
      expect(token?.valueFrom?.secretKeyRef?.key, workload.metadata.name).toBe('ADMIN_TOKEN')
    }
  })

  test('only the gateway is reachable from outside the namespace; everything else is denied by default', () => {
    const list = objects(overlay)
    const policies = ofKind(list, 'NetworkPolicy')
    const denyAll = policies.find(
      (p) =>
        Object.keys(p.spec.podSelector).length === 0 &&
        p.spec.policyTypes.includes('Ingress') &&
        !p.spec.ingress,
    )
    expect(denyAll, 'a default-deny ingress policy for every pod').toBeDefined()
    for (const policy of policies) {
      for (const rule of policy.spec.ingress ?? []) {
        // Open beyond the namespace's own pods: no `from`, or a namespace or address block.
        const open = !rule.from || rule.from.some((peer: K8sObject) => peer.ipBlock || peer.namespaceSelector)
        if (!open) continue
        const selected = workloads(list).filter((w) =>
          selects(policy.spec.podSelector.matchLabels, w.spec.template.metadata.labels),
        )
        expect(
          selected.map((w) => w.metadata.name),
          `${policy.metadata.name} lets outside traffic in`,
        ).toEqual(['gateway'])
        expect(
          Object.keys(policy.spec.podSelector.matchLabels ?? {}).length,
          policy.metadata.name,
        ).toBeGreaterThan(0)
      }
    }
  })

  test('the Ingress routes only public paths to the gateway: never /admin, /metrics or a catch-all', () => {
    const ingresses = ofKind(objects(overlay), 'Ingress')
    expect(ingresses.length).toBeGreaterThan(0)
    for (const ingress of ingresses) {
      expect(ingress.spec.defaultBackend, ingress.metadata.name).toBeUndefined()
      for (const rule of ingress.spec.rules) {
        for (const path of rule.http.paths) {
          const where = `${ingress.metadata.name} ${path.pathType} ${path.path}`
          expect(path.backend.service.name, where).toBe('gateway')
          expect(['Exact', 'Prefix'], where).toContain(path.pathType)
          // A Prefix path matches what lies beneath it: "/" would route /admin.
          if (path.pathType === 'Prefix') expect(path.path, where).not.toBe('/')
          for (const hidden of ['/admin/faults', '/metrics', '/livez', '/readyz', '/healthz']) {
            expect(ingressRoutes(path.pathType, path.path, hidden), `${where} routes ${hidden}`).toBe(false)
          }
          expect(path.path.startsWith('/admin'), where).toBe(false)
        }
      }
    }
  })

  test('every service pod announces its metrics port for scraping', () => {
    for (const workload of shopWorkloads(objects(overlay))) {
      const annotations = workload.spec.template.metadata.annotations ?? {}
      const [container] = containersOf(workload) as [K8sObject]
      expect(annotations['prometheus.io/scrape'], workload.metadata.name).toBe('true')
      expect(annotations['prometheus.io/path'], workload.metadata.name).toBe('/metrics')
      expect(Number(annotations['prometheus.io/port']), workload.metadata.name).toBe(
        container.ports[0].containerPort,
      )
    }
  })
})

describe('per overlay', () => {
  test('dev: one replica each, and the cart on SQLite in a claim, replaced rather than overlapped', () => {
    const list = objects('dev')
    for (const workload of shopWorkloads(list)) expect(workload.spec.replicas, workload.metadata.name).toBe(1)
    const cart = named(list, 'Deployment', 'cart') as K8sObject
    const [container] = containersOf(cart) as [K8sObject]
    expect(envOf(container, 'CART_STORE_URL')).toBeUndefined()
    const path = envOf(container, 'DATABASE_PATH')?.value as string
    const mount = container.volumeMounts.find((m: K8sObject) => path.startsWith(`${m.mountPath}/`))
    const volume = cart.spec.template.spec.volumes.find((v: K8sObject) => v.name === mount?.name)
    expect(volume?.persistentVolumeClaim?.claimName).toBe('cart-data')
    expect(cart.spec.strategy?.type).toBe('Recreate')
  })

  test('scale: gateway and catalog autoscaled, three carts on Redis, a disruption budget each', () => {
    const list = objects('scale')
    for (const name of ['gateway', 'catalog']) {
      const hpa = named(list, 'HorizontalPodAutoscaler', name)
      expect(hpa?.spec.scaleTargetRef, name).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name })
      expect(hpa?.spec.minReplicas, name).toBeGreaterThanOrEqual(2)
      // The autoscaler owns the count: a count in the manifest would reset it on every apply.
      expect(named(list, 'Deployment', name)?.spec.replicas, name).toBeUndefined()
    }
    const cart = named(list, 'Deployment', 'cart') as K8sObject
    expect(cart.spec.replicas).toBe(3)
    const store = envOf(containersOf(cart)[0] as K8sObject, 'CART_STORE_URL')?.value as string
    const [, host, port] = /^redis:\/\/([a-z0-9-]+):(\d+)$/.exec(store) ?? []
    expect(named(list, 'Service', host as string)?.spec.ports.map((p: K8sObject) => p.port)).toContain(
      Number(port),
    )
    for (const workload of shopWorkloads(list)) {
      const budgets = ofKind(list, 'PodDisruptionBudget').filter((b) =>
        selects(b.spec.selector.matchLabels, workload.spec.template.metadata.labels),
      )
      expect(budgets.length, workload.metadata.name).toBe(1)
    }
  })

  test('observability: the ConfigMaps hold the observability/ files byte for byte', () => {
    const list = objects('observability')
    const files: Record<string, string> = {
      'otel-collector/config.yaml': 'config.yaml',
      'prometheus/rules/shopstack.yml': 'shopstack.yml',
      'loki/loki.yaml': 'loki.yaml',
      'tempo/tempo.yaml': 'tempo.yaml',
      'grafana/provisioning/datasources/datasources.yaml': 'datasources.yaml',
      'grafana/provisioning/dashboards/dashboards.yaml': 'dashboards.yaml',
      'grafana/dashboards/shopstack-overview.json': 'shopstack-overview.json',
      'grafana/dashboards/shopstack-service.json': 'shopstack-service.json',
    }
    const data = Object.assign({}, ...ofKind(list, 'ConfigMap').map((c) => c.data)) as Record<string, string>
    for (const [file, key] of Object.entries(files)) {
      expect(data[key], file).toBe(readFileSync(join(ROOT, 'observability', file), 'utf8'))
    }
    // The services send spans to the collector's OTLP/HTTP port.
    const collectorPorts = named(list, 'Service', 'otel-collector')?.spec.ports.map((p: K8sObject) => p.port)
    for (const workload of shopWorkloads(list)) {
      const endpoint = envOf(containersOf(workload)[0] as K8sObject, 'OTLP_ENDPOINT')?.value
      expect(endpoint, workload.metadata.name).toBe('http://otel-collector:4318')
      expect(collectorPorts).toContain(4318)
    }
  })

  test('observability: every address in the observability config files is a Service and port here', () => {
    const list = objects('observability')
    const configMapFile = (key: string) =>
      parse(ofKind(list, 'ConfigMap').find((c) => c.data?.[key])?.data[key])
    const collector = configMapFile('config.yaml')
    const addresses = [
      ...Object.values(collector.exporters as Record<string, K8sObject>).map((e) => e.endpoint as string),
      ...configMapFile('datasources.yaml').datasources.map((d: K8sObject) => d.url as string),
      'http://otel-collector:4318',
      ...configMapFile('prometheus.yml').scrape_configs.flatMap((j: K8sObject) =>
        (j.static_configs ?? []).flatMap((c: K8sObject) => c.targets),
      ),
    ]
    expect(addresses.length).toBeGreaterThan(5)
    for (const address of addresses) {
      const [, host, port] = /^(?:[a-z]+:\/\/)?([a-z0-9-]+):(\d+)(?:\/|$)/.exec(address) ?? []
      const service = named(list, 'Service', host as string)
      expect(service, `${address}: no Service ${host}`).toBeDefined()
      expect(
        service?.spec.ports.map((p: K8sObject) => p.port),
        address,
      ).toContain(Number(port))
    }
  })

  test('observability: Prometheus finds every pod of every service through its headless Service', () => {
    const list = objects('observability')
    const config = parse(
      Object.values(ofKind(list, 'ConfigMap').find((c) => c.data['prometheus.yml'])?.data ?? {})[0] as string,
    )
    const job = config.scrape_configs.find((j: K8sObject) => j.job_name === 'shopstack')
    const targets = new Map<string, number>(
      job.dns_sd_configs.flatMap((sd: K8sObject) => sd.names.map((n: string) => [n, sd.port])),
    )
    for (const workload of shopWorkloads(list)) {
      const name = workload.metadata.name
      const headless = ofKind(list, 'Service').find(
        (s) =>
          s.spec.clusterIP === 'None' && selects(s.spec.selector, workload.spec.template.metadata.labels),
      )
      expect(headless, `${name}: a headless Service naming every pod`).toBeDefined()
      const port = (containersOf(workload)[0] as K8sObject).ports[0].containerPort
      expect(targets.get(headless?.metadata.name), name).toBe(port)
      expect(headless?.spec.ports[0].port, name).toBe(port)
    }
    // The relabelling gives each target its service's name, as the rules and dashboards expect.
    const relabel = job.relabel_configs.find((r: K8sObject) => r.target_label === 'service')
    expect(
      'catalog-pods.shopstack.svc.cluster.local.'.replace(
        new RegExp(`^${relabel.regex}$`),
        relabel.replacement,
      ),
    ).toBe('catalog')
    // The rules the overlay mounts are the ones prometheus.yml loads.
    const prometheus = named(list, 'Deployment', 'prometheus') as K8sObject
    const mounts = (containersOf(prometheus)[0] as K8sObject).volumeMounts.map((m: K8sObject) => m.mountPath)
    expect(config.rule_files).toEqual(['rules/*.yml'])
    expect(mounts).toContain('/etc/prometheus/rules')
  })
})

// Skipped without promtool (Debian's prometheus package), like the other Prometheus suites; CI
// installs it and fails on any skip.
test.skipIf(!hasPromtool)(
  'observability: promtool accepts the Kubernetes prometheus.yml with the rules it mounts',
  () => {
    const list = objects('observability')
    const dir = mkdtempSync(join(tmpdir(), 'shopstack-prometheus-'))
    try {
      const file = (key: string) => ofKind(list, 'ConfigMap').find((c) => c.data?.[key])?.data[key] as string
      mkdirSync(join(dir, 'rules'))
      writeFileSync(join(dir, 'prometheus.yml'), file('prometheus.yml'))
      writeFileSync(join(dir, 'rules/shopstack.yml'), file('shopstack.yml'))
      const run = Bun.spawnSync([PROMTOOL_BIN, 'check', 'config', join(dir, 'prometheus.yml')], {
        timeout: 30_000,
        stderr: 'pipe',
      })
      expect(run.exitCode, run.stdout.toString() + run.stderr.toString()).toBe(0)
      expect(run.stdout.toString()).toMatch(/SUCCESS: [1-9][0-9]* rules found/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
)

describe('the admin token', () => {
  test('is never committed: the build stops, naming the file, until it is created', () => {
    const dir = copyTree(false)
    try {
      expect(() => kustomize(join(dir, 'deploy/kubernetes/overlays/dev'))).toThrow(/admin-token\.env/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    const tracked = Bun.spawnSync(['git', 'ls-files', 'deploy/kubernetes'], { cwd: ROOT }).stdout.toString()
    expect(tracked).not.toContain('admin-token.env')
    for (const file of tracked.split('\n').filter((f) => /\.ya?ml$/.test(f))) {
      const kinds = parseAllDocuments(readFileSync(join(ROOT, file), 'utf8')).map((d) => d.toJS()?.kind)
      expect(kinds, file).not.toContain('Secret')
    }
  })
})
