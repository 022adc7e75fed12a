// Package sherpa recognises speech with sherpa-onnx and models the operator
// puts in a directory: a streaming zipformer transducer (the bilingual
// Chinese–English one among them), which gives partial transcripts as audio
// arrives, or an offline model (SenseVoice, Whisper, Moonshine, Paraformer),
// which decodes the whole utterance at Finish.
//
// New checks the directory first, file by file, and names what is missing.
// It also checks that each model file is a whole ONNX model carrying the
// metadata the engine reads first, and that tokens.txt is a token table:
// sherpa-onnx's onnxruntime aborts the process on a file it cannot parse,
// and the engine exits it when a model lacks its metadata, so such files
// must never reach it.
//
// The engine needs cgo on Linux; other builds have the package's API and
// fail in New.
package sherpa
