// The checkpoint registry: it follows Ciro's validator set and keeps, by epoch, the roots each
// checkpoint commits to. A checkpoint is taken only with STARK signatures of at least 2/3 of the
// current set's power over its digest; the set changes only when the current set signs a
// checkpoint that names the next one. Every hash here is computed the same way, felt for felt, in
// chain/checkpoint (Go), and tests/vectors.cairo pins both sides to the same values.

use core::poseidon::poseidon_hash_span;

pub const TAG_CHECKPOINT: felt252 = 'CIRO_CHECKPOINT_V1';
pub const TAG_VALSET: felt252 = 'CIRO_VALSET_V1';
pub const TAG_NODE: felt252 = 'CIRO_MERKLE_NODE';
pub const MAX_VALIDATORS: u32 = 256;
pub const MAX_TOTAL_POWER: u128 = 0x1000000000000000; // 2^60

#[derive(Copy, Drop, Serde, PartialEq, Debug)]
pub struct Checkpoint {
    pub chain_id: felt252,
    pub epoch: u64,
    pub start_height: u64,
    pub end_height: u64,
    pub app_root: felt252,
    pub next_set_hash: felt252,
    pub jobs_root: felt252,
    pub slashes_root: felt252,
    pub nonce: u64,
}

#[derive(Copy, Drop, Serde, PartialEq, Debug, starknet::Store)]
pub struct Member {
    pub pubkey: felt252,
    pub power: u128,
}

#[derive(Copy, Drop, Serde, PartialEq, Debug)]
pub struct Signature {
    pub index: u32,
    pub r: felt252,
    pub s: felt252,
}

#[derive(Copy, Drop, Serde, PartialEq, Debug, Default, starknet::Store)]
pub struct EpochRoots {
    pub nonce: u64,
    pub digest: felt252,
    pub app_root: felt252,
    pub jobs_root: felt252,
    pub slashes_root: felt252,
}

#[starknet::interface]
pub trait ICheckpointRegistry<TContractState> {
    fn submit_checkpoint(
        ref self: TContractState,
        checkpoint: Checkpoint,
        next_set: Span<Member>,
        signatures: Span<Signature>,
    );
    fn verify_job_settlement(
        self: @TContractState, epoch: u64, job_leaf: felt252, proof: Span<felt252>,
    ) -> bool;
    fn last_nonce(self: @TContractState) -> u64;
    fn validator_set_hash(self: @TContractState) -> felt252;
    fn power_threshold(self: @TContractState) -> u128;
    fn get_epoch(self: @TContractState, epoch: u64) -> EpochRoots;
}

// poseidon(TAG_CHECKPOINT, the checkpoint's nine felts).
pub fn checkpoint_digest(cp: @Checkpoint) -> felt252 {
    poseidon_hash_span(
        array![
            TAG_CHECKPOINT, *cp.chain_id, (*cp.epoch).into(), (*cp.start_height).into(),
            (*cp.end_height).into(), *cp.app_root, *cp.next_set_hash, *cp.jobs_root,
            *cp.slashes_root, (*cp.nonce).into(),
        ]
            .span(),
    )
}

// poseidon(TAG_VALSET, length, key_0, power_0, key_1, power_1, ...).
pub fn valset_hash(members: Span<Member>) -> felt252 {
    let mut data = array![TAG_VALSET, members.len().into()];
    for m in members {
        data.append(*m.pubkey);
        data.append((*m.power).into());
    };
    poseidon_hash_span(data.span())
}

// The set's rules, as chain/checkpoint's ValidatorSet.Validate: 1..256 members, keys strictly
// increasing and non-zero, powers positive, total at most 2^60. Returns the total power.
pub fn validate_set(members: Span<Member>) -> u128 {
    assert(members.len() > 0 && members.len() <= MAX_VALIDATORS, 'BAD_NEXT_SET');
    let mut total: u128 = 0;
    let mut prev: u256 = 0;
    for m in members {
        let key: u256 = (*m.pubkey).into();
        assert(key > prev, 'BAD_NEXT_SET');
        assert(*m.power > 0 && *m.power <= MAX_TOTAL_POWER - total, 'BAD_NEXT_SET');
        total += *m.power;
        prev = key;
    };
    total
}

// ceil(2 × total / 3).
pub fn threshold_of(total: u128) -> u128 {
    (2 * total + 2) / 3
}

// A Merkle node: poseidon(TAG_NODE, min(a, b), max(a, b)), comparing as integers.
pub fn node_hash(a: felt252, b: felt252) -> felt252 {
    let au: u256 = a.into();
    let bu: u256 = b.into();
    if au <= bu {
        poseidon_hash_span(array![TAG_NODE, a, b].span())
    } else {
        poseidon_hash_span(array![TAG_NODE, b, a].span())
    }
}

pub fn verify_proof(root: felt252, leaf: felt252, proof: Span<felt252>) -> bool {
    if root == 0 {
        return false;
    }
    let mut cur = leaf;
    for sib in proof {
        cur = node_hash(cur, *sib);
    };
    cur == root
}

#[starknet::contract]
pub mod CheckpointRegistry {
    use starknet::storage::{
        Map, StorageMapReadAccess, StorageMapWriteAccess, StoragePointerReadAccess,
        StoragePointerWriteAccess,
    };
    use core::ecdsa::check_ecdsa_signature;
    use super::{
        Checkpoint, EpochRoots, ICheckpointRegistry, Member, Signature, checkpoint_digest,
        threshold_of, validate_set, valset_hash, verify_proof,
    };

    #[storage]
    struct Storage {
        chain_id: felt252,
        set_hash: felt252,
        set_len: u32,
        members: Map<u32, Member>,
        threshold: u128,
        last_nonce: u64,
        last_epoch: u64,
        last_end: u64,
        digests: Map<u64, felt252>,
        roots: Map<u64, EpochRoots>,
    }

    #[event]
    #[derive(Drop, starknet::Event)]
    pub enum Event {
        CheckpointAccepted: CheckpointAccepted,
        CheckpointIgnored: CheckpointIgnored,
        SetRotated: SetRotated,
    }

    #[derive(Drop, starknet::Event)]
    pub struct CheckpointAccepted {
        #[key]
        pub epoch: u64,
        pub nonce: u64,
        pub digest: felt252,
    }

    #[derive(Drop, starknet::Event)]
    pub struct CheckpointIgnored {
        pub nonce: u64,
    }

    #[derive(Drop, starknet::Event)]
    pub struct SetRotated {
        pub set_hash: felt252,
        pub threshold: u128,
    }

    #[constructor]
    fn constructor(ref self: ContractState, chain_id: felt252, genesis: Span<Member>) {
        self.chain_id.write(chain_id);
        self.install(genesis);
    }

    #[generate_trait]
    impl InternalImpl of InternalTrait {
        fn install(ref self: ContractState, members: Span<Member>) {
            let total = validate_set(members);
            let mut i: u32 = 0;
            for m in members {
                self.members.write(i, *m);
                i += 1;
            };
            self.set_len.write(members.len());
            self.set_hash.write(valset_hash(members));
            self.threshold.write(threshold_of(total));
        }

        // Signatures in strictly increasing member order, each valid, reaching the threshold.
        fn check_quorum(self: @ContractState, digest: felt252, signatures: Span<Signature>) {
            let len = self.set_len.read();
            let mut power: u128 = 0;
            let mut next_index: u32 = 0;
            for sig in signatures {
                assert(*sig.index >= next_index && *sig.index < len, 'SIG_ORDER');
                let m = self.members.read(*sig.index);
                assert(check_ecdsa_signature(digest, m.pubkey, *sig.r, *sig.s), 'BAD_SIGNATURE');
                power += m.power;
                next_index = *sig.index + 1;
            };
            assert(power >= self.threshold.read(), 'LOW_POWER');
        }
    }

    #[abi(embed_v0)]
    impl RegistryImpl of ICheckpointRegistry<ContractState> {
        fn submit_checkpoint(
            ref self: ContractState,
            checkpoint: Checkpoint,
            next_set: Span<Member>,
            signatures: Span<Signature>,
        ) {
            assert(checkpoint.chain_id == self.chain_id.read(), 'WRONG_CHAIN');
            let digest = checkpoint_digest(@checkpoint);
            let last = self.last_nonce.read();
            if checkpoint.nonce <= last {
                // The same checkpoint again (a second relayer): ignored, so that the batch it
                // rides in does not revert. A different one under a used nonce: refused.
                assert(self.digests.read(checkpoint.nonce) == digest, 'STALE_NONCE');
                self.emit(CheckpointIgnored { nonce: checkpoint.nonce });
                return;
            }
            assert(checkpoint.nonce == last + 1, 'NONCE_GAP');
            assert(checkpoint.start_height <= checkpoint.end_height, 'BAD_RANGE');
            if last > 0 {
                assert(checkpoint.epoch > self.last_epoch.read(), 'BAD_RANGE');
                assert(checkpoint.start_height > self.last_end.read(), 'BAD_RANGE');
            }
            self.check_quorum(digest, signatures);
            if checkpoint.next_set_hash != self.set_hash.read() {
                // Only the current set, which just signed, can name its successor; install
                // checks the members' rules.
                assert(valset_hash(next_set) == checkpoint.next_set_hash, 'BAD_NEXT_SET');
                self.install(next_set);
                self.emit(SetRotated { set_hash: self.set_hash.read(), threshold: self.threshold.read() });
            } else {
                assert(next_set.len() == 0, 'BAD_NEXT_SET');
            }
            self.last_nonce.write(checkpoint.nonce);
            self.last_epoch.write(checkpoint.epoch);
            self.last_end.write(checkpoint.end_height);
            self.digests.write(checkpoint.nonce, digest);
            self
                .roots
                .write(
                    checkpoint.epoch,
                    EpochRoots {
                        nonce: checkpoint.nonce,
                        digest,
                        app_root: checkpoint.app_root,
                        jobs_root: checkpoint.jobs_root,
                        slashes_root: checkpoint.slashes_root,
                    },
                );
            self.emit(CheckpointAccepted { epoch: checkpoint.epoch, nonce: checkpoint.nonce, digest });
        }

        // Whether job_leaf (poseidon('CIRO_JOB', fields...), which the caller must compute from
        // the job's fields itself) is in the jobs tree of epoch's checkpoint.
        fn verify_job_settlement(
            self: @ContractState, epoch: u64, job_leaf: felt252, proof: Span<felt252>,
        ) -> bool {
            verify_proof(self.roots.read(epoch).jobs_root, job_leaf, proof)
        }

        fn last_nonce(self: @ContractState) -> u64 {
            self.last_nonce.read()
        }

        fn validator_set_hash(self: @ContractState) -> felt252 {
            self.set_hash.read()
        }

        fn power_threshold(self: @ContractState) -> u128 {
            self.threshold.read()
        }

        fn get_epoch(self: @ContractState, epoch: u64) -> EpochRoots {
            self.roots.read(epoch)
        }
    }
}
