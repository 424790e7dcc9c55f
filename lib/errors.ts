// Every error the plugin throws or the admin API answers with: one stable OBS_ERR_* code per problem,
// with its HTTP status (500 for those that only ever reach the host's code).
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
export const ConsoleReadOnlyError = createError('OBS_ERR_CONSOLE_READ_ONLY', 'read-only console access: %s is refused', 403)
export const ConsoleAccessDeniedError = createError('OBS_ERR_CONSOLE_ACCESS_DENIED', 'the operator console is not open to this request', 403)
export const RuntimeUnavailableError = createError('OBS_ERR_RUNTIME_UNAVAILABLE', '%s', 503)
export const InternalError = createError('OBS_ERR_INTERNAL', 'internal error (see the server log, request id %s)', 500)
export const InvalidCursorError = createError('OBS_ERR_INVALID_CURSOR', 'invalid cursor: %s', 400)
export const InvalidJsonError = createError('OBS_ERR_INVALID_JSON', 'the body is not valid JSON: %s', 400)
export const BadRequestError = createError('OBS_ERR_BAD_REQUEST', '%s', 400)
export const BodyTooLargeError = createError('OBS_ERR_BODY_TOO_LARGE', 'the request body is larger than %s bytes', 413)
export const UnsupportedMediaTypeError = createError('OBS_ERR_UNSUPPORTED_MEDIA_TYPE', '%s', 415)
export const InvalidTableError = createError('OBS_ERR_INVALID_TABLE', '%s', 400)
export const AlreadyAttachedError = createError('OBS_ERR_ALREADY_ATTACHED', '%s', 409)
export const RouteNotFoundError = createError('OBS_ERR_ROUTE_NOT_FOUND', 'no route %s', 404)

// register and the host's own calls
export const AlreadyRegisteredError = createError('OBS_ERR_ALREADY_REGISTERED', 'fastify-observers is already registered on this instance')
export const InvalidOptionError = createError('OBS_ERR_INVALID_OPTION', 'fastify-observers: invalid option %s')
export const MigrationFailedError = createError<'OBS_ERR_MIGRATION_FAILED', [string, string, string, { cause: unknown }]>('OBS_ERR_MIGRATION_FAILED', 'fastify-observers: migration %s failed in schema "%s": %s')
export const AdminRoutesError = createError('OBS_ERR_ADMIN_ROUTES', 'fastify-observers: the admin API cannot be registered under "%s": %s (choose another prefix, or routes: false)')
export const ActionNameTakenError = createError('OBS_ERR_ACTION_NAME_TAKEN', "custom action '%s' clashes with the built-in action of that name; choose another name")
export const ActionHandlerError = createError('OBS_ERR_ACTION_HANDLER', "custom action '%s' must be a function")
export const ConsoleNotBuiltError = createError('OBS_ERR_CONSOLE_NOT_BUILT', 'fastify-observers: the console\'s files are missing (%s): run `npm run build` in the package, or register with console: false')
export const UnknownActionTypeError = createError('OBS_ERR_UNKNOWN_ACTION_TYPE', "unknown action type '%s'")

// the standalone server, the tests and the bench: a start-up failure, told in one line with its fix
export const StartFailedError = createError('OBS_ERR_START_FAILED', '%s')
