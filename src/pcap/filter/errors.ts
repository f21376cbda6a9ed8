/** The typed error of the display-filter language. */
import type { DisplayFilterProblem } from '../view/types.js';

/** A display filter that does not parse, names an unknown field or compares a field with a value of the wrong kind. */
export class DisplayFilterError extends Error {
  override readonly name = 'DisplayFilterError';
  readonly problem: DisplayFilterProblem;
  readonly expression: string;
  constructor(expression: string, problem: DisplayFilterProblem, options?: { cause?: unknown }) {
    super(`${problem.message} (display filter ${JSON.stringify(expression)})`, options);
    this.problem = problem;
    this.expression = expression;
  }
}

/** Two lines for a terminal: the expression and a caret (^~~~) under the problem. */
export function caretLines(expression: string, problem: DisplayFilterProblem): string {
  const pos = Math.max(0, Math.min(problem.position, expression.length));
  const len = Math.max(1, problem.length);
  return `  ${expression}\n  ${' '.repeat(pos)}^${'~'.repeat(len - 1)}`;
}
