// Package silero is the Silero VAD v5 voice activity model, run by
// sherpa-onnx, as a pipeline.VoiceActivity: each session gets its own model
// instance (a Classifier), which decides for every 32 ms window whether it
// is speech, while package vad's Detector does the endpointing.
//
// The model file is silero_vad_v5.onnx from the npm package
// @ricky0123/vad-web@0.0.31, kept in voicegate's models directory
// (ModelsDir, ModelPath); scripts/models.sh fetches it. The engine needs
// cgo on Linux; other builds have the package's API and fail in New.
package silero
