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

// Protobuf encoding, for the test models.
func varintBytes(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func bytesField(field int, payload []byte) []byte {
	b := varintBytes(uint64(field)<<3 | wireBytes)
	b = append(b, varintBytes(uint64(len(payload)))...)
	return append(b, payload...)
}

func varintField(field int, v uint64) []byte {
	return append(varintBytes(uint64(field)<<3|wireVarint), varintBytes(v)...)
}

func model(graph ...[]byte) []byte {
	m := varintField(modelIRVersion, 8)
	m = append(m, bytesField(2, []byte("test"))...) // producer_name
	m = append(m, bytesField(modelMetadata, append(bytesField(entryKey, []byte("vocab_size")), bytesField(entryValue, []byte("5000"))...))...)
	m = append(m, bytesField(modelMetadata, append(bytesField(entryKey, []byte("comment")), bytesField(entryValue, bytes.Repeat([]byte("x"), maxValue+1))...))...)
	return append(m, bytesField(modelGraph, bytes.Join(graph, nil))...)
}

func value(field int, name string) []byte {
	return bytesField(field, bytesField(valueInfoName, []byte(name)))
}

func TestCheck(t *testing.T) {
	node := bytesField(graphNode, bytesField(4, []byte("Relu"))) // op_type
	weights := bytesField(5, bytes.Repeat([]byte{0}, 1000))      // an initializer, skipped
	good := model(node, weights, value(graphInput, "input"), value(graphInput, "state"), value(graphOutput, "output"))
	tests := []struct {
		name    string
		data    []byte
		want    Outline
		wantErr bool
	}{
		{"a model", good, Outline{IRVersion: 8, Inputs: []string{"input", "state"}, Outputs: []string{"output"}, Nodes: 1, Metadata: map[string]string{"vocab_size": "5000", "comment": ""}}, false},
		{"text", []byte("this is not an onnx model\n"), Outline{}, true},
		{"empty", nil, Outline{}, true},
		{"truncated", good[:len(good)-3], Outline{}, true},
		{"no graph", varintField(modelIRVersion, 8), Outline{}, true},
		{"no nodes", model(value(graphInput, "x"), value(graphOutput, "y")), Outline{}, true},
		{"no outputs", model(node, value(graphInput, "x")), Outline{}, true},
		{"a length past the end", append(varintField(modelIRVersion, 8), 7<<3|2, 0xff, 0xff, 0x03), Outline{}, true},
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
	f.Add(model(bytesField(graphNode, nil), value(graphInput, "a"), value(graphOutput, "b")))
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
