import { VALIDATION_OPTIONS } from '@app/platform';
import { ValidationPipe } from '@nestjs/common';
import { CreateTaskDto } from './create-task.dto';

// class-validator alone, as the global pipe runs it when fastAccept declines.
const classValidator = new ValidationPipe(VALIDATION_OPTIONS);
const metadata = { type: 'body' as const, metatype: CreateTaskDto, data: '' };

async function viaClassValidator(body: Record<string, unknown>): Promise<unknown> {
  try {
    return await classValidator.transform(body, metadata);
  } catch {
    return 'refused';
  }
}

const base = { persona_id: 'founder-voice', task_type: 'generate_post' };

describe('CreateTaskDto.fastAccept', () => {
  const taken: Record<string, unknown>[] = [
    { ...base, topic: 'fast feedback loops' },
    {
      ...base,
      task_type: 'generate_thread',
      pain_statement: 'Our deploys take 40 minutes (user 3, request 9)',
    },
    { ...base, pain_statement: 'p', trend_snippet: 't', topic: 't' },
    { ...base, topic: 'x'.repeat(300), pain_statement: ' y '.repeat(666) },
    { ...base, topic: 'caf\u00e9 \u{1F680}' },
    base,
  ];

  it.each(taken.map((body, i) => [i + 1, body] as const))(
    'takes common body %i, as class-transformer builds it',
    async (_i, body) => {
      const fast = CreateTaskDto.fastAccept(body);
      expect(fast).toBeInstanceOf(CreateTaskDto);
      const slow = await viaClassValidator(body);
      expect(slow).toBeInstanceOf(CreateTaskDto);
      expect({ ...fast }).toEqual({ ...(slow as object) });
    },
  );

  const declined: [string, Record<string, unknown>][] = [
    ['an unknown field', { ...base, topic: 't', colour: 'red' }],
    ['extras', { ...base, topic: 't', extras: { tone: 'wry' } }],
    ['a callback_url', { ...base, topic: 't', callback_url: 'https://example.com/hook' }],
    ['a bad persona slug', { ...base, persona_id: 'Founder Voice', topic: 't' }],
    ['a persona id that is not a string', { ...base, persona_id: 7, topic: 't' }],
    ['an unknown task type', { ...base, task_type: 'generate_poem', topic: 't' }],
    ['a missing task type', { persona_id: 'founder-voice', topic: 't' }],
    ['a topic over 300 characters', { ...base, topic: 'x'.repeat(301) }],
    ['a blank topic', { ...base, topic: '   ' }],
    ['an empty topic', { ...base, topic: '' }],
    ['a null topic (optional: class-validator decides)', { ...base, topic: null }],
    ['a number for a text field', { ...base, topic: 42 }],
    ['an inherited field name', { ...base, toString: 'x' }],
    ['a body that is not a plain object', Object.assign(Object.create(null), base, { topic: 't' })],
  ];

  it.each(declined)('leaves %s to class-validator', (_why, body) => {
    expect(CreateTaskDto.fastAccept(body)).toBeNull();
  });

  it('never takes a body class-validator refuses', async () => {
    // Every declined case class-validator refuses stays refused; the ones it accepts (null topic,
    // extras, callback_url) simply take the slow path.
    for (const [, body] of declined) {
      if ((await viaClassValidator(body)) === 'refused') expect(CreateTaskDto.fastAccept(body)).toBeNull();
    }
    for (const body of taken) expect(await viaClassValidator(body)).not.toBe('refused');
  });
});
