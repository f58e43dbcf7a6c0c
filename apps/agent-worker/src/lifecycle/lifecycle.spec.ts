import { ActiveJobs } from './active-jobs';
import { LogThrottle } from './log-throttle';

describe('ActiveJobs', () => {
  it('settles when every tracked job is done, including jobs that fail', async () => {
    const jobs = new ActiveJobs();
    let finish!: () => void;
    void jobs.track(new Promise<void>((r) => (finish = r)));
    void jobs.track(Promise.reject(new Error('x'))).catch(() => undefined);
    expect(jobs.size).toBe(2);
    const settled = jobs.settle(1000);
    finish();
    expect(await settled).toBe(true);
    expect(jobs.size).toBe(0);
  });

  it('reports false when the grace passes first', async () => {
    const jobs = new ActiveJobs();
    void jobs.track(new Promise(() => undefined));
    expect(await jobs.settle(20)).toBe(false);
    expect(jobs.size).toBe(1);
  });
});

describe('LogThrottle', () => {
  it('lets one line per interval through and counts the rest', () => {
    const throttle = new LogThrottle(1000);
    const logged: number[] = [];
    for (const t of [0, 100, 200, 999, 1000, 1500, 2500]) throttle.run((s) => logged.push(s), 10000 + t);
    expect(logged).toEqual([0, 3, 1]);
  });
});
