/** A condition that cannot be parsed; `position` is the 0-based character offset of the fault. */
export class ConditionError extends Error {
  readonly position: number

  constructor (message: string, position: number) {
    super(message)
    this.name = 'ConditionError'
    this.position = position
  }

  /** The usual shape: `<detail> at position <n>`. */
  static at (detail: string, position: number): ConditionError {
    return new ConditionError(`${detail} at position ${position}`, position)
  }
}
