// A node:test test whose failure prints the logs of every process of the
// stack, which is what one needs to see why.
import { test } from 'node:test';

export function testWithLogs(stack, name, fn) {
  test(name, async () => {
    try {
      await fn();
    } catch (e) {
      console.error(stack.logs());
      throw e;
    }
  });
}
