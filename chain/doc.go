// Package chain talks to Starknet: the relayer account, checkpoint batching and submission,
// receipts and retries.
package chain
