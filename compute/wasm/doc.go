// Package wasm is the WebAssembly executor: WASI preview 1 modules run on wazero, in process,
// deterministically. It owns the sandbox of a WASM job: no network (no sockets are offered),
// a fixed virtual clock, a random source seeded from the job, a linear-memory cap, a wall-time
// limit (wazero has no fuel metering, so time is the only CPU bound), the input directory
// mounted read-only at /input and the output directory at /output.
//
// It must not fetch modules or know about the market: the caller hands it the module bytes.
package wasm
