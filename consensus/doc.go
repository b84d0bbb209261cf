// Package consensus is the ABCI 2.0 application that CometBFT drives. It decodes and checks
// transactions, routes them to contracts/, computes the app hash, turns staking into validator
// updates and misbehaviour into slashing. It decides no market rule itself.
package consensus
