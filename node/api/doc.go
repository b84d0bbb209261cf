// Package api is a Ciro node's HTTP API and Prometheus metrics: the operator surface (health, status, jobs, providers, validators, accounts, the node's wallet, content by
// CID, a Server-Sent Events stream of job changes, /metrics and its own OpenAPI document).
//
// It owns HTTP concerns only: routing, authentication of writes, decoding and checking
// request bodies, the JSON error shape with stable codes, and the metric families. Everything
// it serves comes through Backend, which the node implements; this package must not import
// node (node imports it), must not reach into consensus state or the blockstore itself, and
// must not use the global Prometheus registry, because several nodes run in one test process.
//
// Reads are open: the server binds localhost by default. Writes (every POST) need
// "Authorization: Bearer <token>", compared in constant time; a server without a token refuses
// every write. docs/api.md lists the endpoints and error codes; openapi.json is the contract
// and a test keeps it and the routes in step.
package api
