package contracts

import "encoding/binary"

// Key layout of the job market.
const (
	prefixJob         byte = 0x20 // | id → Job
	prefixProvider    byte = 0x21 // | addr → Provider
	prefixPending     byte = 0x22 // | 3-priority | id → pending job, highest priority first
	prefixDeadline    byte = 0x23 // | height | id | slot → running assignment's deadline
	prefixWindow      byte = 0x24 // | height | id | slot → sampled result's challenge window end
	prefixProviderJob byte = 0x25 // | provider | id → slot, for a provider's open assignments
	prefixLoad        byte = 0x27 // → network load (running assignments, total capacity)
	prefixClientJob   byte = 0x28 // | client | ^id → marker, for a client's jobs, newest first
	// 0x29, 0x2a: the ask indexes (index.go)
	prefixPendingExpiry byte = 0x2b // | height | id → pending job whose wait for a provider ends then
	prefixFresh         byte = 0x2c // | 3-priority | id → job queued during this block
	prefixClientPending byte = 0x2d // | client → how many of the client's jobs are pending
	prefixAuctionCursor byte = 0x2e // → the pending key the backlog scan last visited
	prefixDispute       byte = 0x30 // | id → Dispute, a job's open dispute
	prefixDisputeEnd    byte = 0x31 // | height | id | 0 → open dispute's last height
	prefixRevealEnd     byte = 0x32 // | height | id | 0 → redundant job's reveal window end
)

func disputeKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixDispute}, id)
}

// marker is the value of index entries: the store refuses empty values.
var marker = []byte{1}

// JobKey is where job id lives.
func JobKey(id uint64) []byte { return binary.BigEndian.AppendUint64([]byte{prefixJob}, id) }

// ProviderKey is where a provider's record lives.
func ProviderKey(a Address) []byte { return append([]byte{prefixProvider}, a[:]...) }

func pendingKey(p Priority, id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixPending, byte(numPriorities - 1 - p)}, id)
}

func slotKey(prefix byte, height, id uint64, slot int) []byte {
	k := binary.BigEndian.AppendUint64([]byte{prefix}, height)
	k = binary.BigEndian.AppendUint64(k, id)
	return append(k, byte(slot))
}

func providerJobKey(p Address, id uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{prefixProviderJob}, p[:]...), id)
}

func clientJobKey(c Address, id uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{prefixClientJob}, c[:]...), ^id)
}

// networkLoad feeds u, the utilisation in the network fee.
type networkLoad struct {
	Active   uint64
	Capacity uint64
}

func (s state) job(id uint64) (*Job, error) {
	b, err := s.kv.Get(JobKey(id))
	if err != nil || b == nil {
		return nil, err
	}
	return DecodeJob(b)
}

func (s state) setJob(j *Job) error { return s.kv.Set(JobKey(j.ID), j.encode()) }

func (s state) provider(a Address) (*Provider, error) {
	b, err := s.kv.Get(ProviderKey(a))
	if err != nil || b == nil {
		return nil, err
	}
	return DecodeProvider(b)
}

func (s state) load() (networkLoad, error) {
	b, err := s.kv.Get([]byte{prefixLoad})
	if err != nil || b == nil {
		return networkLoad{}, err
	}
	d := &decoder{buf: b}
	l := networkLoad{Active: d.u64(), Capacity: d.u64()}
	return l, d.finish()
}

func (s state) setLoad(l networkLoad) error {
	e := &encoder{}
	e.u64(l.Active)
	e.u64(l.Capacity)
	return s.kv.Set([]byte{prefixLoad}, e.buf)
}

func (s state) addLoad(active, capacity int64) error {
	l, err := s.load()
	if err != nil {
		return err
	}
	l.Active = uint64(int64(l.Active) + active)
	l.Capacity = uint64(int64(l.Capacity) + capacity)
	return s.setLoad(l)
}
