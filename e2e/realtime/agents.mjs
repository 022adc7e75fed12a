// @openai/agents-realtime against voicegate: a RealtimeSession over its
// WebSocket transport says a plain sentence, then a question its get_weather
// tool answers, then a sentence whose reply it talks over (barge-in), and
// reports what its own events told it.
//
// Environment: VG_REALTIME_URL (ws:// or wss://…/v1/realtime), VG_API_KEY,
// VG_TURN1 … VG_TURN4 (raw 24 kHz mono s16le speech).
import { RealtimeAgent, RealtimeSession, tool } from '@openai/agents-realtime';
import { z } from 'zod';
import { Events, Mic, audioFile, deadline, env, fail, report, shapeProblems, sleep } from './lib.mjs';

const bytesPerSecond = 24000 * 2;
const toolCalls = [];
const getWeather = tool({
  name: 'get_weather',
  description: 'Tells the weather in a city.',
  parameters: z.object({ city: z.string() }),
  execute: async ({ city }) => {
    toolCalls.push({ city });
    return `sunny in ${city}`;
  },
});
const agent = new RealtimeAgent({
  name: 'assistant',
  instructions: 'Answer in one short sentence.',
  tools: [getWeather],
});
const session = new RealtimeSession(agent, { transport: 'websocket' });

const raw = new Events(); // every server event, as the transport saw it
const sent = []; // every client event but audio, as the transport sent it
const ends = []; // agent_end: {text, response, status} in order
const audioByResponse = new Map(); // responseId -> {bytes, first: ms}
let interruptions = 0;
let history = [];
let stage = 'connecting';
deadline(100_000, () => stage);

session.on('transport_event', (ev) => {
  raw.push(ev);
  for (const p of shapeProblems(ev)) report('shape', { problem: p });
});
session.on('error', (e) => {
  const err = e?.error;
  report('error', { stage, error: err?.error ?? err?.message ?? String(err) });
});
session.on('audio', (ev) => {
  const a = audioByResponse.get(ev.responseId) ?? { bytes: 0, first: Date.now() };
  a.bytes += ev.data.byteLength;
  audioByResponse.set(ev.responseId, a);
});
session.on('audio_interrupted', () => interruptions++);
session.on('agent_end', (_ctx, _agent, text) => {
  const done = [...raw.list].reverse().find((e) => e.type === 'response.done');
  ends.push({ text, response: done?.response?.id, status: done?.response?.status });
});
session.on('history_updated', (h) => {
  history = h;
});

try {
  await session.connect({ apiKey: env('VG_API_KEY'), url: env('VG_REALTIME_URL') });
} catch (e) {
  fail(`RealtimeSession.connect to ${env('VG_REALTIME_URL')}: ${e?.message ?? e?.error?.message ?? String(e)}`);
}
// What the transport writes to its socket, audio left out.
const socket = session.transport.connectionState.websocket;
const write = socket.send.bind(socket);
socket.send = (data, ...rest) => {
  const ev = JSON.parse(data);
  if (ev.type !== 'input_audio_buffer.append') sent.push(ev);
  return write(data, ...rest);
};
stage = 'waiting for session.updated';
await raw.type('session.updated', 10_000);
const mic = new Mic((b) => session.sendAudio(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)), bytesPerSecond);
mic.start();

// heard is the transcript the session's history holds for the user's item
// transcribed after event index from.
function heard(from) {
  const done = raw.list.slice(from).find((e) => e.type === 'conversation.item.input_audio_transcription.completed');
  const item = history.find((i) => i.itemId === done?.item_id);
  return item?.content?.find((c) => c.type === 'input_audio')?.transcript ?? null;
}

// spoken waits for an agent_end with text after index from (and not of the
// response skip), then as long as its audio takes to play, so the next turn
// does not talk over it.
async function spoken(what, from, skip) {
  const t0 = Date.now();
  const find = () => ends.slice(from).find((e) => e.text && e.response !== skip);
  while (!find()) {
    if (Date.now() - t0 > 30_000) {
      fail(`no spoken reply ${what} within 30 s; agent_end so far: ${JSON.stringify(ends)}; events: ${raw.types().join(' ')}`);
    }
    await sleep(20);
  }
  const end = find();
  const audio = audioByResponse.get(end.response) ?? { bytes: 0, first: Date.now() };
  const ms = (audio.bytes / bytesPerSecond) * 1000;
  await sleep(Math.max(0, audio.first + ms - Date.now()) + 300);
  return { ...end, audioBytes: audio.bytes, audioMs: Math.round(ms) };
}

stage = 'turn 1';
await mic.say(audioFile('VG_TURN1'));
const r1 = await spoken('to turn 1', 0);
report('turn', { n: 1, user: heard(0), reply: r1.text, status: r1.status, audio_bytes: r1.audioBytes, audio_ms: r1.audioMs });

stage = 'turn 2 (tool)';
let endsBefore = ends.length;
const turn2 = raw.length;
await mic.say(audioFile('VG_TURN2'));
const r2 = await spoken('after the tool result', endsBefore);
await sleep(1000); // a repeated call or output would show by now
const calls = raw.list.filter((e) => e.type === 'response.output_item.done' && e.item?.type === 'function_call');
report('turn', {
  n: 2,
  user: heard(turn2),
  reply: r2.text,
  status: r2.status,
  audio_bytes: r2.audioBytes,
  audio_ms: r2.audioMs,
  responses: ends.slice(endsBefore).map((e) => ({ text: e.text, status: e.status })),
});
report('tool', {
  runs: toolCalls.length,
  args: toolCalls,
  server_calls: calls.map((e) => ({ name: e.item.name, arguments: e.item.arguments, call_id: e.item.call_id })),
});

// Turn 3 is talked over by turn 4 as soon as its reply is heard.
stage = 'turn 3 (barge-in)';
endsBefore = ends.length;
const turn3 = raw.length;
const sentBefore = sent.length;
await mic.say(audioFile('VG_TURN3'));
const created = await raw.type('response.created', 30_000, turn3);
const rid = created.response.id;
const first = await raw.type('response.output_audio.delta', 15_000, turn3, (e) => e.response_id === rid);
await sleep(300);
const turn4 = raw.length;
await mic.say(audioFile('VG_TURN4'));
const r4 = await spoken('to the barge-in', endsBefore, rid);
const cut = raw.list.find((e) => e.type === 'response.done' && e.response?.id === rid);
const truncate = sent.slice(sentBefore).find((e) => e.type === 'conversation.item.truncate');
report('bargein', {
  interrupted: {
    user: heard(turn3),
    status: cut?.response?.status ?? null,
    item_id: first.item_id,
    audio_bytes: audioByResponse.get(rid)?.bytes ?? 0,
  },
  audio_interrupted: interruptions,
  client_sent: sent.slice(sentBefore).map((e) => e.type),
  truncate: truncate ?? null,
  truncated: raw.list.slice(turn3).find((e) => e.type === 'conversation.item.truncated' && e.item_id === truncate?.item_id) ?? null,
  user: heard(turn4),
  reply: r4.text,
  status: r4.status,
  audio_bytes: r4.audioBytes,
});
report('history', {
  items: history.map((i) => ({
    type: i.type,
    role: i.role,
    name: i.name,
    status: i.status,
    output: i.output,
    transcripts: (i.content ?? []).map((c) => c.transcript ?? c.text ?? null),
  })),
});
mic.stop();
session.close();
report('done');
process.exit(0);
