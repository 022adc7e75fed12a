package onnxfile

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestCheck(t *testing.T) {
	want := Outline{IRVersion: 8, Inputs: []string{"input", "state"}, Outputs: []string{"output"}, Nodes: 2, Metadata: map[string]string{"vocab_size": "5000", "comment": ""}}
	good := Build(want)
	// What Build does not write: other fields of the model and of the
	// graph, and a metadata value too long to keep.
	extra := appendBytesField(nil, 2, []byte("test")) // producer_name
	extra = appendBytesField(extra, modelMetadata, appendBytesField(appendBytesField(nil, entryKey, []byte("long")), entryValue, bytes.Repeat([]byte("x"), maxValue+1)))
	extra = appendBytesField(extra, modelGraph, appendBytesField(appendBytesField(nil, 5, bytes.Repeat([]byte{0}, 1000)), graphNode, appendBytesField(nil, 4, []byte("Relu"))))
	wantExtra := want
	wantExtra.Nodes, wantExtra.Metadata = 3, map[string]string{"vocab_size": "5000", "comment": "", "long": ""}
	tests := []struct {
		name    string
		data    []byte
		want    Outline
		wantErr bool
	}{
		{"a model", good, want, false},
		{"a model with more", append(slices.Clone(good), extra...), wantExtra, false},
		{"text", []byte("this is not an onnx model\n"), Outline{}, true},
		{"empty", nil, Outline{}, true},
		{"truncated", good[:len(good)-3], Outline{}, true},
		{"no IR version", Build(Outline{Nodes: 1, Inputs: []string{"x"}, Outputs: []string{"y"}}), Outline{}, true},
		{"no graph", Build(Outline{IRVersion: 8}), Outline{}, true},
		{"no nodes", Build(Outline{IRVersion: 8, Inputs: []string{"x"}, Outputs: []string{"y"}}), Outline{}, true},
		{"no outputs", Build(Outline{IRVersion: 8, Nodes: 1, Inputs: []string{"x"}}), Outline{}, true},
		{"a length past the end", append(appendVarintField(nil, modelIRVersion, 8), 7<<3|2, 0xff, 0xff, 0x03), Outline{}, true},
		{"a bad varint", bytes.Repeat([]byte{0xff}, 12), Outline{}, true},
		{"a group", []byte{1<<3 | 3}, Outline{}, true},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "m.onnx")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := Check(path)
			if tt.wantErr {
				if !errors.Is(err, ErrNotONNX) {
					t.Fatalf("Check = %+v, %v; want ErrNotONNX", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.IRVersion != tt.want.IRVersion || got.Nodes != tt.want.Nodes || !slices.Equal(got.Inputs, tt.want.Inputs) || !slices.Equal(got.Outputs, tt.want.Outputs) || !maps.Equal(got.Metadata, tt.want.Metadata) {
				t.Errorf("Check = %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := Check(filepath.Join(dir, "missing.onnx")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Check(dir); !errors.Is(err, ErrNotONNX) {
		t.Errorf("a directory: %v", err)
	}
}

// FuzzCheck: whatever the file holds, Check returns an outline or
// ErrNotONNX, and never panics.
func FuzzCheck(f *testing.F) {
	f.Add(Build(Outline{IRVersion: 8, Nodes: 1, Inputs: []string{"a"}, Outputs: []string{"b"}, Metadata: map[string]string{"k": "v"}}))
	f.Add([]byte("not a model"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "m.onnx")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Check(path); err != nil && !errors.Is(err, ErrNotONNX) {
			t.Fatalf("error not ErrNotONNX: %v", err)
		}
	})
}
