package node

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/ciro-network/ciro-node/contracts"
)

// Account keys live in HOME/keys/<name>.json with mode 0600, one ed25519 key a file, the way
// CometBFT keeps its validator key. They are not encrypted: protect the home directory.

// ErrKeyNotFound means no key file has the name asked for.
var ErrKeyNotFound = errors.New("key not found")

// ErrKeyExists means a key of that name is already there.
var ErrKeyExists = errors.New("key already exists")

var keyNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)

// Key is an account key.
type Key struct {
	Name    string             `json:"name"`
	Address contracts.Address  `json:"address"`
	PubKey  string             `json:"pub_key"`
	Private ed25519.PrivateKey `json:"-"`
}

type keyFile struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	PubKey  string `json:"pub_key"`
	PrivKey string `json:"priv_key"`
}

// KeysDir is where a home keeps account keys.
func KeysDir(home string) string { return filepath.Join(home, "keys") }

func keyPath(home, name string) string { return filepath.Join(KeysDir(home), name+".json") }

// AddKey generates a key named name under home.
func AddKey(home, name string) (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return ImportKey(home, name, priv)
}

// ImportKey stores priv under home as name.
func ImportKey(home, name string, priv ed25519.PrivateKey) (*Key, error) {
	if !keyNameRE.MatchString(name) {
		return nil, fmt.Errorf("key name %q: use 1-64 letters, digits, '.', '_' or '-'", name)
	}
	if err := os.MkdirAll(KeysDir(home), 0o700); err != nil {
		return nil, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	kf := keyFile{Name: name, Address: contracts.AddressOf(pub).String(), PubKey: hex.EncodeToString(pub), PrivKey: hex.EncodeToString(priv)}
	b, _ := json.MarshalIndent(kf, "", "  ")
	f, err := os.OpenFile(keyPath(home, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%w: %s", ErrKeyExists, name)
		}
		return nil, err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return &Key{Name: name, Address: contracts.AddressOf(pub), PubKey: kf.PubKey, Private: priv}, nil
}

// LoadKey reads the key named name under home.
func LoadKey(home, name string) (*Key, error) {
	b, err := os.ReadFile(keyPath(home, name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: no key %q in %s (see `ciro-node keys list`)", ErrKeyNotFound, name, KeysDir(home))
		}
		return nil, err
	}
	var kf keyFile
	if err := json.Unmarshal(b, &kf); err != nil {
		return nil, fmt.Errorf("key file %s: %w", keyPath(home, name), err)
	}
	priv, err := hex.DecodeString(kf.PrivKey)
	if err != nil || len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("key file %s: bad private key", keyPath(home, name))
	}
	pk := ed25519.PrivateKey(priv)
	pub := pk.Public().(ed25519.PublicKey)
	return &Key{Name: kf.Name, Address: contracts.AddressOf(pub), PubKey: hex.EncodeToString(pub), Private: pk}, nil
}

// ListKeys returns the keys under home, by name.
func ListKeys(home string) ([]*Key, error) {
	entries, err := os.ReadDir(KeysDir(home))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var keys []*Key
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue
		}
		k, err := LoadKey(home, name)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Name < keys[j].Name })
	return keys, nil
}
