// Every error the admin API answers with: one stable OBS_ERR_* code per problem, with its status.
import createError from '@fastify/error'

export const NotFoundError = createError('OBS_ERR_NOT_FOUND', '%s not found', 404)
export const InvalidIdError = createError('OBS_ERR_INVALID_ID', 'invalid id: %s', 400)
export const ValidationError = createError('OBS_ERR_VALIDATION', '%s', 400)
export const InvalidConditionError = createError('OBS_ERR_INVALID_CONDITION', 'condition_expression: %s', 400)
export const InvalidActionError = createError('OBS_ERR_INVALID_ACTION', '%s', 400)
export const NameTakenError = createError('OBS_ERR_NAME_TAKEN', "an observer named '%s' already exists", 409)
export const ConflictError = createError('OBS_ERR_CONFLICT', '%s', 409)
export const UnauthorizedError = createError('OBS_ERR_UNAUTHORIZED', 'missing or invalid bearer token', 401)
export const ForbiddenError = createError('OBS_ERR_FORBIDDEN', '%s', 403)
export const RuntimeUnavailableError = createError('OBS_ERR_RUNTIME_UNAVAILABLE', '%s', 503)
export const InternalError = createError('OBS_ERR_INTERNAL', 'internal error (see the server log, request id %s)', 500)
