// Package cidtest computes the UnixFS CID a directory would get from storage/ (CIDv1, raw
// leaves, 256 KiB chunks, balanced layout, sha2-256) over an in-memory blockstore. It exists
// only for tests of compute/ that prove results are identical across runs; it must not be
// used by production code, which leaves importing to storage/.
package cidtest

import (
	"context"
	"os"
	"path/filepath"
	"sort"

	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	mdtest "github.com/ipfs/boxo/ipld/merkledag/test"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/multiformats/go-multihash"
)

var builder = cid.V1Builder{Codec: cid.DagProtobuf, MhType: multihash.SHA2_256}

// DirCID returns the CID of dir imported as a UnixFS directory.
func DirCID(dir string) (cid.Cid, error) {
	ds := mdtest.Mock()
	n, err := importPath(context.Background(), ds, dir)
	if err != nil {
		return cid.Undef, err
	}
	return n.Cid(), nil
}

func importPath(ctx context.Context, ds ipld.DAGService, path string) (ipld.Node, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		p := helpers.DagBuilderParams{Maxlinks: helpers.DefaultLinksPerBlock, RawLeaves: true, CidBuilder: builder, Dagserv: ds}
		db, err := p.New(chunker.NewSizeSplitter(f, 256<<10))
		if err != nil {
			return nil, err
		}
		return balanced.Layout(db)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	d, err := uio.NewBasicDirectory(ds)
	if err != nil {
		return nil, err
	}
	d.SetCidBuilder(builder)
	for _, e := range entries {
		child, err := importPath(ctx, ds, filepath.Join(path, e.Name()))
		if err != nil {
			return nil, err
		}
		if err := d.AddChild(ctx, e.Name(), child); err != nil {
			return nil, err
		}
	}
	n, err := d.GetNode()
	if err != nil {
		return nil, err
	}
	if pn, ok := n.(*merkledag.ProtoNode); ok {
		return pn, ds.Add(ctx, pn)
	}
	return n, ds.Add(ctx, n)
}
