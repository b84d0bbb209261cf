// Package simulation is the discrete-event harness for researchers: a virtual clock, seeded
// randomness, scenario files and agent models that drive contracts/ directly.
package simulation
