package api

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/contracts"
)

// walletTxCases: POST /wallet/tx sends the message of a tx signed with the node's own key
// through the node's sequencer; a tx signed by another key, or with a bad signature, is
// refused. cases() includes them.
func walletTxCases() []apiCase {
	_, nodeKey, _ := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{1}, 64)))
	_, otherKey, _ := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{2}, 64)))
	signed := func(k ed25519.PrivateKey) *contracts.Tx {
		tx := &contracts.Tx{Msg: &contracts.Burn{Amount: uint256.NewInt(5)}}
		tx.Sign(k)
		return tx
	}
	body := func(tx *contracts.Tx) string { return fmt.Sprintf(`{"tx":%q}`, hex.EncodeToString(tx.Encode())) }
	forged := signed(nodeKey)
	forged.Msg = &contracts.Burn{Amount: uint256.NewInt(500)} // the signature no longer matches
	nodeAddr := contracts.AddressOf(nodeKey.Public().(ed25519.PublicKey))
	setup := func(f *fakeBackend) { f.wallet = nodeAddr }
	return []apiCase{
		{name: "own key", method: "POST", path: "/wallet/tx", token: testToken, body: body(signed(nodeKey)), setup: setup, status: 200,
			check: func(t *testing.T, rec *httptest.ResponseRecorder, f *fakeBackend) {
				var v TxView
				decode(t, rec, &v)
				if v.Hash != "BEEF" || len(f.sent) != 1 || f.sent[0].(*contracts.Burn).Amount.Uint64() != 5 {
					t.Errorf("tx %+v, sent %v", v, f.sent)
				}
			}},
		{name: "another key", method: "POST", path: "/wallet/tx", token: testToken, body: body(signed(otherKey)), setup: setup, status: 403, code: "unauthorized"},
		{name: "forged signature", method: "POST", path: "/wallet/tx", token: testToken, body: body(forged), setup: setup, status: 400, code: "bad_signature", field: "tx"},
		{name: "not hex", method: "POST", path: "/wallet/tx", token: testToken, body: `{"tx":"zz"}`, setup: setup, status: 400, code: "malformed", field: "tx"},
		{name: "missing", method: "POST", path: "/wallet/tx", token: testToken, body: `{}`, setup: setup, status: 400, code: CodeMissingField, field: "tx"},
		{name: "no token", method: "POST", path: "/wallet/tx", body: body(signed(nodeKey)), setup: setup, status: 401, code: CodeUnauthorized},
	}
}
