package onnxfile

import (
	"maps"
	"slices"
)

// Build encodes a model with outline o: its IR version, metadata, and a
// graph of o.Nodes nodes without operators and o's inputs and outputs
// (nothing is written for an empty part). Check reads it back as o. No
// engine can run it: it is for testing code that checks model files.
func Build(o Outline) []byte {
	var m []byte
	if o.IRVersion != 0 {
		m = appendVarintField(m, modelIRVersion, uint64(o.IRVersion))
	}
	for _, k := range slices.Sorted(maps.Keys(o.Metadata)) {
		var e []byte
		e = appendBytesField(e, entryKey, []byte(k))
		e = appendBytesField(e, entryValue, []byte(o.Metadata[k]))
		m = appendBytesField(m, modelMetadata, e)
	}
	var g []byte
	for range o.Nodes {
		g = appendBytesField(g, graphNode, nil)
	}
	for _, name := range o.Inputs {
		g = appendBytesField(g, graphInput, appendBytesField(nil, valueInfoName, []byte(name)))
	}
	for _, name := range o.Outputs {
		g = appendBytesField(g, graphOutput, appendBytesField(nil, valueInfoName, []byte(name)))
	}
	if len(g) > 0 {
		m = appendBytesField(m, modelGraph, g)
	}
	return m
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendVarintField(b []byte, field int, v uint64) []byte {
	return appendVarint(appendVarint(b, uint64(field)<<3|wireVarint), v)
}

func appendBytesField(b []byte, field int, payload []byte) []byte {
	b = appendVarint(b, uint64(field)<<3|wireBytes)
	return append(appendVarint(b, uint64(len(payload))), payload...)
}
