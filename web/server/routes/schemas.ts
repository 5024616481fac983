// Small JSON Schema helpers for route bodies and query strings: closed objects only
// (an unknown field is a 400, never silently dropped).
export const str = (minLength: number, maxLength: number) => ({ type: 'string', minLength, maxLength })

export function body(required: Record<string, object>, optional: Record<string, object> = {}) {
  return { body: { type: 'object', additionalProperties: false, required: Object.keys(required), properties: { ...required, ...optional } } }
}

export function query(properties: Record<string, object>) {
  return { querystring: { type: 'object', additionalProperties: false, properties } }
}

export const intString = { type: 'string', pattern: '^(0|[1-9][0-9]{0,15})$' }
