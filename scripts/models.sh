#!/usr/bin/env bash
# Fetches and prepares the offline models into the models directory
# ($VOICEGATE_MODELS, default ${XDG_CACHE_HOME:-$HOME/.cache}/voicegate/models),
# laid out by package name and version:
#
#   npm/@ricky0123/vad-web@0.0.31/silero_vad_v5.onnx             Silero VAD v5 (MIT)
#   go/github.com/amitybell/piper-voice-jenny@<version>/           Piper voice "Jenny (Dioco)", en_GB,
#       model.onnx tokens.txt voice.json MODEL_CARD LICENSE          prepared for sherpa-onnx's VITS path
#
# Every download and every prepared file is checked against the sha256 pinned
# below; a mismatch stops the script. With everything in place it only checks
# the hashes and prints one "ready" line per model.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -z "${VOICEGATE_MODELS:-}" ] && [ -z "${XDG_CACHE_HOME:-}" ] && [ -z "${HOME:-}" ]; then
  echo "models.sh: no models directory: set VOICEGATE_MODELS (or HOME)" >&2
  exit 1
fi
models=${VOICEGATE_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/voicegate/models}

silero_pkg=@ricky0123/vad-web@0.0.31
silero_tgz_sha=d1a211cf1a2ed26297da52cc08de79e75d79838a274bfc6de546feb1f828c940
silero_sha=2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f

jenny_mod=github.com/amitybell/piper-voice-jenny
jenny_ver=v0.0.0-20231030195502-2afb5ebf3c45
jenny_dist_sha=c8b488d3cf2c3db588711b84ea55b8ec5b548ec42db5eed53c84a0eec054b4ca
jenny_voice_sha=469c630d209e139dd392a66bf4abde4ab86390a0269c1e47b4e5d7ce81526b01
jenny_json_sha=a9a7a93a317c9a3cb6563e37eb057df9ef09c06188a8a4341b0fcb58cba54dd4
# What the preparation below produces from those inputs.
jenny_model_sha=291d097d7b4634fa61e8b8e10dfb2313b2def355b3f1d805d32ba288c9f0a203
jenny_tokens_sha=87c8ef66eae5473ed0cc0366b3964c736ca6c5f676c979522ea31234e47430b9

die() { echo "models.sh: $*" >&2; exit 1; }

# sha_ok FILE SHA: FILE exists and hashes to SHA.
sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# check FILE SHA WHAT [WHY]: a downloaded or prepared file must match its pin.
check() {
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  [ "$got" = "$2" ] || die "$3: sha256 of $1 is $got, want $2 (${4:-not the pinned download})"
}

silero_dir=$models/npm/$silero_pkg
jenny_dir=$models/go/$jenny_mod@$jenny_ver

silero_ready() { sha_ok "$silero_dir/silero_vad_v5.onnx" "$silero_sha"; }
jenny_ready() {
  sha_ok "$jenny_dir/model.onnx" "$jenny_model_sha" && sha_ok "$jenny_dir/tokens.txt" "$jenny_tokens_sha" &&
    sha_ok "$jenny_dir/voice.json" "$jenny_json_sha" && [ -s "$jenny_dir/MODEL_CARD" ]
}

need=()
silero_ready || need+=(npm)
jenny_ready || need+=(zstd python3-onnx)
# The voice speaks through eSpeak NG's phoneme data at synthesis time.
[ -f /usr/lib/x86_64-linux-gnu/espeak-ng-data/phontab ] || need+=(espeak-ng-data)
if [ ${#need[@]} -gt 0 ]; then
  debs=()
  for p in "${need[@]}"; do
    # npm often comes with Node.js itself (nodesource); Debian's npm would conflict with it.
    if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
    debs+=("$p")
  done
  [ ${#debs[@]} -eq 0 ] || "$here/deps.sh" "${debs[@]}"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if silero_ready; then
  echo "silero $silero_pkg: ready"
else
  (cd "$tmp" && npm pack --silent "$silero_pkg" >/dev/null) || die "npm pack $silero_pkg failed"
  tgz=("$tmp"/ricky0123-vad-web-*.tgz)
  check "${tgz[0]}" "$silero_tgz_sha" "$silero_pkg"
  tar -xzf "${tgz[0]}" -C "$tmp" package/dist/silero_vad_v5.onnx
  check "$tmp/package/dist/silero_vad_v5.onnx" "$silero_sha" "$silero_pkg"
  mkdir -p "$silero_dir"
  mv "$tmp/package/dist/silero_vad_v5.onnx" "$silero_dir/silero_vad_v5.onnx.part"
  mv "$silero_dir/silero_vad_v5.onnx.part" "$silero_dir/silero_vad_v5.onnx"
  echo "silero $silero_pkg: fetched"
fi

if jenny_ready; then
  echo "piper $jenny_mod@$jenny_ver: ready"
else
  # Outside any module, so that the project's go.mod and go.sum stay as they are.
  dir=$(cd "$tmp" && GO111MODULE=on GOFLAGS= go mod download -json "$jenny_mod@$jenny_ver" |
    /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error","no Dir")))') ||
    die "go mod download $jenny_mod@$jenny_ver failed"
  check "$dir/dist.tar.zst" "$jenny_dist_sha" "$jenny_mod"
  mkdir -p "$tmp/jenny"
  zstd -q -dc "$dir/dist.tar.zst" | tar -x -C "$tmp/jenny" voice.onnx voice.json
  check "$tmp/jenny/voice.onnx" "$jenny_voice_sha" "$jenny_mod voice.onnx"
  check "$tmp/jenny/voice.json" "$jenny_json_sha" "$jenny_mod voice.json"

  # sherpa-onnx reads a VITS model's settings from its metadata; Piper keeps
  # them in voice.json. tokens.txt is the phoneme map, one "symbol id" a line.
  /usr/bin/python3 - "$tmp/jenny" <<'EOF' || die "preparing the Piper voice failed"
import json, os, sys
import onnx

d = sys.argv[1]
cfg = json.load(open(os.path.join(d, "voice.json"), encoding="utf-8"))
with open(os.path.join(d, "tokens.txt"), "w", encoding="utf-8", newline="\n") as f:
    for sym, ids in cfg["phoneme_id_map"].items():
        if len(sym) != 1 or sym == "\n" or len(ids) != 1:
            sys.exit("unexpected phoneme_id_map entry %r: %r" % (sym, ids))
        f.write("%s %d\n" % (sym, ids[0]))

meta = {
    "model_type": "vits",
    "comment": "piper",
    "language": cfg["language"]["name_english"],
    "voice": cfg["espeak"]["voice"],
    "has_espeak": "1",
    "n_speakers": str(cfg["num_speakers"]),
    "sample_rate": str(cfg["audio"]["sample_rate"]),
    "add_blank": "0",
    "punctuation": " ".join(list(";:,.!?¡¿—…\"«»“”")),
}
model = onnx.load(os.path.join(d, "voice.onnx"))
del model.metadata_props[:]
for k, v in meta.items():
    p = model.metadata_props.add()
    p.key, p.value = k, v
onnx.save(model, os.path.join(d, "model.onnx"))
EOF
  why="prepared otherwise than with Debian 12's python3-onnx 1.12.0"
  check "$tmp/jenny/model.onnx" "$jenny_model_sha" "$jenny_mod model.onnx" "$why"
  check "$tmp/jenny/tokens.txt" "$jenny_tokens_sha" "$jenny_mod tokens.txt" "$why"
  cat >"$tmp/jenny/MODEL_CARD" <<EOF
Piper voice "Jenny (Dioco)" — jenny_dioco, medium quality, en_GB, 1 speaker, 22050 Hz.

Attribution (required by the voice's dataset licence): the voice is built on
the Jenny dataset by Dioco, https://github.com/dioco-group/jenny-tts-dataset
("Jenny (Dioco)"). Finetuned from Piper's U.S. English lessac voice.

Source: Go module $jenny_mod@$jenny_ver
(dist.tar.zst sha256 $jenny_dist_sha; packaging licence MIT, see LICENSE).

Prepared for sherpa-onnx's VITS path by scripts/models.sh: model.onnx is
voice.onnx (sha256 $jenny_voice_sha) with metadata added
(model_type=vits, comment=piper, voice=en-gb-x-rp, ...); tokens.txt is
voice.json's phoneme_id_map.
EOF
  install -m 0644 "$dir/LICENSE" "$tmp/jenny/LICENSE"
  mkdir -p "$jenny_dir"
  for f in voice.json tokens.txt LICENSE MODEL_CARD model.onnx; do
    mv -f "$tmp/jenny/$f" "$jenny_dir/$f.part"
    mv -f "$jenny_dir/$f.part" "$jenny_dir/$f"
  done
  jenny_ready || die "$jenny_dir is incomplete after preparation"
  echo "piper $jenny_mod@$jenny_ver: fetched"
fi
