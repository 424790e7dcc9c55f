// Small shared hooks: polling without overlap, and confirmations in a modal <dialog>.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { html } from './html.js'

/**
 * Runs `load` now and again `ms` after each run ends (never two at once) while mounted and not
 * paused; `deps` restart it. Returns { data, error, reload }.
 */
export function usePoll (load, ms, deps = [], paused = false) {
  const [state, setState] = useState({ data: undefined, error: null })
  const run = useRef(0)
  const reload = useCallback(async () => {
    const mine = run.current
    try {
      const data = await load()
      if (mine === run.current) setState({ data, error: null })
    } catch (error) {
      if (mine === run.current) setState((s) => ({ data: s.data, error }))
    }
  }, deps)
  useEffect(() => {
    const mine = ++run.current
    let timer
    const tick = async () => {
      await reload()
      if (mine === run.current && ms > 0 && !paused) timer = setTimeout(tick, ms)
    }
    tick()
    return () => { run.current++; clearTimeout(timer) }
  }, [reload, ms, paused])
  return { ...state, reload }
}

/** A confirmation dialog: `ask(message, confirmLabel)` resolves true when confirmed. */
export function useConfirm () {
  const dialog = useRef(null)
  const [question, setQuestion] = useState(null)
  const ask = useCallback((message, confirmLabel) => new Promise((resolve) => {
    setQuestion({ message, confirmLabel, resolve })
  }), [])
  useEffect(() => { if (question !== null && dialog.current?.open === false) dialog.current.showModal() }, [question])
  const answer = (value) => {
    dialog.current?.close()
    question?.resolve(value)
    setQuestion(null)
  }
  const element = html`
    <dialog ref=${dialog} aria-labelledby="confirm-message" onCancel=${(e) => { e.preventDefault(); answer(false) }}>
      <p id="confirm-message">${question?.message}</p>
      <div class="buttons">
        <button type="button" class="danger" onClick=${() => answer(true)}>${question?.confirmLabel ?? 'Confirm'}</button>
        <button type="button" class="secondary" onClick=${() => answer(false)} autofocus>Cancel</button>
      </div>
    </dialog>`
  return [element, ask]
}
