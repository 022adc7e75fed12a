#!/bin/sh
# pulse-virtual.sh — a private PulseAudio daemon with a virtual microphone
# and speaker, for running voicegate-mic on a machine without a sound card
# (CI, containers). Recipe: /work/shared/RECIPES.md, "Desktop audio with no
# sound card".
#
#   scripts/pulse-virtual.sh start DIR   start the daemon; prints the env to use
#   scripts/pulse-virtual.sh stop DIR    stop it (by its pid)
#
# The microphone is the pipe source "mic": what is written to DIR/mic.fifo
# (s16le, 16 kHz, mono) is captured, in real time. Keep a writer attached
# (write silence when idle), or capture blocks. The speaker is the null sink
# "spk" (48 kHz mono); record it with
#   parec --latency-msec=20 -d spk.monitor --rate=48000 --channels=1 --format=s16le --file-format=wav out.wav
# (without a small latency parec loses up to its fragment, about a second,
# of the end when interrupted).
# ALSA's "default" reaches the daemon through libasound2-plugins' pulse
# plugin, so portaudio and oto use it unchanged.
set -eu

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
	echo "usage: $0 start|stop DIR" >&2
	exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case "$cmd" in
start)
	command -v pulseaudio >/dev/null || { echo "pulseaudio is not installed (apt-get install pulseaudio pulseaudio-utils libasound2-plugins)" >&2; exit 1; }
	mkdir -p "$dir/home" "$dir/run"
	chmod 700 "$dir/run"
	# module-pipe-source makes the fifo (and fails to load on one that
	# already exists), and removes it when it unloads.
	rm -f "$dir/mic.fifo"
	cat >"$dir/default.pa" <<PA
load-module module-native-protocol-unix auth-anonymous=1 socket=$dir/native
load-module module-null-sink sink_name=spk rate=48000 channels=1
load-module module-pipe-source source_name=mic file=$dir/mic.fifo format=s16le rate=16000 channels=1
set-default-sink spk
set-default-source mic
PA
	HOME=$dir/home XDG_RUNTIME_DIR=$dir/run pulseaudio --daemonize=yes --exit-idle-time=-1 \
		--system=false -n -F "$dir/default.pa" --disallow-exit --use-pid-file=yes 2>/dev/null
	i=0
	until PULSE_SERVER=unix:$dir/native pactl info >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 50 ] || { echo "pulseaudio did not come up" >&2; exit 1; }
		sleep 0.1
	done
	cp "$dir/run/pulse/pid" "$dir/pulse.pid"
	echo "export PULSE_SERVER=unix:$dir/native"
	echo "# microphone: write s16le 16 kHz mono to $dir/mic.fifo; speaker: spk.monitor"
	;;
stop)
	if [ -s "$dir/pulse.pid" ]; then
		kill "$(cat "$dir/pulse.pid")" 2>/dev/null || true
		rm -f "$dir/pulse.pid"
	else
		PULSE_SERVER=unix:$dir/native pactl exit 2>/dev/null || true
	fi
	;;
*)
	echo "usage: $0 start|stop DIR" >&2
	exit 2
	;;
esac
