// Package contracts is the deterministic state machine of the Ciro protocol: the CIRO ledger,
// staking, validators and slashing. It does no I/O, reads no clock, uses no floats and never
// lets map iteration order reach a result. Time and randomness come from the block it is given.
package contracts
