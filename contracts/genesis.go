package contracts

import (
	"encoding/json"
	"fmt"

	"github.com/holiman/uint256"
)

// Genesis is the initial state, carried as app_state in CometBFT's genesis file.
type Genesis struct {
	Params   Params           `json:"params"`
	Accounts []GenesisAccount `json:"accounts"`
	Stakers  []GenesisStaker  `json:"stakers"`
}

// GenesisAccount is a balance minted at genesis.
type GenesisAccount struct {
	Address Address      `json:"address"`
	Balance *uint256.Int `json:"balance"`
}

// GenesisStaker is stake minted and bonded at genesis: the initial validators, typically.
type GenesisStaker struct {
	Address    Address      `json:"address"`
	Roles      uint8        `json:"roles"`
	ConsPubKey []byte       `json:"cons_pub_key,omitempty"` // base64 in JSON
	Moniker    string       `json:"moniker"`
	Stake      *uint256.Int `json:"stake"`
}

// ParseGenesis decodes and validates app_state JSON.
func ParseGenesis(b []byte) (*Genesis, error) {
	var g Genesis
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("genesis app_state: %w", err)
	}
	if err := g.Params.Validate(); err != nil {
		return nil, fmt.Errorf("genesis params: %w", err)
	}
	return &g, nil
}

// InitGenesis writes the genesis state and returns the initial validator set. Genesis stake is
// minted to the staker's balance and then bonded, so it passes through the same rules as a
// Stake transaction.
func (m *Machine) InitGenesis(chainID string, g *Genesis) ([]ValidatorUpdate, error) {
	if err := g.Params.Validate(); err != nil {
		return nil, fmt.Errorf("genesis params: %w", err)
	}
	st := state{kv: m.kv}
	if err := st.setParams(g.Params); err != nil {
		return nil, err
	}
	x := &exec{st: st, block: &Block{ChainID: chainID}, params: g.Params}
	seen := map[Address]bool{}
	for i, a := range g.Accounts {
		if seen[a.Address] {
			return nil, fmt.Errorf("genesis account %d: %s is listed twice", i, a.Address)
		}
		seen[a.Address] = true
		if a.Balance == nil {
			return nil, fmt.Errorf("genesis account %d: no balance", i)
		}
		if err := x.mint(a.Address, a.Balance); err != nil {
			return nil, fmt.Errorf("genesis account %d: %w", i, err)
		}
	}
	for i, s := range g.Stakers {
		msg := &Stake{Amount: s.Stake, Roles: s.Roles, ConsPubKey: s.ConsPubKey, Moniker: s.Moniker}
		if err := msg.ValidateBasic(); err != nil {
			return nil, fmt.Errorf("genesis staker %d: %w", i, err)
		}
		if err := x.mint(s.Address, s.Stake); err != nil {
			return nil, fmt.Errorf("genesis staker %d: %w", i, err)
		}
		if err := x.stake(s.Address, msg); err != nil {
			return nil, fmt.Errorf("genesis staker %d: %w", i, err)
		}
	}
	updates, err := x.updateValidatorSet()
	if err != nil {
		return nil, err
	}
	if len(updates) == 0 {
		return nil, fmt.Errorf("genesis has no eligible validator: stake at least %s with a consensus key", FormatCIRO(g.Params.MinValidatorStake))
	}
	return updates, nil
}
