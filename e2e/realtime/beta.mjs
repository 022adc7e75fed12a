// The openai Node SDK's beta Realtime client (it sends OpenAI-Beta:
// realtime=v1) against voicegate: a beta session.update, a spoken turn in
// PCM16, then a second session.update switching the input to μ-law and a
// spoken turn in it, with the beta event names it gets back.
//
// Environment: VG_BASE_URL (https://…/v1), VG_API_KEY, VG_TURN1 (raw 24 kHz
// mono s16le speech), VG_TURN_ULAW (raw 8 kHz μ-law speech);
// NODE_EXTRA_CA_CERTS trusts the server.
import { OpenAIRealtimeWS } from 'openai/beta/realtime/ws';
import { Mic, audioFile, b64Bytes, deadline, openRealtime, report } from './lib.mjs';

let stage = 'connecting';
deadline(60_000, () => stage);

const { rt, events } = openRealtime(OpenAIRealtimeWS, 'gpt-4o-realtime-preview', () => stage);

const created = await events.type('session.created', 10_000);
report('created', { session_keys: Object.keys(created.session ?? {}) });

// turn configures the input format, says audio into it and reports the turn.
async function turn(n, format, audio, bytesPerSecond, silence) {
  stage = `session.update for turn ${n}`;
  let from = events.length;
  rt.send({
    type: 'session.update',
    session: {
      modalities: ['audio', 'text'],
      instructions: 'Answer in one short sentence.',
      voice: 'alloy',
      input_audio_format: format,
      output_audio_format: 'pcm16',
      input_audio_transcription: { model: 'whisper-1' },
      turn_detection: { type: 'server_vad', silence_duration_ms: 500 },
    },
  });
  const updated = await events.type('session.updated', 10_000, from);
  stage = `turn ${n}`;
  from = events.length;
  const mic = new Mic((b) => rt.send({ type: 'input_audio_buffer.append', audio: b.toString('base64') }), bytesPerSecond, silence);
  mic.start();
  await mic.say(audio);
  const done = await events.type('response.done', 30_000, from);
  mic.stop();
  const evs = events.list.slice(from, events.list.indexOf(done) + 1);
  const started = evs.find((e) => e.type === 'input_audio_buffer.speech_started');
  const stopped = evs.find((e) => e.type === 'input_audio_buffer.speech_stopped');
  report('turn', {
    n,
    input_audio_format: updated.session?.input_audio_format ?? null,
    output_audio_format: updated.session?.output_audio_format ?? null,
    said_ms: Math.round((audio.length / bytesPerSecond) * 1000),
    speech_ms: started && stopped ? stopped.audio_end_ms - started.audio_start_ms : null,
    types: [...new Set(evs.map((e) => e.type))],
    user: evs.find((e) => e.type === 'conversation.item.input_audio_transcription.completed')?.transcript ?? null,
    reply: evs.find((e) => e.type === 'response.audio_transcript.done')?.transcript ?? null,
    status: done.response?.status,
    audio_bytes: evs.filter((e) => e.type === 'response.audio.delta').reduce((k, e) => k + b64Bytes(e.delta), 0),
    items: evs.filter((e) => e.type === 'conversation.item.created').map((e) => ({ role: e.item?.role, content: (e.item?.content ?? []).map((c) => c.type) })),
    parts: evs.filter((e) => e.type === 'response.content_part.added').map((e) => e.part?.type),
  });
}

await turn(1, 'pcm16', audioFile('VG_TURN1'), 48000, 0);
await turn(2, 'g711_ulaw', audioFile('VG_TURN_ULAW'), 8000, 0xff);
stage = 'closing';
rt.close();
report('done');
process.exit(0);
