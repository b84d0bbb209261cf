package node

import (
	"context"
	"testing"

	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
)

// A job's model or input is refused unless every block of its DAG is in the node's store: a
// root alone, or a DAG with a leaf gone, would leave the provider that takes the job unable to
// fetch it.
func TestMissingBlock(t *testing.T) {
	ctx := context.Background()
	leafA := merkledag.NewRawNode([]byte("a"))
	leafB := merkledag.NewRawNode([]byte("b"))
	root := merkledag.NodeWithData([]byte{8, 1})
	if err := root.AddNodeLink("a", leafA); err != nil {
		t.Fatal(err)
	}
	if err := root.AddNodeLink("b", leafB); err != nil {
		t.Fatal(err)
	}
	unknown := merkledag.NewRawNode([]byte("never stored")).Cid()
	for _, tc := range []struct {
		name   string
		stored []interface{ Cid() cid.Cid }
		root   cid.Cid
		want   cid.Cid
	}{
		{"unknown CID", nil, unknown, unknown},
		{"root without leaves", []interface{ Cid() cid.Cid }{root}, root.Cid(), leafB.Cid()},
		{"one leaf missing", []interface{ Cid() cid.Cid }{root, leafB}, root.Cid(), leafA.Cid()},
		{"whole DAG", []interface{ Cid() cid.Cid }{root, leafA, leafB}, root.Cid(), cid.Undef},
		{"a raw leaf", []interface{ Cid() cid.Cid }{leafA}, leafA.Cid(), cid.Undef},
		{"an identity CID holds its data", nil, cid.MustParse("bafkqaaa"), cid.Undef},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bs := blockstore.NewBlockstore(dssync.MutexWrap(datastore.NewMapDatastore()))
			for _, n := range tc.stored {
				var err error
				switch v := n.(type) {
				case *merkledag.ProtoNode:
					err = bs.Put(ctx, v)
				case *merkledag.RawNode:
					err = bs.Put(ctx, v)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			got, err := missingBlock(ctx, bs, tc.root)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equals(tc.want) {
				t.Fatalf("missing %s, want %s", got, tc.want)
			}
		})
	}
}
