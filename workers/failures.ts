import { ApplicationFailure } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptors, Next } from '@temporalio/worker';
import { InputError, ServiceError } from '../engine/errors.ts';

/**
 * Failures keep their class across Temporal as an ApplicationFailure type. Bad input fails the same
 * way on every attempt: non-retryable `InputError` (or `BundleError`, its kind for bundles). A service failure becomes `ServiceError` with
 * details [service, failure, endpoint]; an unreachable service may come back, so it keeps the
 * activity's retry policy, a refused credential or a missing bucket does not. Everything else is left as it is.
 */
class ClassifiedFailures implements ActivityInboundCallsInterceptor {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    try {
      return await next(input);
    } catch (err) {
      if (err instanceof InputError) {
        throw ApplicationFailure.create({ type: err.name, message: err.message, nonRetryable: true, details: [err.input] });
      }
      if (err instanceof ServiceError) {
        throw ApplicationFailure.create({ type: 'ServiceError', message: err.message, nonRetryable: !err.transient, details: [err.service, err.failure, err.endpoint] });
      }
      throw err;
    }
  }
}

const classifiedFailures = new ClassifiedFailures();

export function failureInterceptors(): ActivityInterceptors {
  return { inbound: classifiedFailures };
}
