// Okabe & Ito's colour-blind-safe palette (https://jfly.uni-koeln.de/color/), tuned for a dark
// background; each service keeps one colour on every page (map, charts, waterfall, logs).

export const OKABE_ITO = {
  orange: '#E69F00',
  skyBlue: '#56B4E9',
  bluishGreen: '#009E73',
  yellow: '#F0E442',
  blue: '#0072B2',
  vermillion: '#D55E00',
  reddishPurple: '#CC79A7',
  grey: '#BBBBBB',
} as const

const SERVICE_COLOURS: Record<string, string> = {
  gateway: OKABE_ITO.skyBlue,
  catalog: OKABE_ITO.bluishGreen,
  cart: OKABE_ITO.orange,
}
const SPARE = [OKABE_ITO.reddishPurple, OKABE_ITO.yellow, OKABE_ITO.blue, OKABE_ITO.grey]

/** Spans, logs and scrape targets name a service shopstack-catalog; the faults API says catalog. */
export function serviceColour(service: string): string {
  const known = SERVICE_COLOURS[service.replace(/^shopstack-/, '')]
  if (known) return known
  let hash = 0
  for (const c of service) hash = (hash * 31 + c.charCodeAt(0)) >>> 0
  return SPARE[hash % SPARE.length] ?? OKABE_ITO.grey
}

/** Errors and faults: vermillion, the palette's red. */
export const ERROR_COLOUR = OKABE_ITO.vermillion
