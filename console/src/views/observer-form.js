// Create or edit an observer. The API validates (its messages are shown at the field they name);
// a dry run renders the actions against a recent real event of the entity type, sending nothing.
import { useState } from 'preact/hooks'
import { api, query } from '../api.js'
import { ErrorNote, Json } from '../components.js'
import { html } from '../html.js'

const EXAMPLE_ACTIONS = JSON.stringify([{ type: 'webhook', url: 'https://example.com/hooks/orders' }], null, 2)
const FIELDS = ['name', 'description', 'entity_type', 'event_type', 'condition_expression', 'actions', 'priority', 'ordering', 'retry_config', 'timeout_ms']

/** The field an API message is about: `body/name …`, `condition_expression: …`, `actions[0].url …`. */
export function fieldOf (message) {
  const match = /^(?:body\/)?([a-z_]+)/.exec(message ?? '')
  if (match === null) return null
  return FIELDS.includes(match[1]) ? match[1] : null
}

function initial (o) {
  return {
    name: o?.name ?? '',
    description: o?.description ?? '',
    entity_type: o?.entity_type ?? '',
    event_type: o?.event_type ?? '',
    condition_expression: o?.condition_expression ?? '',
    actions: o === null ? EXAMPLE_ACTIONS : JSON.stringify(o.actions, null, 2),
    priority: String(o?.priority ?? 100),
    ordering: o?.ordering ?? 'none',
    max_attempts: String(o?.retry_config?.max_attempts ?? 3),
    timeout_ms: String(o?.timeout_ms ?? 30000)
  }
}

/** The request body; on an edit, only what changed (redacted secrets are never sent back). */
function bodyOf (values, start, isEdit) {
  const text = (v) => (v.trim() === '' ? null : v.trim())
  const body = {}
  const set = (key, value, changed) => { if (!isEdit || changed) body[key] = value }
  set('name', values.name.trim(), values.name !== start.name)
  set('description', text(values.description), values.description !== start.description)
  set('entity_type', text(values.entity_type), values.entity_type !== start.entity_type)
  set('event_type', text(values.event_type), values.event_type !== start.event_type)
  set('condition_expression', text(values.condition_expression), values.condition_expression !== start.condition_expression)
  if (!isEdit || values.actions !== start.actions) {
    try {
      body.actions = JSON.parse(values.actions)
    } catch (err) {
      throw Object.assign(new Error(`actions: not valid JSON (${err.message})`), { field: 'actions' })
    }
  }
  set('priority', Number(values.priority), values.priority !== start.priority)
  set('ordering', values.ordering, values.ordering !== start.ordering)
  if (!isEdit || values.max_attempts !== start.max_attempts) body.retry_config = { max_attempts: Number(values.max_attempts) }
  set('timeout_ms', Number(values.timeout_ms), values.timeout_ms !== start.timeout_ms)
  return body
}

function Field ({ id, label, error, help, children }) {
  return html`
    <div class="field">
      <label for=${id}>${label}</label>
      ${children}
      ${help && html`<p class="help" id=${`${id}-help`}>${help}</p>`}
      ${error && html`<p class="field-error" id=${`${id}-error`}>${error}</p>`}
    </div>`
}

function DryRun ({ observer, entityType, bodyFor }) {
  const [events, setEvents] = useState(null)
  const [chosen, setChosen] = useState('')
  const [result, setResult] = useState(null)
  const [error, setError] = useState(null)
  const findEvents = async () => {
    setError(null)
    try {
      const page = await api('GET', `/changelog/recent${query({ object_type: entityType, limit: 20 })}`)
      setEvents(page.entries)
      setChosen(page.entries[0]?.id ?? '')
    } catch (err) { setError(err) }
  }
  const run = async () => {
    setError(null)
    setResult(null)
    try {
      const definition = bodyFor()
      const request = observer !== null && Object.keys(definition).length === 0
        ? { observer_id: observer.id, change_log_id: chosen }
        : { observer: observer === null ? definition : { ...definitionOf(observer), ...definition }, change_log_id: chosen }
      setResult(await api('POST', '/test', request))
    } catch (err) { setError(err) }
  }
  return html`
    <section class="dry-run" aria-labelledby="dry-run-title">
      <h3 id="dry-run-title">Dry run</h3>
      <p class="help">Runs the form's definition against a recent real event${entityType ? ` of ${entityType}` : ''}; nothing is sent.</p>
      <button type="button" onClick=${findEvents}>Find recent events</button>
      ${events !== null && (events.length === 0
        ? html`<p>No recent event${entityType ? ` of ${entityType}` : ''}.</p>`
        : html`
          <div class="field">
            <label for="dry-run-event">Recent event</label>
            <select id="dry-run-event" value=${chosen} onChange=${(e) => setChosen(e.currentTarget.value)}>
              ${events.map((e) => html`<option value=${e.id}>#${e.id} ${e.modification_type} ${e.object_type} ${e.object_id} (${new Date(e.created_at).toLocaleString()})</option>`)}
            </select>
          </div>
          <button type="button" onClick=${run}>Run the dry run</button>`)}
      <${ErrorNote} error=${error} />
      ${result !== null && html`
        <div class="result" role="status">
          <p><strong>${result.matches ? 'Matches' : `Does not match${result.reason ? ` (${result.reason})` : ''}`}</strong>; condition: ${String(result.condition)}</p>
          <${Json} value=${result.actions} label="Rendered requests" />
        </div>`}
    </section>`
}

/** A stored observer as a create body, for a dry run of an edited form (secrets stay redacted). */
function definitionOf (o) {
  return {
    name: o.name,
    entity_type: o.entity_type,
    event_type: o.event_type,
    condition_expression: o.condition_expression,
    actions: o.actions,
    enabled: true
  }
}

export function ObserverForm ({ observer, onDone }) {
  const isEdit = observer !== null
  const [start] = useState(() => initial(observer))
  const [values, setValues] = useState(start)
  const [errors, setErrors] = useState({})
  const [general, setGeneral] = useState(null)
  const [busy, setBusy] = useState(false)
  const set = (key) => (e) => setValues({ ...values, [key]: e.currentTarget.value })

  const fail = (err) => {
    const field = err.field ?? fieldOf(err.message)
    if (field === null) { setGeneral(err); setErrors({}); return }
    setErrors({ [field === 'retry_config' ? 'max_attempts' : field]: err.message })
    setGeneral(new Error('The observer was not saved: see the message at the field.'))
    setTimeout(() => document.getElementById(`observer-${field === 'retry_config' ? 'max_attempts' : field}`)?.focus(), 0)
  }
  const save = async (e) => {
    e.preventDefault()
    setBusy(true)
    setErrors({})
    setGeneral(null)
    try {
      const body = bodyOf(values, start, isEdit)
      const saved = isEdit ? await api('PATCH', `/${observer.id}`, body) : await api('POST', '', body)
      onDone(saved)
    } catch (err) { fail(err) } finally { setBusy(false) }
  }
  const input = (key, label, props = {}) => html`
    <${Field} id=${`observer-${key}`} label=${label} error=${errors[key]} help=${props.help}>
      <input id=${`observer-${key}`} value=${values[key]} onInput=${set(key)} aria-invalid=${errors[key] ? 'true' : undefined}
        aria-describedby=${[props.help && `observer-${key}-help`, errors[key] && `observer-${key}-error`].filter(Boolean).join(' ') || undefined}
        ...${props.attrs ?? {}} />
    <//>`
  const describedBy = (key) => errors[key] ? `observer-${key}-error` : undefined
  return html`
    <form class="observer-form" onSubmit=${save} aria-labelledby="form-title" novalidate>
      <h2 id="form-title">${isEdit ? `Edit ${observer.name}` : 'New observer'}</h2>
      <${ErrorNote} error=${general} />
      <div class="grid">
        ${input('name', 'Name', { attrs: { required: true } })}
        ${input('description', 'Description')}
        ${input('entity_type', 'Entity type', { help: 'Empty: every entity type' })}
        <${Field} id="observer-event_type" label="Event type" error=${errors.event_type}>
          <select id="observer-event_type" value=${values.event_type} onChange=${set('event_type')} aria-describedby=${describedBy('event_type')}>
            <option value="">Any</option><option>INSERT</option><option>UPDATE</option><option>DELETE</option><option>CUSTOM</option><option>READ</option>
          </select>
        <//>
      </div>
      <${Field} id="observer-condition_expression" label="Condition" error=${errors.condition_expression} help="For example: total >= 100 && status == 'paid'">
        <textarea id="observer-condition_expression" rows="2" value=${values.condition_expression} onInput=${set('condition_expression')}
          aria-invalid=${errors.condition_expression ? 'true' : undefined}
          aria-describedby=${['observer-condition_expression-help', describedBy('condition_expression')].filter(Boolean).join(' ')}></textarea>
      <//>
      <${Field} id="observer-actions" label="Actions (JSON)" error=${errors.actions} help=${isEdit ? 'Secrets show as [redacted]; leave this unchanged to keep them.' : 'A list of actions: webhook, slack, email, database, log or a custom one.'}>
        <textarea id="observer-actions" rows="6" class="code" value=${values.actions} onInput=${set('actions')}
          aria-invalid=${errors.actions ? 'true' : undefined}
          aria-describedby=${['observer-actions-help', describedBy('actions')].filter(Boolean).join(' ')}></textarea>
      <//>
      <div class="grid">
        ${input('priority', 'Priority (0 runs first)', { attrs: { type: 'number', min: 0, max: 1000 } })}
        <${Field} id="observer-ordering" label="Ordering" error=${errors.ordering}>
          <select id="observer-ordering" value=${values.ordering} onChange=${set('ordering')} aria-describedby=${describedBy('ordering')}>
            <option value="none">None</option><option value="entity">Per entity, in order</option>
          </select>
        <//>
        ${input('max_attempts', 'Attempts in all', { attrs: { type: 'number', min: 1, max: 100 } })}
        ${input('timeout_ms', 'Timeout per attempt (ms)', { attrs: { type: 'number', min: 1 } })}
      </div>
      <div class="buttons">
        <button type="submit" disabled=${busy}>${isEdit ? 'Save changes' : 'Create observer'}</button>
        <button type="button" class="secondary" onClick=${() => onDone(null)}>Cancel</button>
      </div>
      <${DryRun} observer=${observer} entityType=${values.entity_type.trim()} bodyFor=${() => bodyOf(values, start, isEdit)} />
    </form>`
}
