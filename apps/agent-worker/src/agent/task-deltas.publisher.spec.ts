import { applyDelta } from '@app/platform';
import { TaskDeltaRun } from './task-deltas.publisher';

const sentBy = (flushMs: number) => {
  const sent: { run: string; seq: number; field: string; offset: number; text: string }[] = [];
  const run = new TaskDeltaRun((m) => sent.push(JSON.parse(m)), flushMs);
  return { run, sent };
};

describe('TaskDeltaRun', () => {
  afterEach(() => jest.useRealTimers());

  it('gathers the pieces of one flush interval into one message, numbered, with the offset of its first piece', () => {
    jest.useFakeTimers();
    const { run, sent } = sentBy(100);
    run.push('hook', 'Fast ', 0);
    run.push('hook', 'loops', 5);
    expect(sent).toEqual([]);
    jest.advanceTimersByTime(100);
    run.push('hook', '!', 10);
    run.flush();
    expect(sent).toEqual([
      { run: run.run, seq: 1, field: 'hook', offset: 0, text: 'Fast loops' },
      { run: run.run, seq: 2, field: 'hook', offset: 10, text: '!' },
    ]);
  });

  it('sends the hook before the body starts', () => {
    const { run, sent } = sentBy(100);
    run.push('hook', 'Hook.', 0);
    run.push('body', 'Body', 0);
    run.flush();
    expect(sent.map((m) => [m.field, m.text])).toEqual([
      ['hook', 'Hook.'],
      ['body', 'Body'],
    ]);
  });

  it('a retried call (offset back to 0) voids what was gathered; a consumer cuts the field there', () => {
    const { run, sent } = sentBy(0);
    run.push('body', 'The first', 0);
    const flushed = sentBy(1000);
    flushed.run.push('body', 'Half an ans', 0);
    flushed.run.push('body', 'The whole answer', 0);
    flushed.run.flush();
    expect(flushed.sent.map((m) => m.text)).toEqual(['The whole answer']);

    run.push('body', 'The whole answer', 0);
    const shown = sent.reduce((text, m) => applyDelta(text, m), '');
    expect(shown).toBe('The whole answer');
  });

  it('each run has its own id', () => {
    expect(sentBy(0).run.run).not.toBe(sentBy(0).run.run);
  });
});
