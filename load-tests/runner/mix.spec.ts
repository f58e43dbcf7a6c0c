import { WeightedPicker, expandTemplate, templateVars } from './mix';

function sequence(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

describe('request mix', () => {
  const items = [
    { name: 'create', weight: 3 },
    { name: 'get', weight: 1 },
    { name: 'never', weight: 0 },
  ];

  it('picks in proportion to the weights and never picks a zero weight', () => {
    const picker = new WeightedPicker(items);
    const random = sequence([0, 0.25, 0.5, 0.74, 0.75, 0.99]);
    expect(Array.from({ length: 6 }, () => picker.pick(random).name)).toEqual([
      'create',
      'create',
      'create',
      'create',
      'get',
      'get',
    ]);
    const counts: Record<string, number> = {};
    let seed = 1;
    const lcg = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let i = 0; i < 10_000; i++) {
      const n = picker.pick(lcg).name;
      counts[n] = (counts[n] ?? 0) + 1;
    }
    expect(counts.never).toBeUndefined();
    expect(counts.create / 10_000).toBeCloseTo(0.75, 1);
  });

  it('drops items and renormalizes', () => {
    const picker = new WeightedPicker(items);
    picker.remove((i) => i.name === 'create');
    expect(picker.size).toBe(1);
    expect(picker.pick(() => 0).name).toBe('get');
    picker.remove(() => true);
    expect(() => picker.pick()).toThrow('the request mix is empty');
  });

  it('expands templates and refuses a variable without a value', () => {
    expect(expandTemplate('/v1/tasks/{{taskId}}?u={{ vu }}', { taskId: 'abc', vu: 3 })).toBe(
      '/v1/tasks/abc?u=3',
    );
    expect(expandTemplate('{{uuid}}', {})).toMatch(/^[0-9a-f-]{36}$/);
    expect(() => expandTemplate('/v1/tasks/{{taskId}}', {})).toThrow('{{taskId}}');
    expect(templateVars('{{persona}} and {{iter}}')).toEqual(['persona', 'iter']);
  });
});
