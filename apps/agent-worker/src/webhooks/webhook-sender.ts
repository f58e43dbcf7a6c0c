import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { assertAllowedLiteralHost, guardedLookup, WebhookAddressRefusedError } from './address-policy';

export class WebhookDeliveryError extends Error {
  constructor(
    message: string,
    /** No retry can help (refused address, redirect, 4xx other than 408/429). */
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'WebhookDeliveryError';
  }
}

export interface SendOptions {
  timeoutMs: number;
  allowPrivateAddresses: boolean;
}

/**
 * POSTs one webhook and classifies the answer. Redirects are not followed: a redirect could lead
 * to an address the policy refuses, and a receiver should be configured with its final URL.
 */
export async function sendWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: SendOptions,
): Promise<number> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new WebhookDeliveryError(`callback_url ${url} is not a valid URL`, true);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new WebhookDeliveryError(`callback_url must be http(s), not ${target.protocol}`, true);
  }
  try {
    if (!options.allowPrivateAddresses) assertAllowedLiteralHost(target);
    const status = await post(target, body, headers, options);
    if (status >= 200 && status < 300) return status;
    const permanent =
      (status >= 300 && status < 400) || (status >= 400 && status < 500 && status !== 408 && status !== 429);
    throw new WebhookDeliveryError(`callback answered ${status}`, permanent);
  } catch (err) {
    if (err instanceof WebhookDeliveryError) throw err;
    if (err instanceof WebhookAddressRefusedError) throw new WebhookDeliveryError(err.message, true);
    const message = err instanceof Error ? err.message : String(err);
    throw new WebhookDeliveryError(`callback request failed: ${message}`, false);
  }
}

function post(
  target: URL,
  body: string,
  headers: Record<string, string>,
  options: SendOptions,
): Promise<number> {
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const requestOptions: RequestOptions = {
    method: 'POST',
    headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    signal: AbortSignal.timeout(options.timeoutMs),
    ...(options.allowPrivateAddresses ? {} : { lookup: guardedLookup as RequestOptions['lookup'] }),
  };
  return new Promise((resolve, reject) => {
    const req = send(target, requestOptions, (res) => {
      res.resume(); // the answer's body is not needed; drain it so the socket is freed
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err) => reject(err.cause instanceof WebhookAddressRefusedError ? err.cause : err));
    req.end(body);
  });
}
