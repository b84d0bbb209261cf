// Package market holds the off-chain agents of the job market: the provider agent (post
// standing asks, watch assignments, run won jobs, upload and submit results, withdraw
// earnings), the client (build and submit a job, follow it, fetch the result) and the
// verifier a validator runs for sampled jobs. It changes chain state only through signed
// transactions sent through the Chain interface, which the node implements; it never imports
// node, consensus or p2p. docs/market.md describes the lifecycle.
package market
