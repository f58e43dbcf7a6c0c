import { request } from './http';

/** The value of one Prometheus sample (name + exact label set as printed), or undefined. */
export async function metricValue(baseUrl: string, sample: string): Promise<number | undefined> {
  const text = String((await request(baseUrl, 'GET', '/metrics')).body);
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}
