// The faults panel: one card per service with what is injected now and a form to change it. The
// kinds and their fields come from the load generator's FAULT_KINDS, so the form, the validation and
// the services agree (faults.ts is browser-safe: at run time it imports the shared fault schema,
// TypeBox and lib's validation words, no Elysia). Apply PUTs the whole set to
// /api/faults/:service, Reset to baseline POSTs …/reset (the database simulation the service
// started with is its baseline, not a fault: a card is marked faulty only for what differs from
// it), Clear DELETEs everything; a refusal is shown in the words the API gave.

import {
  beyondBaseline,
  FAULT_KINDS,
  type FieldSpec,
  faultProblems,
  SERVICES,
  type ServiceName,
  summarizeBeyondBaseline,
  summarizeFaults,
} from '@shopstack/loadtest/faults'
import { type FaultsAnswer, getJson, sendJson } from '../api.ts'
import { h, replace } from '../h.ts'
import { serviceColour } from '../palette.ts'
import type { PageContext } from '../router.ts'
import { errorBox } from '../widgets.ts'

type Settings = Record<string, Record<string, unknown>>
type State = NonNullable<FaultsAnswer['services'][number]['state']>

export function faultsPage(context: PageContext): void {
  const { root } = context
  const errors = errorBox()
  const cards = h('div', { class: 'cards' })
  const resetAll = h('button', { type: 'button' }, 'Reset every service to its baseline')
  const clearAll = h('button', { type: 'button', class: 'danger' }, 'Clear everything, baselines too')
  replace(
    root,
    h('h1', null, 'Faults'),
    h(
      'p',
      { class: 'muted' },
      'Inject latency, errors, hangs and more into a running service, then watch them on the Overview and in traces. ',
      "A service's baseline is the simulated database delay (and the cart's write failures) it starts with: ",
      'how it is meant to behave, not a fault. Reset to baseline turns the faults off and keeps it; ',
      'Clear turns off everything, the baseline included. ',
      resetAll,
      ' ',
      clearAll,
    ),
    errors.element,
    cards,
  )
  /** A change to every service at once; the cards show the answer. */
  const everyService = (method: string, url: string, doing: string) => async () => {
    try {
      render(await sendJson<FaultsAnswer>(method, url))
      errors.clear()
    } catch (error) {
      errors.show(error, doing)
    }
  }
  resetAll.addEventListener('click', everyService('POST', '/api/faults/reset', 'reset the faults'))
  clearAll.addEventListener('click', everyService('DELETE', '/api/faults', 'clear the faults'))

  function render(answer: FaultsAnswer): void {
    const byService = new Map(answer.services.map((s) => [s.service, s]))
    replace(
      cards,
      SERVICES.map((service) => serviceCard(service, byService.get(service))),
    )
  }

  void (async () => {
    try {
      render(await getJson<FaultsAnswer>('/api/faults'))
    } catch (error) {
      errors.show(error, 'read the faults of the services')
      render({ services: [] })
    }
  })()
}

function serviceCard(service: ServiceName, entry: FaultsAnswer['services'][number] | undefined): HTMLElement {
  const message = h('div', { role: 'status', 'aria-live': 'polite' })
  const problem = errorBox()
  const summary = h('p', { class: 'summary' })
  const baseline = h('p', { class: 'muted baseline' })
  const body = h('div')
  const card = h(
    'section',
    {
      class: 'card',
      'aria-label': `${service} faults`,
      'data-service': service,
      style: { borderTopColor: serviceColour(service), borderTopWidth: '3px' },
    },
    h('h2', null, service, entry?.url ? h('small', { class: 'muted' }, ` ${entry.url}`) : null),
    summary,
    baseline,
    problem.element,
    body,
    message,
  )

  function show(state: State | undefined): void {
    const beyond = state
      ? beyondBaseline(state.faults as never, (state.baseline ?? {}) as never).length > 0
      : false
    summary.textContent = !state
      ? 'Now: unknown'
      : beyond
        ? `Faults: ${summarizeBeyondBaseline({ faults: state.faults as never, baseline: (state.baseline ?? {}) as never })}`
        : 'At its baseline: no faults'
    baseline.textContent = state ? `Baseline: ${summarizeFaults((state.baseline ?? {}) as never)}` : ''
    card.classList.toggle('faulty', beyond)
    replace(body, faultForm(service, state?.faults ?? {}, apply, reset, clear))
  }

  async function call(doing: string, work: () => Promise<State>): Promise<void> {
    message.textContent = ''
    try {
      const state = await work()
      problem.clear()
      show(state)
      message.replaceChildren(
        h('span', { class: 'saved' }, `Saved: ${summarizeFaults(state.faults as never)}.`),
      )
    } catch (error) {
      problem.show(error, `${doing} on ${service}`)
    }
  }
  const apply = (faults: Settings) =>
    call('change the faults', () => sendJson<State>('PUT', `/api/faults/${service}`, faults))
  const clear = () => call('clear the faults', () => sendJson<State>('DELETE', `/api/faults/${service}`))
  const reset = () => call('reset the faults', () => sendJson<State>('POST', `/api/faults/${service}/reset`))

  if (entry?.error) {
    const p = entry.error
    problem.show(
      new Error(`${p.title ?? 'Error'} (${p.status ?? '?'}): ${p.detail ?? 'no detail'}`),
      `read the faults`,
    )
  }
  show(entry?.state)
  return card
}

function faultForm(
  service: ServiceName,
  current: Settings,
  apply: (faults: Settings) => void,
  reset: () => void,
  clear: () => void,
): HTMLFormElement {
  const kinds = Object.entries(FAULT_KINDS).filter(
    ([, spec]) => !spec.services || spec.services.includes(service),
  )
  const readers: (() => [kind: string, settings: Record<string, unknown>] | undefined)[] = []
  const problems = h('div', { class: 'alert-error', role: 'alert', hidden: true })
  const form = h('form', {
    'aria-label': `Change ${service} faults`,
    onsubmit: (event: Event) => {
      event.preventDefault()
      const faults: Settings = {}
      for (const read of readers) {
        const entry = read()
        if (entry) faults[entry[0]] = entry[1]
      }
      const found = faultProblems(faults, service)
      if (found.length) {
        replace(
          problems,
          h('strong', null, 'Not sent: '),
          found.map((p) => `${p.path} ${p.message}`).join('; '),
        )
        problems.hidden = false
        return
      }
      problems.hidden = true
      apply(faults)
    },
  })
  for (const [kind, spec] of kinds) {
    const existing = current[kind]
    const on = h('input', {
      type: 'checkbox',
      checked: Boolean(existing),
      'aria-label': `${spec.title} on ${service}`,
    })
    const inputs = Object.entries(spec.fields).map(([name, fieldSpec]) => {
      const control = controlFor(fieldSpec, existing?.[name])
      control.id = `${service}-${kind}-${name}`
      return { name, fieldSpec, control }
    })
    const fieldset = h(
      'fieldset',
      { 'data-on': String(Boolean(existing)), 'data-kind': kind },
      h('legend', null, h('label', null, on, ` ${spec.title}`)),
      h(
        'div',
        { class: 'settings' },
        inputs.map(({ name, fieldSpec, control }) =>
          h(
            'div',
            { class: 'field' },
            h('label', { for: control.id }, name),
            control,
            h('small', null, fieldSpec.hint),
          ),
        ),
      ),
    )
    on.addEventListener('change', () => fieldset.setAttribute('data-on', String(on.checked)))
    form.appendChild(fieldset)
    readers.push(() => {
      if (!on.checked) return undefined
      const settings: Record<string, unknown> = {}
      for (const { name, fieldSpec, control } of inputs) {
        const value = readControl(fieldSpec, control)
        if (value !== undefined) settings[name] = value
      }
      return [kind, settings]
    })
  }
  const resetButton = h('button', { type: 'button' }, 'Reset to baseline')
  resetButton.addEventListener('click', reset)
  const clearButton = h('button', { type: 'button', class: 'danger' }, 'Clear')
  clearButton.addEventListener('click', clear)
  form.append(
    problems,
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, `Apply to ${service}`),
      resetButton,
      clearButton,
    ),
  )
  return form
}

function controlFor(spec: FieldSpec, value: unknown): HTMLInputElement | HTMLSelectElement {
  switch (spec.type) {
    case 'boolean':
      return h('input', { type: 'checkbox', checked: value === true })
    case 'number':
      return h('input', {
        type: 'number',
        min: spec.minimum,
        max: spec.maximum,
        step: spec.integer ? 1 : 'any',
        value: typeof value === 'number' ? value : '',
        placeholder: spec.optional ? 'optional' : '',
      })
    case 'string':
      if (spec.choices) {
        return h(
          'select',
          null,
          spec.choices.map((c) => h('option', { value: c, selected: c === value }, c)),
        )
      }
      return h('input', {
        value: typeof value === 'string' ? value : '',
        placeholder: spec.optional ? 'optional' : '',
      })
  }
}

function readControl(spec: FieldSpec, control: HTMLInputElement | HTMLSelectElement): unknown {
  if (spec.type === 'boolean') return (control as HTMLInputElement).checked
  const text = control.value.trim()
  if (text === '') return undefined
  return spec.type === 'number' ? Number(text) : text
}
