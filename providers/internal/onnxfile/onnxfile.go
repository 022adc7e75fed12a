// Package onnxfile checks that a file is an ONNX model before an engine
// loads it. onnxruntime, as sherpa-onnx embeds it, aborts the whole
// process on a file it cannot parse; reading the file's outline first
// turns a wrong path or a truncated download into an error.
//
// The check walks the protobuf wire format of the ModelProto without
// reading the weights: it needs the IR version, a graph with at least one
// node, and the graph's input and output names, which it returns. A file
// that passes can still be a model the engine rejects, but it is an
// ONNX file, whole.
package onnxfile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Outline is what Check read of a model.
type Outline struct {
	IRVersion       int64
	Inputs, Outputs []string
	Nodes           int
	// Metadata are the model's metadata_props, which engines read their
	// settings from; a value longer than maxValue is kept as "".
	Metadata map[string]string
}

// ErrNotONNX is wrapped by Check's errors for a file that is not a whole
// ONNX model.
var ErrNotONNX = errors.New("not an ONNX model")

// Field numbers of onnx.proto.
const (
	modelIRVersion = 1
	modelGraph     = 7
	modelMetadata  = 14
	entryKey       = 1
	entryValue     = 2
	graphNode      = 1
	graphInput     = 11
	graphOutput    = 12
	valueInfoName  = 1
)

// Wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// Longest strings read: names, metadata keys and values.
const (
	maxName  = 4096
	maxValue = 1 << 16
)

// Check reads the outline of the ONNX model at path.
func Check(path string) (Outline, error) {
	f, err := os.Open(path)
	if err != nil {
		return Outline{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Outline{}, err
	}
	if !st.Mode().IsRegular() {
		return Outline{}, fmt.Errorf("%s: %w: not a regular file", path, ErrNotONNX)
	}
	o, err := outline(f, st.Size())
	if err != nil {
		return o, fmt.Errorf("%s: %w: %v", path, ErrNotONNX, err)
	}
	return o, nil
}

func outline(r io.ReaderAt, size int64) (Outline, error) {
	var o Outline
	var graph, sawVersion bool
	err := walk(r, 0, size, func(field, wire int, off, n int64, v uint64) error {
		switch {
		case field == modelIRVersion && wire == wireVarint:
			o.IRVersion, sawVersion = int64(v), true
		case field == modelMetadata && wire == wireBytes:
			k, v, err := entry(r, off, n)
			if err != nil {
				return err
			}
			if o.Metadata == nil {
				o.Metadata = map[string]string{}
			}
			o.Metadata[k] = v
		case field == modelGraph && wire == wireBytes:
			graph = true
			return walk(r, off, off+n, func(field, wire int, off, n int64, _ uint64) error {
				if wire != wireBytes {
					return nil
				}
				switch field {
				case graphNode:
					o.Nodes++
				case graphInput, graphOutput:
					name, err := valueName(r, off, n)
					if err != nil {
						return err
					}
					if field == graphInput {
						o.Inputs = append(o.Inputs, name)
					} else {
						o.Outputs = append(o.Outputs, name)
					}
				}
				return nil
			})
		}
		return nil
	})
	switch {
	case err != nil:
		return o, err
	case !sawVersion || o.IRVersion <= 0:
		return o, errors.New("no IR version")
	case !graph || o.Nodes == 0:
		return o, errors.New("no graph")
	case len(o.Inputs) == 0 || len(o.Outputs) == 0:
		return o, errors.New("the graph has no inputs or no outputs")
	}
	return o, nil
}

// valueName returns the name of the ValueInfoProto at [off, off+n).
func valueName(r io.ReaderAt, off, n int64) (string, error) {
	var name string
	err := walk(r, off, off+n, func(field, wire int, off, n int64, _ uint64) error {
		if field != valueInfoName || wire != wireBytes {
			return nil
		}
		var err error
		name, err = str(r, off, n, maxName, true)
		return err
	})
	return name, err
}

// entry returns the key and value of the StringStringEntryProto at
// [off, off+n).
func entry(r io.ReaderAt, off, n int64) (key, value string, err error) {
	err = walk(r, off, off+n, func(field, wire int, off, n int64, _ uint64) error {
		var err error
		switch {
		case wire != wireBytes:
		case field == entryKey:
			key, err = str(r, off, n, maxName, true)
		case field == entryValue:
			value, err = str(r, off, n, maxValue, false)
		}
		return err
	})
	return key, value, err
}

// str reads the n bytes at off: an error when they are more than limit and
// strict, "" when they are more and not.
func str(r io.ReaderAt, off, n, limit int64, strict bool) (string, error) {
	if n > limit {
		if strict {
			return "", fmt.Errorf("a string of %d bytes", n)
		}
		return "", nil
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, off); err != nil {
		return "", err
	}
	return string(b), nil
}

// walk calls fn for each field of the message at [from, to): its number,
// wire type, and either its value (varints) or where its bytes are.
func walk(r io.ReaderAt, from, to int64, fn func(field, wire int, off, n int64, v uint64) error) error {
	off := from
	for off < to {
		key, k, err := varint(r, off, to)
		if err != nil {
			return err
		}
		off += k
		field, wire := int(key>>3), int(key&7)
		if field == 0 {
			return fmt.Errorf("field 0 at byte %d", off-k)
		}
		var v uint64
		var n int64
		switch wire {
		case wireVarint:
			v, k, err = varint(r, off, to)
			if err != nil {
				return err
			}
			off += k
		case wireFixed64:
			n = 8
		case wireFixed32:
			n = 4
		case wireBytes:
			v, k, err = varint(r, off, to)
			if err != nil {
				return err
			}
			off += k
			if v > uint64(to-off) {
				return fmt.Errorf("a field of %d bytes at byte %d runs past the end", v, off)
			}
			n = int64(v)
		default:
			return fmt.Errorf("wire type %d at byte %d", wire, off-k)
		}
		if off+n > to {
			return fmt.Errorf("truncated at byte %d", off)
		}
		if err := fn(field, wire, off, n, v); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// varint reads a base-128 varint at off, before to, and returns it and its
// length.
func varint(r io.ReaderAt, off, to int64) (uint64, int64, error) {
	var b [10]byte
	n := min(int64(len(b)), to-off)
	got, err := r.ReadAt(b[:n], off)
	if got < int(n) {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return 0, 0, err
	}
	var v uint64
	for i := range n {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1, nil
		}
	}
	return 0, 0, fmt.Errorf("a bad varint at byte %d", off)
}
