// Package app is voicegate's composition root as a library: it reads the
// configuration, builds the providers a Registry knows, and serves the
// gateway, the bundled page and the operator endpoints until a signal
// drains it.
//
// cmd/voicegate is app.Main with Builtin(). A program that wants voicegate
// with providers of its own (a private engine, a fake for load tests)
// copies Builtin(), adds its kinds and calls Main with that Registry:
//
//	reg := app.Builtin()
//	reg.LLM["mine"] = app.Decoded(mine.New) // mine.New(mine.Config, app.Deps) (pipeline.Generator, error)
//	reg.Tools = append(reg.Tools, pipeline.Tool{Name: "clock", Call: clock}) // run by the server
//	os.Exit(app.Main(os.Args[1:], reg))
package app
