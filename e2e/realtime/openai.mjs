// The openai Node SDK's Realtime WebSocket client (GA names) against
// voicegate over wss://: one spoken turn, then a second one whose reply it
// cancels as soon as the reply's audio starts, truncating the item to what
// it had received.
//
// Environment: VG_BASE_URL (https://…/v1), VG_API_KEY, VG_TURN1, VG_TURN2
// (raw 24 kHz mono s16le speech); NODE_EXTRA_CA_CERTS trusts the server.
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { Mic, audioFile, b64Bytes, deadline, openRealtime, report, sleep } from './lib.mjs';

const bytesPerSecond = 24000 * 2;
let stage = 'connecting';
deadline(60_000, () => stage);

const { rt, events } = openRealtime(OpenAIRealtimeWS, 'gpt-realtime', () => stage);
report('url', { url: rt.url.toString() });

await events.type('session.created', 10_000);
rt.send({
  type: 'session.update',
  session: {
    type: 'realtime',
    instructions: 'Answer in one short sentence.',
    output_modalities: ['audio'],
    audio: {
      input: {
        format: { type: 'audio/pcm', rate: 24000 },
        transcription: { model: 'whisper-1' },
        turn_detection: { type: 'server_vad', silence_duration_ms: 500 },
      },
      output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'alloy' },
    },
  },
});
const updated = await events.type('session.updated', 10_000);
report('session', {
  type: updated.session?.type,
  input_format: updated.session?.audio?.input?.format ?? null,
  output_format: updated.session?.audio?.output?.format ?? null,
  turn_detection: updated.session?.audio?.input?.turn_detection ?? null,
});

const mic = new Mic((b) => rt.send({ type: 'input_audio_buffer.append', audio: b.toString('base64') }), bytesPerSecond);
mic.start();

// Turn 1: spoken, answered, done.
stage = 'turn 1';
let from = events.length;
await mic.say(audioFile('VG_TURN1'));
const done1 = await events.type('response.done', 30_000, from);
const turn1 = events.list.slice(from, events.list.indexOf(done1) + 1);
report('turn', {
  n: 1,
  types: [...new Set(turn1.map((e) => e.type))],
  user: turn1.find((e) => e.type === 'conversation.item.input_audio_transcription.completed')?.transcript ?? null,
  reply: turn1.find((e) => e.type === 'response.output_audio_transcript.done')?.transcript ?? null,
  status: done1.response?.status,
  audio_bytes: turn1.filter((e) => e.type === 'response.output_audio.delta').reduce((n, e) => n + b64Bytes(e.delta), 0),
  output: done1.response?.output ?? null,
});
await sleep(500);

// Turn 2: cancelled at its first audio, then truncated to what was received.
stage = 'turn 2 (cancel)';
from = events.length;
await mic.say(audioFile('VG_TURN2'));
const created = await events.type('response.created', 30_000, from);
const rid = created.response.id;
const first = await events.type('response.output_audio.delta', 15_000, from, (e) => e.response_id === rid);
const received = () =>
  events.list.filter((e) => e.type === 'response.output_audio.delta' && e.response_id === rid).reduce((n, e) => n + b64Bytes(e.delta), 0);
const atCancel = received();
rt.send({ type: 'response.cancel', event_id: 'evt_cancel_1' });
const done2 = await events.type('response.done', 10_000, from, (e) => e.response?.id === rid);
const afterDone = events.length;
const playedMs = Math.floor((atCancel / bytesPerSecond) * 1000);
rt.send({ type: 'conversation.item.truncate', event_id: 'evt_truncate_1', item_id: first.item_id, content_index: first.content_index, audio_end_ms: playedMs });
const truncated = await events.wait('conversation.item.truncated or error', 10_000, (e) => e.type === 'conversation.item.truncated' || e.type === 'error', afterDone);
rt.send({ type: 'conversation.item.retrieve', event_id: 'evt_retrieve_1', item_id: first.item_id });
const retrieved = await events.wait('conversation.item.retrieved or error', 10_000, (e) => e.type === 'conversation.item.retrieved' || e.type === 'error', afterDone);
await sleep(700); // audio still arriving for the cancelled response would show by now
const turn2 = events.list.slice(from);
report('cancel', {
  status: done2.response?.status,
  status_details: done2.response?.status_details ?? null,
  output: done2.response?.output ?? null,
  audio_bytes_at_cancel: atCancel,
  audio_bytes_total: received(),
  deltas_after_done: events.list.slice(afterDone).filter((e) => e.response_id === rid && e.type.endsWith('.delta')).length,
  played_ms: playedMs,
  item_id: first.item_id,
  truncated,
  retrieved,
  types: [...new Set(turn2.map((e) => e.type))],
});
mic.stop();
stage = 'closing';
rt.close();
report('done');
process.exit(0);
