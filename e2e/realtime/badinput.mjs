// Bad input over the openai Node SDK's Realtime client: each case must get a
// typed error event and leave the connection working (an
// input_audio_buffer.clear still gets its input_audio_buffer.cleared).
//
// Environment: VG_BASE_URL (https://…/v1), VG_API_KEY; NODE_EXTRA_CA_CERTS.
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { Events, deadline, env, fail, report } from './lib.mjs';

let stage = 'connecting';
deadline(60_000, () => stage);

const client = new OpenAI({ apiKey: env('VG_API_KEY'), baseURL: env('VG_BASE_URL') });
const rt = new OpenAIRealtimeWS({ model: 'gpt-realtime' }, client);
const events = new Events();
let closed = null;
rt.on('event', (ev) => events.push(ev));
rt.on('error', () => {}); // error events are read from `event`
rt.socket.on('close', (code, reason) => {
  closed = { code, reason: reason.toString() };
  if (stage === 'connecting') fail(`connection closed before the bad input: ${code} ${closed.reason}`);
  events.push({ type: 'close', ...closed });
});

await events.type('session.created', 10_000);
rt.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, turn_detection: null } } } });
await events.type('session.updated', 10_000);

// The largest append the API takes is 15 MiB of audio: one byte pair more.
const oversized = Buffer.alloc(15 * 1024 * 1024 + 2).toString('base64');

const cases = [
  { name: 'unknown type', send: { type: 'no.such.event', event_id: 'evt_unknown_1' } },
  { name: 'server event name', send: { type: 'response.output_audio.delta', event_id: 'evt_unknown_2', delta: 'AAAA' } },
  { name: 'not json', raw: '{"type": "input_audio_buffer.append", ' },
  { name: 'oversized append', send: { type: 'input_audio_buffer.append', event_id: 'evt_big_1', audio: oversized } },
  { name: 'audio not base64', send: { type: 'input_audio_buffer.append', event_id: 'evt_b64_1', audio: '%%% not base64 %%%' } },
  {
    name: 'unsupported audio format',
    send: { type: 'session.update', event_id: 'evt_format_1', session: { type: 'realtime', audio: { input: { format: { type: 'audio/flac' } } } } },
  },
];

let n = 0;
stage = 'cases';
for (const c of cases) {
  stage = c.name;
  const from = events.length;
  if (c.raw) rt.socket.send(c.raw);
  else rt.send(c.send);
  const err = await events.wait(`an error event for ${c.name}`, 15_000, (e) => e.type === 'error' || e.type === 'close', from);
  const alive = `evt_alive_${++n}`;
  if (!closed) rt.send({ type: 'input_audio_buffer.clear', event_id: alive });
  const after = closed
    ? null
    : await events.wait(
        `input_audio_buffer.cleared after ${c.name}`,
        10_000,
        (e) => e.type === 'input_audio_buffer.cleared' || e.type === 'error' || e.type === 'close',
        events.list.indexOf(err) + 1,
      );
  report('case', {
    name: c.name,
    sent_event_id: c.send?.event_id ?? null,
    error: err.type === 'error' ? err.error : null,
    error_event_id: err.event_id ?? null,
    closed,
    alive: after?.type === 'input_audio_buffer.cleared',
    after: after?.type ?? null,
  });
  if (closed) break;
}
// The session still takes a valid update after all of it, with the format it had.
if (!closed) {
  const from = events.length;
  rt.send({ type: 'session.update', session: { type: 'realtime', instructions: 'still here' } });
  const up = await events.wait('session.updated after the bad input', 10_000, (e) => e.type === 'session.updated' || e.type === 'error' || e.type === 'close', from);
  report('after', { type: up.type, input_format: up.session?.audio?.input?.format ?? null, error: up.error ?? null });
}
stage = 'closing';
rt.close();
report('done');
process.exit(0);
