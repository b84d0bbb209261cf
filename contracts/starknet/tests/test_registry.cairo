// The registry against the vectors the Go implementation generated (tests/vectors.cairo): the
// same hashes, the same layouts, and the same outcome for every submission, in the same order.

use ciro_registry::registry::{
    ICheckpointRegistryDispatcher, ICheckpointRegistryDispatcherTrait, TAG_CHECKPOINT, TAG_VALSET,
    node_hash,
};
use core::poseidon::poseidon_hash_span;
use snforge_std::{ContractClassTrait, DeclareResultTrait, declare};
use starknet::ContractAddress;
use starknet::syscalls::call_contract_syscall;
use super::vectors;

fn deploy() -> ContractAddress {
    let class = declare("CheckpointRegistry").unwrap().contract_class();
    let mut calldata = array![vectors::CHAIN_ID];
    calldata.append_span(vectors::genesis_set().span());
    let (address, _) = class.deploy(@calldata).unwrap();
    address
}

// Submits raw calldata and returns 'accepted' / 'duplicate' / the refusal's reason. The registry
// emits CheckpointIgnored for a duplicate; the nonce tells the two successes apart.
fn submit(address: ContractAddress, calldata: Array<felt252>) -> felt252 {
    let registry = ICheckpointRegistryDispatcher { contract_address: address };
    let before = registry.last_nonce();
    match call_contract_syscall(address, vectors::SUBMIT_SELECTOR, calldata.span()) {
        Result::Ok(_) => { if registry.last_nonce() > before {
            'accepted'
        } else {
            'duplicate'
        } },
        Result::Err(panic_data) => *panic_data.at(0),
    }
}

fn prefixed(tag: felt252, felts: Array<felt252>) -> Span<felt252> {
    let mut data = array![tag];
    data.append_span(felts.span());
    data.span()
}

#[test]
fn test_hashes_match_go() {
    assert_eq!(poseidon_hash_span(vectors::app_hash_leaf_preimage().span()), vectors::APP_HASH_LEAF);
    let inputs = vectors::node_hash_inputs();
    assert_eq!(node_hash(*inputs.at(0), *inputs.at(1)), vectors::NODE_HASH);
    assert_eq!(node_hash(*inputs.at(1), *inputs.at(0)), vectors::NODE_HASH);
    assert_eq!(poseidon_hash_span(prefixed(TAG_VALSET, vectors::genesis_set())), vectors::GENESIS_SET_HASH);
    assert_eq!(poseidon_hash_span(prefixed(TAG_VALSET, vectors::next_set())), vectors::NEXT_SET_HASH);
    assert_eq!(poseidon_hash_span(vectors::job_leaf_preimage_0().span()), vectors::JOB_LEAF_0);
    assert_eq!(poseidon_hash_span(vectors::job_leaf_preimage_4().span()), vectors::JOB_LEAF_4);
    assert_eq!(
        poseidon_hash_span(prefixed(TAG_CHECKPOINT, vectors::epoch1_three_of_four_checkpoint())),
        vectors::EPOCH1_THREE_OF_FOUR_DIGEST,
    );
    assert_eq!(
        poseidon_hash_span(prefixed(TAG_CHECKPOINT, vectors::epoch2_rotation_checkpoint())),
        vectors::EPOCH2_ROTATION_DIGEST,
    );
}

#[test]
fn test_constructor_installs_genesis() {
    let registry = ICheckpointRegistryDispatcher { contract_address: deploy() };
    assert_eq!(registry.validator_set_hash(), vectors::GENESIS_SET_HASH);
    assert_eq!(registry.power_threshold(), vectors::GENESIS_THRESHOLD);
    assert_eq!(registry.last_nonce(), 0);
}

#[test]
fn test_vector_sequence() {
    let address = deploy();
    assert_eq!(submit(address, vectors::epoch1_three_of_four_calldata()), vectors::EPOCH1_THREE_OF_FOUR_EXPECT);
    assert_eq!(submit(address, vectors::epoch1_replayed_calldata()), vectors::EPOCH1_REPLAYED_EXPECT);
    assert_eq!(submit(address, vectors::epoch2_half_power_calldata()), vectors::EPOCH2_HALF_POWER_EXPECT);
    assert_eq!(
        submit(address, vectors::epoch2_signed_by_new_set_calldata()),
        vectors::EPOCH2_SIGNED_BY_NEW_SET_EXPECT,
    );
    assert_eq!(submit(address, vectors::epoch2_rotation_calldata()), vectors::EPOCH2_ROTATION_EXPECT);
    let registry = ICheckpointRegistryDispatcher { contract_address: address };
    assert_eq!(registry.validator_set_hash(), vectors::NEXT_SET_HASH);
    assert_eq!(registry.power_threshold(), vectors::NEXT_THRESHOLD);
    assert_eq!(submit(address, vectors::epoch3_old_set_calldata()), vectors::EPOCH3_OLD_SET_EXPECT);
    assert_eq!(submit(address, vectors::epoch3_new_set_calldata()), vectors::EPOCH3_NEW_SET_EXPECT);
    assert_eq!(registry.last_nonce(), 3);
    assert_eq!(registry.get_epoch(2).digest, vectors::EPOCH2_ROTATION_DIGEST);
}

#[test]
fn test_verify_job_settlement() {
    let address = deploy();
    assert_eq!(submit(address, vectors::epoch1_three_of_four_calldata()), 'accepted');
    let registry = ICheckpointRegistryDispatcher { contract_address: address };
    assert_eq!(registry.get_epoch(1).jobs_root, vectors::JOBS_ROOT);
    assert!(registry.verify_job_settlement(1, vectors::JOB_LEAF_0, vectors::job_proof_0().span()));
    assert!(registry.verify_job_settlement(1, vectors::JOB_LEAF_3, vectors::job_proof_3().span()));
    assert!(registry.verify_job_settlement(1, vectors::JOB_LEAF_4, vectors::job_proof_4().span()));
    // A proof for another leaf, and an epoch with no checkpoint, prove nothing.
    assert!(!registry.verify_job_settlement(1, vectors::JOB_LEAF_1, vectors::job_proof_0().span()));
    assert!(!registry.verify_job_settlement(2, vectors::JOB_LEAF_0, vectors::job_proof_0().span()));
}
