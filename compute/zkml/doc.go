// Package zkml compiles models in compute/model's ONNX subset into gnark circuits that compute
// exactly the integers the native runtime computes (Q16.16 values, the same rounding and
// saturation, bit for bit), and proves and verifies inferences with Groth16 over BN254.
//
// Weights are circuit constants, so linear layers are linear combinations and cost no
// constraints; the cost is in rescaling (a hinted quotient with a range-checked remainder),
// saturation, ReLU, max pooling and argmax (hinted signs with range checks), and in the
// commitment to the input (Poseidon2). The public inputs are the model id, the input
// commitment and the outputs. Two variants: Commit (gnark's commitment-based range checks)
// and Plain (bit decomposition, no commitment, for verifiers such as Starknet's Garaga).
// docs/zk.md describes the design, the ceremony and the costs.
package zkml
