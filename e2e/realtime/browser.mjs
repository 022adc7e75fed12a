// A browser's way in: the standard WebSocket (Node's, run with
// --experimental-websocket, the same API as a browser's) authenticates with
// subprotocols, as the openai SDK's browser client does: with the API key,
// or with a client secret minted for the browser.
//
// Environment: VG_REALTIME_URL (wss://…/v1/realtime), VG_BASE_URL, VG_API_KEY;
// NODE_EXTRA_CA_CERTS trusts the server.
import OpenAI from 'openai';
import { OpenAIRealtimeWebSocket } from 'openai/realtime/websocket';
import { Events, deadline, env, report } from './lib.mjs';

if (typeof globalThis.WebSocket !== 'function') {
  report('fail', { error: 'no global WebSocket: run node with --experimental-websocket' });
  process.exit(1);
}
let stage = 'connecting';
deadline(30_000, () => stage);
const key = env('VG_API_KEY');
const url = `${env('VG_REALTIME_URL')}?model=gpt-realtime`;

// dial opens a standard WebSocket with protocols and reports the protocol the
// server chose and the first event.
async function dial(name, protocols) {
  stage = name;
  const ws = new WebSocket(url, protocols);
  const events = new Events();
  ws.onmessage = (m) => events.push(JSON.parse(m.data));
  // A refused handshake fires error (Node 20's WebSocket fires no close then).
  ws.onerror = () => events.push({ type: 'refused' });
  ws.onclose = (e) => events.push({ type: 'closed', code: e.code, reason: e.reason });
  const first = await events.wait(`the first event (${name})`, 10_000, () => true);
  report('dial', {
    name,
    protocol: ws.protocol,
    first: first.type,
    close: first.type === 'closed' ? first : null,
    session_keys: Object.keys(first.session ?? {}),
    instructions: first.session?.instructions ?? null,
  });
  ws.close();
}

// Snippet: the browser, GA.
await dial('browser', ['realtime', `openai-insecure-api-key.${key}`]);
// Snippet: the browser, beta names.
await dial('browser beta', ['realtime', `openai-insecure-api-key.${key}`, 'openai-beta.realtime-v1']);
// A wrong key is refused.
await dial('wrong key', ['realtime', 'openai-insecure-api-key.not-the-key']);

// A browser's own key: a client secret, minted with the API key by the
// openai SDK's REST client, opens one connection.
stage = 'client secret';
const server = new OpenAI({ apiKey: key, baseURL: env('VG_BASE_URL') });
const mint = () => server.realtime.clientSecrets.create({ session: { type: 'realtime', model: 'gpt-realtime', instructions: 'Be brief.' } });
const secret = await mint();
report('secret', { prefix: secret.value.slice(0, 3), ttl_s: secret.expires_at - Math.floor(Date.now() / 1000), session_type: secret.session?.type ?? null });
await dial('client secret', ['realtime', `openai-insecure-api-key.${secret.value}`]);
await dial('client secret again', ['realtime', `openai-insecure-api-key.${secret.value}`]);

// The openai SDK's browser client over the same WebSocket, with a client
// secret (an ek_ key, which it takes without dangerouslyAllowBrowser).
stage = 'OpenAIRealtimeWebSocket';
const client = new OpenAI({ apiKey: (await mint()).value, baseURL: env('VG_BASE_URL'), dangerouslyAllowBrowser: true });
const rt = new OpenAIRealtimeWebSocket({ model: 'gpt-realtime' }, client);
const events = new Events();
rt.on('event', (ev) => events.push(ev));
rt.on('error', (e) => report('error', { stage, error: e.error ?? e.message }));
const created = await events.type('session.created', 10_000);
report('dial', { name: 'OpenAIRealtimeWebSocket', protocol: rt.socket.protocol, first: created.type, close: null, session_keys: Object.keys(created.session ?? {}) });
rt.close();
report('done');
process.exit(0);
