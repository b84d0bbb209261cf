package content

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"

	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// CIDBuilder is the CID format of everything this store imports: CIDv1, sha2-256. Leaves are raw
// blocks (codec raw); interior and directory nodes are dag-pb UnixFS.
var CIDBuilder = cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256, MhLength: -1}

// AddOptions tune one import.
type AddOptions struct {
	// Pin pins the root under this kind in the same step, so GC never sees it unpinned. Empty
	// leaves it unpinned.
	Pin PinKind
	// Name labels the pin (a file name, a job id).
	Name string
	// Progress is called as bytes are read: done so far, and total (-1 when unknown).
	Progress func(done, total int64)
	// NoProvide skips announcing the root in the DHT.
	NoProvide bool
}

// AddFile imports a file or a directory tree from the local filesystem and returns its root
// CID. Symbolic links and special files are refused.
func (s *Store) AddFile(ctx context.Context, path string, o AddOptions) (cid.Cid, error) {
	st, err := os.Stat(path)
	if err != nil {
		return cid.Undef, fmt.Errorf("content: add %s: %w", path, err)
	}
	total := st.Size()
	if st.IsDir() {
		total = 0
		err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				info, err := d.Info()
				if err != nil {
					return err
				}
				total += info.Size()
			}
			return nil
		})
		if err != nil {
			return cid.Undef, fmt.Errorf("content: add %s: %w", path, err)
		}
	}
	if total > s.opts.MaxImportBytes {
		return cid.Undef, tooLarge(total, s.opts.MaxImportBytes)
	}
	return s.add(ctx, o, total, func(imp *importer) (ipld.Node, error) {
		if st.IsDir() {
			return imp.dir(ctx, path)
		}
		return imp.file(path)
	})
}

// AddReader imports the bytes of r as one UnixFS file.
func (s *Store) AddReader(ctx context.Context, r io.Reader, o AddOptions) (cid.Cid, error) {
	return s.add(ctx, o, -1, func(imp *importer) (ipld.Node, error) { return imp.reader(r) })
}

func (s *Store) add(ctx context.Context, o AddOptions, total int64, build func(*importer) (ipld.Node, error)) (cid.Cid, error) {
	if o.Pin != "" && !o.Pin.valid() {
		return cid.Undef, fmt.Errorf("%w: %q", ErrBadPinKind, o.Pin)
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	buf := ipld.NewBufferedDAG(ctx, s.dag)
	imp := &importer{s: s, dag: buf, total: total, progress: o.Progress, ctx: ctx}
	nd, err := build(imp)
	if err != nil {
		return cid.Undef, err
	}
	if err := buf.Commit(); err != nil {
		return cid.Undef, fmt.Errorf("content: write blocks: %w", err)
	}
	root := nd.Cid()
	if o.Pin != "" {
		if err := s.writePin(ctx, Pin{CID: root, Kind: o.Pin, Name: o.Name}); err != nil {
			return cid.Undef, err
		}
	}
	if !o.NoProvide {
		s.queueProvide(root)
	}
	return root, nil
}

// importer holds the state of one import: the byte budget and the progress counter.
type importer struct {
	s        *Store
	ctx      context.Context
	dag      ipld.DAGService
	total    int64
	done     atomic.Int64
	progress func(done, total int64)
}

func (imp *importer) file(path string) (ipld.Node, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("content: add %s: %w", path, err)
	}
	defer f.Close()
	return imp.reader(f)
}

func (imp *importer) reader(r io.Reader) (ipld.Node, error) {
	params := helpers.DagBuilderParams{
		Dagserv:    imp.dag,
		RawLeaves:  true,
		Maxlinks:   helpers.DefaultLinksPerBlock,
		CidBuilder: CIDBuilder,
	}
	db, err := params.New(chunker.NewSizeSplitter(&countingReader{r: r, imp: imp}, DefaultChunkSize))
	if err != nil {
		return nil, fmt.Errorf("content: import: %w", err)
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		if errors.Is(err, ErrTooLarge) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		var ue *Error
		if errors.As(err, &ue) {
			return nil, err
		}
		return nil, fmt.Errorf("content: import: %w", err)
	}
	return nd, nil
}

func (imp *importer) dir(ctx context.Context, path string) (ipld.Node, error) {
	d, err := uio.NewDirectory(imp.dag, uio.WithCidBuilder(CIDBuilder))
	if err != nil {
		return nil, fmt.Errorf("content: import %s: %w", path, err)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("content: import %s: %w", path, err)
	}
	for _, e := range entries {
		child := filepath.Join(path, e.Name())
		var nd ipld.Node
		switch {
		case e.IsDir():
			nd, err = imp.dir(ctx, child)
		case e.Type().IsRegular():
			nd, err = imp.file(child)
		default:
			return nil, userError("CONTENT_SPECIAL_FILE", fmt.Sprintf("%s is a link or special file; only regular files and directories are imported", child), ErrBadName)
		}
		if err != nil {
			return nil, err
		}
		if err := d.AddChild(ctx, e.Name(), nd); err != nil {
			return nil, fmt.Errorf("content: import %s: %w", child, err)
		}
	}
	nd, err := d.GetNode()
	if err != nil {
		return nil, fmt.Errorf("content: import %s: %w", path, err)
	}
	if err := imp.dag.Add(ctx, nd); err != nil {
		return nil, fmt.Errorf("content: import %s: %w", path, err)
	}
	return nd, nil
}

// countingReader enforces the import limit, reports progress and honours cancellation.
type countingReader struct {
	r   io.Reader
	imp *importer
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.imp.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	done := c.imp.done.Add(int64(n))
	if limit := c.imp.s.opts.MaxImportBytes; done > limit {
		return n, tooLarge(done, limit)
	}
	if c.imp.progress != nil && n > 0 {
		c.imp.progress(done, c.imp.total)
	}
	return n, err
}

func tooLarge(n, limit int64) error {
	return userError("CONTENT_TOO_LARGE", fmt.Sprintf("%d bytes is over the limit of %d bytes", n, limit), ErrTooLarge)
}
