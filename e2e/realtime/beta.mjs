// The openai Node SDK's beta Realtime client (it sends OpenAI-Beta:
// realtime=v1) against voicegate: a beta session.update with μ-law input,
// one spoken turn, and the beta event names it gets back.
//
// Environment: VG_BASE_URL (https://…/v1), VG_API_KEY, VG_TURN_ULAW (raw
// 8 kHz μ-law speech); NODE_EXTRA_CA_CERTS trusts the server.
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/beta/realtime/ws';
import { Events, Mic, audioFile, b64Bytes, deadline, env, report, shapeProblems } from './lib.mjs';

let stage = 'connecting';
deadline(45_000, () => stage);

const client = new OpenAI({ apiKey: env('VG_API_KEY'), baseURL: env('VG_BASE_URL') });
const rt = new OpenAIRealtimeWS({ model: 'gpt-4o-realtime-preview' }, client);
const events = new Events();
rt.on('event', (ev) => {
  events.push(ev);
  for (const p of shapeProblems(ev)) report('shape', { problem: p });
});
rt.on('error', (e) => report('error', { stage, error: e.error ?? e.message }));
rt.socket.on('close', (code, reason) => {
  if (stage !== 'closing') report('fail', { error: `connection closed during ${stage}: ${code} ${reason}` }), process.exit(1);
});

const created = await events.type('session.created', 10_000);
rt.send({
  type: 'session.update',
  session: {
    modalities: ['audio', 'text'],
    instructions: 'Answer in one short sentence.',
    voice: 'alloy',
    input_audio_format: 'g711_ulaw',
    output_audio_format: 'pcm16',
    input_audio_transcription: { model: 'whisper-1' },
    turn_detection: { type: 'server_vad', silence_duration_ms: 500 },
  },
});
const updated = await events.type('session.updated', 10_000);
report('session', {
  created_keys: Object.keys(created.session ?? {}),
  input_audio_format: updated.session?.input_audio_format ?? null,
  output_audio_format: updated.session?.output_audio_format ?? null,
  modalities: updated.session?.modalities ?? null,
  turn_detection: updated.session?.turn_detection ?? null,
});

const mic = new Mic((b) => rt.send({ type: 'input_audio_buffer.append', audio: b.toString('base64') }), 8000, 0xff);
mic.start();
stage = 'turn';
const from = events.length;
await mic.say(audioFile('VG_TURN_ULAW'));
const done = await events.type('response.done', 30_000, from);
const turn = events.list.slice(from, events.list.indexOf(done) + 1);
report('turn', {
  types: [...new Set(turn.map((e) => e.type))],
  user: turn.find((e) => e.type === 'conversation.item.input_audio_transcription.completed')?.transcript ?? null,
  reply: turn.find((e) => e.type === 'response.audio_transcript.done')?.transcript ?? null,
  status: done.response?.status,
  audio_bytes: turn.filter((e) => e.type === 'response.audio.delta').reduce((n, e) => n + b64Bytes(e.delta), 0),
  items: turn.filter((e) => e.type === 'conversation.item.created').map((e) => ({ role: e.item?.role, content: (e.item?.content ?? []).map((c) => c.type) })),
  parts: turn.filter((e) => e.type === 'response.content_part.added').map((e) => e.part?.type),
});
mic.stop();
stage = 'closing';
rt.close();
report('done');
process.exit(0);
