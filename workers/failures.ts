import { ApplicationFailure } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptors, Next } from '@temporalio/worker';
import { InputError } from '../engine/errors.ts';

/**
 * Bad input fails the same way on every attempt, so an `InputError` thrown by an activity becomes a
 * non-retryable failure of type `InputError`; everything else keeps the activity's retry policy.
 */
class InputErrorsAreFinal implements ActivityInboundCallsInterceptor {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    try {
      return await next(input);
    } catch (err) {
      if (err instanceof InputError) {
        throw ApplicationFailure.create({ type: 'InputError', message: err.message, nonRetryable: true, details: [err.input] });
      }
      throw err;
    }
  }
}

const inputErrorsAreFinal = new InputErrorsAreFinal();

export function failureInterceptors(): ActivityInterceptors {
  return { inbound: inputErrorsAreFinal };
}
