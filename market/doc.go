// Package market holds the off-chain agents of the job market: the provider agent that bids,
// runs and submits results, and the client side that submits jobs and fetches results. It
// changes chain state only through signed transactions.
package market
