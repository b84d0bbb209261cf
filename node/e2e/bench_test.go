package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/contracts"
	"github.com/ciro-network/ciro-node/node"
	"github.com/ciro-network/ciro-node/node/devnet"
	"github.com/ciro-network/ciro-node/node/nodetest"
)

// The chain benchmark's shape: benchValidators validator processes on this machine, and
// benchSenders funded accounts, each broadcasting benchPerSender transfers in nonce order to
// one node, the senders spread evenly over the nodes.
const (
	benchValidators = 4
	benchSenders    = 40
	benchPerSender  = 500
	// kvstoreTxBytes is the size of each baseline transaction.
	kvstoreTxBytes = 250
)

// benchProfileEnv names a directory: when set, node0 of the ciro network serves pprof and a
// CPU profile of it under load is written there as ciro-node0.cpu.pprof.
const benchProfileEnv = "BENCH_CHAIN_PROFILE"

var chainBenchOnce sync.Once

// BenchmarkChainTransfers measures the committed throughput of signed transfers on a network
// of four validator processes and compares it with CometBFT's kvstore example app run the same
// way (same homes, CometBFT configuration, process layout and load pattern). Throughput is
// counted from the block headers: the transactions in the blocks that carry the load, over the
// time from the first such block's parent to the last one. It runs once, whatever b.N is.
func BenchmarkChainTransfers(b *testing.B) {
	chainBenchOnce.Do(func() { runChainBench(b) })
}

func runChainBench(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	total := benchSenders * benchPerSender

	// Baseline: kvstore, fed unique key=value transactions.
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	kv := startBenchNet(b, ctx, self, func(home string) []string { return []string{kvstoreHomeEnv + "=" + home} }, "")
	kvTxs := make([][][]byte, benchSenders)
	for s := range kvTxs {
		for n := 0; n < benchPerSender; n++ {
			kvTxs[s] = append(kvTxs[s], kvstoreTx(s, n))
		}
	}
	kvRes := driveLoad(b, ctx, kv, kvTxs, nil)
	b.Logf("kvstore: %s", kvRes)
	if err := kv.Stop(); err != nil {
		b.Logf("stopping the kvstore network: %v", err)
	}

	// Ciro: signed transfers from funded accounts, signed before the clock starts.
	profileDir := os.Getenv(benchProfileEnv)
	pprofAddr := ""
	if profileDir != "" {
		pprofAddr = fmt.Sprintf("127.0.0.1:%d", nodetest.FreePortBase(b, 1))
	}
	d := startBenchNet(b, ctx, nodetest.Binary(b), nil, pprofAddr)
	chainID, err := d.Clients[0].ChainID(ctx)
	if err != nil {
		b.Fatal(err)
	}
	params, err := d.Clients[0].Params(ctx)
	if err != nil {
		b.Fatal(err)
	}
	senders := make([]*node.Key, benchSenders)
	for s := range senders {
		senders[s] = mustKey(b, d.Home(0), senderName(s))
	}
	ciroTxs := make([][][]byte, benchSenders)
	for s, k := range senders {
		to := senders[(s+1)%benchSenders].Address
		for n := 0; n < benchPerSender; n++ {
			tx := &contracts.Tx{ChainID: chainID, Nonce: uint64(n), Fee: params.MinTxFee,
				Msg: &contracts.Transfer{To: to, Amount: uint256.NewInt(1)}}
			tx.Sign(k.Private)
			ciroTxs[s] = append(ciroTxs[s], tx.Encode())
		}
	}
	var profile func()
	if pprofAddr != "" {
		profile = func() { saveCPUProfile(b, ctx, pprofAddr, filepath.Join(profileDir, "ciro-node0.cpu.pprof")) }
	}
	res := driveLoad(b, ctx, d, ciroTxs, profile)
	b.Logf("ciro: %s", res)

	// Every transfer took effect: each sender's nonce moved past its last transaction, and the
	// nodes agree on every app hash.
	for s, k := range senders {
		acc, err := d.Clients[0].Account(ctx, k.Address)
		if err != nil {
			b.Fatal(err)
		}
		if acc.Nonce != benchPerSender {
			b.Fatalf("%s: nonce %d after the load, want %d", senderName(s), acc.Nonce, benchPerSender)
		}
	}
	if _, err := d.CheckAgreement(ctx); err != nil {
		b.Fatal(err)
	}

	ratio := res.tps / kvRes.tps
	fmt.Printf("BENCH chain_transfer_tps %.0f ratio_vs_kvstore=%.2f kvstore_tps=%.0f block_time_p50_ms=%d txs=%d validators=%d\n",
		res.tps, ratio, kvRes.tps, res.p50.Milliseconds(), total, benchValidators)
	fmt.Printf("BENCH chain_block_time_p50_ms %d\n", res.p50.Milliseconds())
}

func senderName(s int) string { return fmt.Sprintf("bench%02d", s) }

// kvstoreTx is a unique kvstoreTxBytes-long key=value transaction.
func kvstoreTx(sender, n int) []byte {
	tx := []byte(fmt.Sprintf("s%02dn%06d=", sender, n))
	for len(tx) < kvstoreTxBytes {
		tx = append(tx, 'v')
	}
	return tx
}

// startBenchNet writes a benchmark testnet (the devnet configuration with the supply
// invariant check off, since it reads all state every block, and funded sender accounts) and
// starts its validators as processes of binary, each with env(home) added to its environment.
// pprofAddr, if set, is node0's pprof listener. The network stops at cleanup.
func startBenchNet(b *testing.B, ctx context.Context, binary string, env func(home string) []string, pprofAddr string) *devnet.Devnet {
	b.Helper()
	dir := b.TempDir()
	names := make([]string, benchSenders)
	for s := range names {
		names[s] = senderName(s)
	}
	err := node.GenerateTestnet(node.TestnetOptions{
		Validators: benchValidators, Output: dir, ExtraAccounts: names,
		BasePort: nodetest.FreePortBase(b, 10*benchValidators+2), APIBasePort: nodetest.FreePortBase(b, benchValidators),
	})
	if err != nil {
		b.Fatal(err)
	}
	d := &devnet.Devnet{Dir: dir}
	b.Cleanup(func() {
		if b.Failed() {
			dumpBenchLogs(b, d)
		}
		if err := d.Stop(); err != nil {
			b.Logf("stopping the network: %v", err)
		}
	})
	for i := 0; i < benchValidators; i++ {
		home := node.HomeOf(dir, i)
		cfg, err := node.LoadConfig(home)
		if err != nil {
			b.Fatal(err)
		}
		cfg.Chain.CheckInvariants = false
		if i == 0 {
			cfg.Chain.PprofListen = pprofAddr
		}
		if err := node.SaveConfig(home, cfg); err != nil {
			b.Fatal(err)
		}
		var extra []string
		if env != nil {
			extra = env(home)
		}
		p, err := devnet.StartProcess(binary, home, extra...)
		if err != nil {
			b.Fatal(err)
		}
		d.Procs = append(d.Procs, p)
		c, err := node.ClientForHome(home)
		if err != nil {
			b.Fatal(err)
		}
		d.Clients = append(d.Clients, c)
	}
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for i, c := range d.Clients {
		if err := devnet.WaitHeight(wctx, c, 1); err != nil {
			b.Fatalf("node%d: %v", i, err)
		}
	}
	return d
}

func dumpBenchLogs(b *testing.B, d *devnet.Devnet) {
	for i := range d.Procs {
		out, err := os.ReadFile(filepath.Join(d.Home(i), "node.log"))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		b.Logf("--- node%d log (last %d lines)\n%s", i, len(lines), strings.Join(lines, "\n"))
	}
}

// loadResult is what one network committed under load.
type loadResult struct {
	txs       int           // transactions in the loaded blocks
	blocks    int           // loaded blocks: the first with a transaction to the last
	span      time.Duration // last loaded block's time minus the first one's parent's
	tps       float64
	p50       time.Duration // median interval between consecutive loaded blocks
	broadcast time.Duration // how long the senders took to hand every transaction over
}

func (r loadResult) String() string {
	return fmt.Sprintf("%d txs in %d blocks over %s: %.0f tx/s, block time p50 %s, broadcast took %s",
		r.txs, r.blocks, r.span.Round(time.Millisecond), r.tps, r.p50, r.broadcast.Round(time.Millisecond))
}

// driveLoad broadcasts txs[s], in order, from sender s to node s mod validators, all senders at
// once, waits until the blocks hold every transaction and measures them. during, if set, runs
// while the load is on.
func driveLoad(b *testing.B, ctx context.Context, d *devnet.Devnet, txs [][][]byte, during func()) loadResult {
	b.Helper()
	total := 0
	for _, s := range txs {
		total += len(s)
	}
	c0 := d.Clients[0]
	if avg, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average before the load: %s", strings.TrimSpace(string(avg)))
	}
	start, err := c0.Height(ctx)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(txs))
	for s := range txs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := d.Clients[s%len(d.Clients)]
			for n, raw := range txs[s] {
				if _, err := c.Broadcast(ctx, raw); err != nil {
					errs <- fmt.Errorf("sender %d tx %d: %w", s, n, err)
					return
				}
			}
		}()
	}
	duringDone := make(chan struct{})
	go func() {
		defer close(duringDone)
		if during != nil {
			during()
		}
	}()
	wg.Wait()
	broadcast := time.Since(t0)
	close(errs)
	for err := range errs {
		b.Error(err)
	}
	if b.Failed() {
		b.FailNow()
	}

	// Collect block headers after start until they hold every transaction; give up when no
	// block adds any for a while.
	metas := map[int64]*cmttypes.BlockMeta{}
	seen, next := 0, start+1
	lastProgress := time.Now()
	for seen < total {
		if time.Since(lastProgress) > 60*time.Second {
			b.Fatalf("only %d of %d transactions committed, none for a minute", seen, total)
		}
		top, err := c0.Height(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for next <= top {
			res, err := c0.RPC.BlockchainInfo(ctx, next, min(top, next+19))
			if err != nil {
				b.Fatal(err)
			}
			for _, m := range res.BlockMetas {
				if metas[m.Header.Height] == nil {
					metas[m.Header.Height] = m
					seen += m.NumTxs
					if m.NumTxs > 0 {
						lastProgress = time.Now()
					}
				}
			}
			next = min(top, next+19) + 1
		}
		if seen < total {
			time.Sleep(200 * time.Millisecond)
		}
	}
	<-duringDone
	if seen != total {
		b.Fatalf("the blocks hold %d transactions, %d were sent", seen, total)
	}
	heights := slices.Sorted(func(yield func(int64) bool) {
		for h := range metas {
			if !yield(h) {
				return
			}
		}
	})
	first, last := int64(-1), int64(-1)
	for _, h := range heights {
		if metas[h].NumTxs > 0 {
			if first < 0 {
				first = h
			}
			last = h
		}
	}
	// The first loaded block's parent: in metas unless the load landed in start+1.
	parent := metas[first-1]
	if parent == nil {
		res, err := c0.RPC.BlockchainInfo(ctx, first-1, first-1)
		if err != nil || len(res.BlockMetas) != 1 {
			b.Fatalf("header %d: %v", first-1, err)
		}
		parent = res.BlockMetas[0]
	}
	var intervals []time.Duration
	prev := parent.Header.Time
	for h := first; h <= last; h++ {
		m := metas[h]
		if m == nil {
			b.Fatalf("no header for height %d", h)
		}
		intervals = append(intervals, m.Header.Time.Sub(prev))
		prev = m.Header.Time
	}
	slices.Sort(intervals)
	r := loadResult{
		txs: total, blocks: int(last - first + 1), span: metas[last].Header.Time.Sub(parent.Header.Time),
		p50: intervals[len(intervals)/2], broadcast: broadcast,
	}
	if r.span <= 0 {
		b.Fatalf("loaded blocks span %s", r.span)
	}
	r.tps = float64(r.txs) / r.span.Seconds()
	return r
}

// saveCPUProfile takes a 15-second CPU profile from a node's pprof listener, from 3 seconds into
// the load.
func saveCPUProfile(b *testing.B, ctx context.Context, addr, path string) {
	time.Sleep(3 * time.Second)
	err := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/profile?seconds=15", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, resp.Body); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}()
	if err != nil {
		b.Logf("cpu profile: %v", err)
		return
	}
	b.Logf("cpu profile of node0 written to %s", path)
}
