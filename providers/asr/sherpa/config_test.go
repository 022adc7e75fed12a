package sherpa

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/voicegate/voicegate/providers/internal/onnxfile"
)

// onnxModel is a whole ONNX file with the given metadata keys. Only the
// checks read it: the engine never gets one.
func onnxModel(meta ...string) []byte {
	o := onnxfile.Outline{IRVersion: 8, Nodes: 1, Inputs: []string{"x"}, Outputs: []string{"y"}, Metadata: map[string]string{}}
	for _, k := range meta {
		o.Metadata[k] = "1"
	}
	return onnxfile.Build(o)
}

// fit returns, for each of the kind's files, content that passes the
// checks.
func fit(t *testing.T, dir, kind string, skip ...string) {
	t.Helper()
	names := map[string]string{"encoder*.onnx": "encoder-epoch-99-avg-1.onnx", "decoder*.onnx": "decoder-epoch-99-avg-1.onnx",
		"joiner*.onnx": "joiner-epoch-99-avg-1.onnx", "model*.onnx": "model.int8.onnx", "*encoder*.onnx": "tiny.en-encoder.onnx",
		"*decoder*.onnx": "tiny.en-decoder.onnx", "*tokens.txt": "tiny.en-tokens.txt", "tokens.txt": "tokens.txt",
		"preprocess*.onnx": "preprocess.onnx", "encode*.onnx": "encode.int8.onnx", "uncached_decode*.onnx": "uncached_decode.int8.onnx",
		"cached_decode*.onnx": "cached_decode.int8.onnx"}
	for _, f := range kinds[kind] {
		if slices.Contains(skip, f.pattern) {
			continue
		}
		data := onnxModel(f.meta...)
		if strings.HasSuffix(f.pattern, ".txt") {
			data = []byte("<blk> 0\n<sos/eos> 1\n▁THE 2\n 3\n")
		}
		write(t, filepath.Join(dir, names[f.pattern]), data)
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMissingFiles: New names every file a kind expects and does not
// find, and only those.
func TestMissingFiles(t *testing.T) {
	tests := []struct {
		kind    string
		present []string // patterns of files put in the directory
		want    []string // in the error
		notWant []string
	}{
		{KindZipformerStreaming, nil, []string{"encoder*.onnx (encoder)", "decoder*.onnx (decoder)", "joiner*.onnx (joiner)", "tokens.txt (tokens)"}, nil},
		{KindZipformerStreaming, []string{"encoder*.onnx", "tokens.txt"}, []string{"decoder*.onnx (decoder)", "joiner*.onnx (joiner)"}, []string{"encoder*", "tokens.txt"}},
		{KindSenseVoice, nil, []string{"model*.onnx (model)", "tokens.txt (tokens)"}, nil},
		{KindParaformer, []string{"tokens.txt"}, []string{"model*.onnx (model)"}, []string{"tokens.txt"}},
		{KindWhisper, nil, []string{"*encoder*.onnx (encoder)", "*decoder*.onnx (decoder)", "*tokens.txt (tokens)"}, nil},
		{KindMoonshine, nil, []string{"preprocess*.onnx (preprocessor)", "encode*.onnx (encoder)", "uncached_decode*.onnx (uncached decoder)", "cached_decode*.onnx (cached decoder)", "tokens.txt (tokens)"}, nil},
		{KindMoonshine, []string{"preprocess*.onnx", "encode*.onnx", "uncached_decode*.onnx", "tokens.txt"}, []string{"cached_decode*.onnx (cached decoder)"}, []string{"uncached_decode*.onnx (", "preprocess"}},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" with "+strings.Join(tt.present, ","), func(t *testing.T) {
			dir := t.TempDir()
			var skip []string
			for _, p := range Files(tt.kind) {
				if !slices.Contains(tt.present, p) {
					skip = append(skip, p)
				}
			}
			fit(t, dir, tt.kind, skip...)
			r, err := New(Config{Dir: dir, Kind: tt.kind})
			if err == nil {
				r.Close()
				t.Fatal("New succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, "sherpa: "+tt.kind+" model in "+dir+": missing ") {
				t.Errorf("error %q does not say which model in which directory", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not name %q", msg, w)
				}
			}
			_, listed, _ := strings.Cut(msg, ": missing ")
			for _, w := range tt.notWant {
				if strings.Contains(listed, w) {
					t.Errorf("error %q names %q, which is there", msg, w)
				}
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  Config
		want string // in the error; "" for valid
	}{
		{"zipformer", Config{Dir: dir, Kind: KindZipformerStreaming}, ""},
		{"sensevoice in Cantonese", Config{Dir: dir, Kind: KindSenseVoice, Language: "yue"}, ""},
		{"whisper in Chinese", Config{Dir: dir, Kind: KindWhisper, Language: "zh", Threads: 4}, ""},
		{"no dir", Config{Kind: KindSenseVoice}, "dir is required"},
		{"no kind", Config{Dir: dir}, `kind "": use one of moonshine, paraformer, sensevoice, whisper, zipformer-streaming`},
		{"unknown kind", Config{Dir: dir, Kind: "vosk"}, `kind "vosk"`},
		{"too many threads", Config{Dir: dir, Kind: KindParaformer, Threads: 17}, "threads 17"},
		{"negative threads", Config{Dir: dir, Kind: KindParaformer, Threads: -1}, "threads -1"},
		{"pool too large", Config{Dir: dir, Kind: KindParaformer, PoolSize: 65}, "pool_size 65"},
		{"short max_audio", Config{Dir: dir, Kind: KindParaformer, MaxAudio: 100 * time.Millisecond}, "max_audio 100ms"},
		{"sensevoice in French", Config{Dir: dir, Kind: KindSenseVoice, Language: "fr"}, `language "fr": sensevoice knows`},
		{"whisper language not a code", Config{Dir: dir, Kind: KindWhisper, Language: "English"}, `language "English"`},
		{"language for zipformer", Config{Dir: dir, Kind: KindZipformerStreaming, Language: "zh"}, "only whisper and sensevoice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.withDefaults().validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("validate = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// TestUnfitFiles: what is there but cannot be given to the engine is
// refused, naming the file.
func TestUnfitFiles(t *testing.T) {
	tests := []struct {
		name  string
		kind  string
		setup func(t *testing.T, dir string)
		want  []string
	}{
		{"text as the model", KindSenseVoice, func(t *testing.T, dir string) {
			fit(t, dir, KindSenseVoice, "model*.onnx")
			write(t, filepath.Join(dir, "model.onnx"), []byte("this is not an onnx model\n"))
		}, []string{"model.onnx", "not an ONNX model"}},
		{"a truncated encoder", KindZipformerStreaming, func(t *testing.T, dir string) {
			fit(t, dir, KindZipformerStreaming, "encoder*.onnx")
			m := onnxModel("T", "decode_chunk_len")
			write(t, filepath.Join(dir, "encoder.onnx"), m[:len(m)-4])
		}, []string{"encoder.onnx", "not an ONNX model"}},
		{"a model of another kind", KindWhisper, func(t *testing.T, dir string) {
			fit(t, dir, KindWhisper, "*encoder*.onnx")
			write(t, filepath.Join(dir, "tiny-encoder.onnx"), onnxModel("vocab_size"))
		}, []string{"tiny-encoder.onnx", "lacks the metadata n_mels, n_text_layer"}},
		{"tokens that are not a table", KindParaformer, func(t *testing.T, dir string) {
			fit(t, dir, KindParaformer, "tokens.txt")
			write(t, filepath.Join(dir, "tokens.txt"), []byte("a 0\nb c d\n"))
		}, []string{"tokens.txt line 2"}},
		{"empty tokens", KindParaformer, func(t *testing.T, dir string) {
			fit(t, dir, KindParaformer, "tokens.txt")
			write(t, filepath.Join(dir, "tokens.txt"), nil)
		}, []string{"tokens.txt is empty"}},
		{"two encoders", KindZipformerStreaming, func(t *testing.T, dir string) {
			fit(t, dir, KindZipformerStreaming)
			write(t, filepath.Join(dir, "encoder-epoch-20.onnx"), onnxModel("T", "decode_chunk_len"))
		}, []string{"2 files are the encoder", "encoder-epoch-20.onnx", "encoder-epoch-99-avg-1.onnx"}},
		{"not a directory", KindSenseVoice, nil, []string{"is not a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.setup != nil {
				tt.setup(t, dir)
			} else {
				dir = filepath.Join(dir, "file")
				write(t, dir, nil)
			}
			_, err := Config{Dir: dir, Kind: tt.kind}.withDefaults().locate()
			if err == nil {
				t.Fatal("locate succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestPick: where a directory has the plain and the int8 model, Int8
// chooses.
func TestPick(t *testing.T) {
	dir := t.TempDir()
	fit(t, dir, KindSenseVoice) // model.int8.onnx
	write(t, filepath.Join(dir, "model.onnx"), onnxModel("vocab_size", "lfr_window_size"))
	for _, int8 := range []bool{false, true} {
		paths, err := Config{Dir: dir, Kind: KindSenseVoice, Int8: int8}.withDefaults().locate()
		if err != nil {
			t.Fatal(err)
		}
		want := map[bool]string{false: "model.onnx", true: "model.int8.onnx"}[int8]
		if got := filepath.Base(paths["model"]); got != want || filepath.Base(paths["tokens"]) != "tokens.txt" {
			t.Errorf("int8 %v: model %s, tokens %s; want %s", int8, got, paths["tokens"], want)
		}
	}
}
