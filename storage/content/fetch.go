package content

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// Fetch makes the whole DAG under root local, fetching missing blocks over bitswap in one
// session with at most FetchWindow blocks wanted at a time. progress (optional) gets the bytes
// of blocks so far and the DAG's declared total. It fails with ErrFetchTimeout when no block
// arrives for FetchTimeout, and with ErrTooLarge past MaxFetchBytes.
func (s *Store) Fetch(ctx context.Context, root cid.Cid, progress func(done, total int64)) error {
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	return s.fetch(ctx, root, progress)
}

func (s *Store) fetch(ctx context.Context, root cid.Cid, progress func(done, total int64)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sess := blockservice.NewSession(ctx, s.bsvc)

	var (
		res      = make(chan blocks.Block, s.opts.FetchWindow)
		fwd      sync.WaitGroup
		frontier = []cid.Cid{root}
		wanted   = map[cid.Cid]struct{}{}
		seen     = map[cid.Cid]struct{}{root: {}}
		total    = int64(-1)
		done     int64
	)
	defer func() { cancel(); fwd.Wait() }()
	batch := s.opts.FetchWindow / 4
	if batch < 1 {
		batch = 1
	}
	stall := time.NewTimer(s.opts.FetchTimeout)
	defer stall.Stop()

	for len(frontier) > 0 || len(wanted) > 0 {
		// Keep the window full: want more blocks while fewer than FetchWindow are wanted.
		for len(frontier) > 0 && len(wanted) < s.opts.FetchWindow {
			k := min(batch, len(frontier), s.opts.FetchWindow-len(wanted))
			keys := make([]cid.Cid, 0, k)
			for _, c := range frontier[:k] {
				// Bitswap never transfers a zero-length block (an empty file's leaf); its
				// bytes are known, so store it here.
				if c == emptyRawCID {
					if err := s.bs.Put(ctx, emptyRawBlock); err != nil {
						return fmt.Errorf("content: store empty block: %w", err)
					}
					continue
				}
				wanted[c] = struct{}{}
				keys = append(keys, c)
			}
			frontier = frontier[k:]
			if len(keys) == 0 {
				continue
			}
			ch := sess.GetBlocks(ctx, keys)
			fwd.Add(1)
			go func() {
				defer fwd.Done()
				for b := range ch {
					select {
					case res <- b:
					case <-ctx.Done():
						return
					}
				}
			}()
		}
		if len(wanted) == 0 {
			// The frontier held only blocks known locally (the empty leaf): nothing to wait for.
			continue
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("content: fetch %s: %w", root, ctx.Err())
		case <-stall.C:
			return s.timeoutError(root, wanted)
		case b := <-res:
			c := b.Cid()
			if _, ok := wanted[c]; !ok {
				continue
			}
			delete(wanted, c)
			stall.Reset(s.opts.FetchTimeout)
			done += int64(len(b.RawData()))
			links, size, err := decodeLinks(b)
			if err != nil {
				return err
			}
			if c == root {
				total = size
				if total > s.opts.MaxFetchBytes {
					return tooLarge(total, s.opts.MaxFetchBytes)
				}
			}
			if done > s.opts.MaxFetchBytes {
				return tooLarge(done, s.opts.MaxFetchBytes)
			}
			for _, l := range links {
				if _, ok := seen[l]; !ok {
					seen[l] = struct{}{}
					frontier = append(frontier, l)
				}
			}
			if progress != nil {
				progress(done, total)
			}
		}
	}
	return nil
}

func (s *Store) timeoutError(root cid.Cid, wanted map[cid.Cid]struct{}) error {
	var first cid.Cid
	for c := range wanted {
		first = c
		break
	}
	msg := fmt.Sprintf("no peer sent a block of %s for %v (%d blocks missing, e.g. %s); is a provider online?", root, s.opts.FetchTimeout, len(wanted), first)
	return userError("CONTENT_FETCH_TIMEOUT", msg, fmt.Errorf("%w: %w", ErrFetchTimeout, context.DeadlineExceeded))
}

var (
	emptyRawCID   = cid.NewCidV1(cid.Raw, mustSum(nil))
	emptyRawBlock = mustBlock(nil, emptyRawCID)
)

func mustSum(b []byte) mh.Multihash {
	h, err := mh.Sum(b, mh.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return h
}

func mustBlock(b []byte, c cid.Cid) blocks.Block {
	blk, err := blocks.NewBlockWithCid(b, c)
	if err != nil {
		panic(err)
	}
	return blk
}

// decodeLinks returns a UnixFS block's children and the cumulative size it declares.
func decodeLinks(b blocks.Block) ([]cid.Cid, int64, error) {
	switch b.Cid().Type() {
	case cid.Raw:
		return nil, int64(len(b.RawData())), nil
	case cid.DagProtobuf:
		nd, err := merkledag.DecodeProtobufBlock(b)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %s: %w", ErrNotUnixFS, b.Cid(), err)
		}
		size := int64(len(b.RawData()))
		out := make([]cid.Cid, 0, len(nd.Links()))
		for _, l := range nd.Links() {
			out = append(out, l.Cid)
			size += int64(l.Size)
		}
		return out, size, nil
	}
	return nil, 0, fmt.Errorf("%w: codec %#x of %s", ErrNotUnixFS, b.Cid().Type(), b.Cid())
}

// GetOptions tune an export.
type GetOptions struct {
	// Progress is called during the fetch (block bytes) and the export (file bytes written),
	// with phase "fetch" or "write".
	Progress func(phase string, done, total int64)
	// Overwrite replaces an existing output file; directories are never merged.
	Overwrite bool
}

// Get fetches root and writes it to out: a file, or a directory tree. Names inside directories
// come from the network and are checked: no separators, no "." or "..".
func (s *Store) Get(ctx context.Context, root cid.Cid, out string, o GetOptions) error {
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	var prog func(int64, int64)
	if o.Progress != nil {
		prog = func(d, t int64) { o.Progress("fetch", d, t) }
	}
	if err := s.fetch(ctx, root, prog); err != nil {
		return err
	}
	nd, err := s.localDAG.Get(ctx, root)
	if err != nil {
		return fmt.Errorf("content: get %s: %w", root, err)
	}
	if _, err := os.Lstat(out); err == nil && !o.Overwrite {
		return userError("CONTENT_OUTPUT_EXISTS", fmt.Sprintf("%s already exists", out), ErrExists)
	}
	ex := &exporter{s: s, progress: o.Progress, total: -1}
	if pn, ok := nd.(*merkledag.ProtoNode); ok {
		if fsn, err := unixfs.FSNodeFromBytes(pn.Data()); err == nil && fsn.Type() == unixfs.TFile {
			ex.total = int64(fsn.FileSize())
		}
	} else {
		ex.total = int64(len(nd.RawData()))
	}
	return ex.write(ctx, nd, out)
}

type exporter struct {
	s        *Store
	progress func(phase string, done, total int64)
	done     int64
	total    int64
}

func (ex *exporter) write(ctx context.Context, nd ipld.Node, path string) error {
	if pn, ok := nd.(*merkledag.ProtoNode); ok {
		fsn, err := unixfs.FSNodeFromBytes(pn.Data())
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrNotUnixFS, nd.Cid(), err)
		}
		switch fsn.Type() {
		case unixfs.TDirectory, unixfs.THAMTShard:
			return ex.dir(ctx, nd, path)
		case unixfs.TFile, unixfs.TRaw:
		default:
			return fmt.Errorf("%w: %s has UnixFS type %s", ErrNotUnixFS, nd.Cid(), fsn.Type())
		}
	}
	r, err := uio.NewDagReader(ctx, nd, ex.s.localDAG)
	if err != nil {
		return fmt.Errorf("content: read %s: %w", nd.Cid(), err)
	}
	defer r.Close()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("content: write %s: %w", path, err)
	}
	_, err = io.Copy(&progressWriter{w: f, ex: ex}, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("content: write %s: %w", path, err)
	}
	return nil
}

func (ex *exporter) dir(ctx context.Context, nd ipld.Node, path string) error {
	d, err := uio.NewDirectoryFromNode(ex.s.localDAG, nd)
	if err != nil {
		return fmt.Errorf("content: read directory %s: %w", nd.Cid(), err)
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		return fmt.Errorf("content: write %s: %w", path, err)
	}
	return d.ForEachLink(ctx, func(l *ipld.Link) error {
		if !safeName(l.Name) {
			return userError("CONTENT_UNSAFE_NAME", fmt.Sprintf("directory %s holds an unsafe name %q", nd.Cid(), l.Name), ErrBadName)
		}
		child, err := l.GetNode(ctx, ex.s.localDAG)
		if err != nil {
			return fmt.Errorf("content: read %s: %w", l.Cid, err)
		}
		return ex.write(ctx, child, filepath.Join(path, l.Name))
	})
}

func safeName(n string) bool {
	return n != "" && n != "." && n != ".." && !strings.ContainsAny(n, "/\\\x00")
}

type progressWriter struct {
	w  io.Writer
	ex *exporter
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.ex.done += int64(n)
	if p.ex.progress != nil {
		p.ex.progress("write", p.ex.done, p.ex.total)
	}
	return n, err
}

// Cat fetches the file root and returns a reader over it (from local blocks) and its size.
func (s *Store) Cat(ctx context.Context, root cid.Cid) (io.ReadSeekCloser, int64, error) {
	if err := s.Fetch(ctx, root, nil); err != nil {
		return nil, 0, err
	}
	nd, err := s.localDAG.Get(ctx, root)
	if err != nil {
		return nil, 0, fmt.Errorf("content: cat %s: %w", root, err)
	}
	r, err := uio.NewDagReader(ctx, nd, s.localDAG)
	if err != nil {
		if errors.Is(err, uio.ErrIsDir) {
			return nil, 0, fmt.Errorf("%w: %s is a directory", ErrNotUnixFS, root)
		}
		return nil, 0, fmt.Errorf("content: cat %s: %w", root, err)
	}
	return r, int64(r.Size()), nil
}
