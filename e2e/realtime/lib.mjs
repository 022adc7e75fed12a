// What the Realtime client scripts share: reporting facts to the Go test as
// JSON lines, a paced microphone, and waiting for server events.
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';

// report prints one fact for the Go test: {"fact": name, ...fields}.
export function report(fact, fields = {}) {
  process.stdout.write(JSON.stringify({ fact, ...fields }) + '\n');
}

// fail reports what was expected and what was seen, and ends the script.
export function fail(message) {
  report('fail', { error: message });
  process.exit(1);
}

// env returns the environment variable name, failing when it is unset.
export function env(name) {
  const v = process.env[name];
  if (!v) fail(`environment variable ${name} is not set`);
  return v;
}

// audioFile reads a raw audio file named by the environment variable name.
export function audioFile(name) {
  return readFileSync(env(name));
}

// deadline ends the script if it is still running after ms: a client that
// stalls fails with what it was waiting for rather than hanging the test.
export function deadline(ms, what) {
  const t = setTimeout(() => fail(`still running after ${ms} ms: ${what()}`), ms);
  t.unref();
}

// Mic sends audio the way a microphone does: one chunk per 20 ms of audio,
// at real-time pace, silence when nothing is being said.
export class Mic {
  // send(bytes) delivers one chunk; rate is in bytes per second; silence is
  // the byte value of digital silence in the format (0 for PCM, 0xff for μ-law).
  constructor(send, bytesPerSecond, silence = 0) {
    this.send = send;
    this.chunk = Math.round(bytesPerSecond / 50);
    this.bytesPerSecond = bytesPerSecond;
    this.silence = Buffer.alloc(this.chunk, silence);
    this.queue = [];
    this.sent = 0;
    this.timer = null;
  }

  start() {
    this.started = Date.now();
    this.timer = setInterval(() => this.#tick(), 10);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  // say queues speech and resolves when its last chunk has been sent.
  say(audio) {
    return new Promise((resolve) => {
      for (let off = 0; off < audio.length; off += this.chunk) {
        const piece = Buffer.alloc(this.chunk, this.silence[0]);
        audio.copy(piece, 0, off, Math.min(off + this.chunk, audio.length));
        this.queue.push(piece);
      }
      this.queue.push(resolve);
    });
  }

  #tick() {
    const due = ((Date.now() - this.started) / 1000) * this.bytesPerSecond;
    while (this.sent + this.chunk <= due) {
      while (typeof this.queue[0] === 'function') this.queue.shift()();
      this.send(this.queue.length > 0 ? this.queue.shift() : this.silence);
      this.sent += this.chunk;
    }
    while (typeof this.queue[0] === 'function') this.queue.shift()();
  }
}

// Events records what a client received and lets a script wait for one.
export class Events {
  constructor() {
    this.list = [];
    this.waiters = [];
  }

  push(ev) {
    this.list.push(ev);
    this.waiters = this.waiters.filter((w) => !w.check());
  }

  // wait resolves with the first event from index from on that matches
  // pred, failing the script after ms with what it waited for.
  wait(what, ms, pred, from = 0) {
    return new Promise((resolve) => {
      const w = {
        check: () => {
          for (let i = from; i < this.list.length; i++) {
            if (pred(this.list[i])) {
              clearTimeout(w.timer);
              resolve(this.list[i]);
              return true;
            }
          }
          return false;
        },
      };
      if (w.check()) return;
      w.timer = setTimeout(() => {
        const seen = this.list.slice(from).map((e) => e.type).join(' ');
        fail(`waited ${ms} ms for ${what}; saw since: ${seen || 'nothing'}`);
      }, ms);
      this.waiters.push(w);
    });
  }

  // type waits for an event of type typ (and matching pred) from index from.
  type(typ, ms, from = 0, pred = () => true) {
    return this.wait(typ, ms, (e) => e.type === typ && pred(e), from);
  }

  get length() {
    return this.list.length;
  }

  types(from = 0, to = this.list.length) {
    return [...new Set(this.list.slice(from, to).map((e) => e.type))];
  }
}

// Fields each server event must carry for the zod schemas of
// @openai/agents-realtime (and the API reference): GA names, with the beta
// names mapped onto them.
const required = {
  'session.created': ['session'],
  'session.updated': ['session'],
  'input_audio_buffer.speech_started': ['item_id', 'audio_start_ms'],
  'input_audio_buffer.speech_stopped': ['item_id', 'audio_end_ms'],
  'input_audio_buffer.committed': ['item_id'],
  'conversation.item.added': ['item'],
  'conversation.item.created': ['item'],
  'conversation.item.done': ['item'],
  'conversation.item.retrieved': ['item'],
  'conversation.item.truncated': ['item_id', 'content_index', 'audio_end_ms'],
  'conversation.item.input_audio_transcription.completed': ['item_id', 'content_index', 'transcript'],
  'response.created': ['response'],
  'response.done': ['response'],
  'response.output_item.added': ['response_id', 'output_index', 'item'],
  'response.output_item.done': ['response_id', 'output_index', 'item'],
  'response.content_part.added': ['response_id', 'item_id', 'output_index', 'content_index', 'part'],
  'response.content_part.done': ['response_id', 'item_id', 'output_index', 'content_index', 'part'],
  'response.output_audio.delta': ['response_id', 'item_id', 'output_index', 'content_index', 'delta'],
  'response.output_audio.done': ['response_id', 'item_id', 'output_index', 'content_index'],
  'response.output_audio_transcript.delta': ['response_id', 'item_id', 'output_index', 'content_index', 'delta'],
  'response.output_audio_transcript.done': ['response_id', 'item_id', 'output_index', 'content_index', 'transcript'],
  'response.function_call_arguments.delta': ['response_id', 'item_id', 'output_index', 'call_id', 'delta'],
  'response.function_call_arguments.done': ['response_id', 'item_id', 'output_index', 'call_id', 'arguments'],
};
const betaNames = {
  'response.audio.delta': 'response.output_audio.delta',
  'response.audio.done': 'response.output_audio.done',
  'response.audio_transcript.delta': 'response.output_audio_transcript.delta',
  'response.audio_transcript.done': 'response.output_audio_transcript.done',
};

// shapeProblems lists the fields ev lacks ("response.output_audio.delta
// without content_index"); empty when it is well formed.
export function shapeProblems(ev) {
  const out = [];
  if (typeof ev.event_id !== 'string' || ev.event_id === '') out.push(`${ev.type} without event_id`);
  for (const f of required[betaNames[ev.type] ?? ev.type] ?? []) {
    if (ev[f] === undefined || ev[f] === null) out.push(`${ev.type} without ${f}`);
  }
  if ((ev.type === 'response.created' || ev.type === 'response.done') && typeof ev.response?.id !== 'string') {
    out.push(`${ev.type} without response.id`);
  }
  return out;
}

// b64Bytes is the decoded length of a base64 string.
export function b64Bytes(s) {
  return Buffer.from(s, 'base64').length;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// openRealtime opens Client — the openai SDK's OpenAIRealtimeWS, GA or beta
// — for model on VG_BASE_URL with VG_API_KEY. Every server event goes into
// events; a malformed one is reported, and so is an error event; the
// connection closing while stage() is not "closing" fails the script.
export function openRealtime(Client, model, stage) {
  const rt = new Client({ model }, new OpenAI({ apiKey: env('VG_API_KEY'), baseURL: env('VG_BASE_URL') }));
  const events = new Events();
  rt.on('event', (ev) => {
    events.push(ev);
    for (const p of shapeProblems(ev)) report('shape', { problem: p });
  });
  rt.on('error', (e) => report('error', { stage: stage(), error: e.error ?? e.message }));
  rt.socket.on('close', (code, reason) => {
    if (stage() !== 'closing') fail(`connection closed during ${stage()}: ${code} ${reason}`);
  });
  return { rt, events };
}
