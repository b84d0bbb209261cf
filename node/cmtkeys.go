package node

import (
	"fmt"
	"os"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/privval"
)

// readFilePVKey reads CometBFT's validator key file. privval.LoadFilePV exits the process on a
// bad file; the node reports an error instead.
func readFilePVKey(path string) (*privval.FilePVKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("validator key: %w", err)
	}
	var key privval.FilePVKey
	if err := cmtjson.Unmarshal(b, &key); err != nil {
		return nil, fmt.Errorf("validator key %s: %w", path, err)
	}
	if key.PrivKey == nil {
		return nil, fmt.Errorf("validator key %s has no private key", path)
	}
	return &key, nil
}

// loadFilePVKey returns the validator's ed25519 public key bytes.
func loadFilePVKey(path string) ([]byte, error) {
	key, err := readFilePVKey(path)
	if err != nil {
		return nil, err
	}
	return key.PrivKey.PubKey().Bytes(), nil
}

// checkPrivValidatorFiles makes sure the files privval.LoadFilePV reads exist and parse.
func checkPrivValidatorFiles(keyPath, statePath string) error {
	if _, err := readFilePVKey(keyPath); err != nil {
		return err
	}
	if _, err := os.Stat(statePath); err != nil {
		return fmt.Errorf("validator state: %w", err)
	}
	return nil
}
